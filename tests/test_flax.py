"""LASER as a one-argument change in Flax: adapters and the suite's own module."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import laser
from laser.nn import AttentionConfig, MultiHeadAttention

X = jnp.asarray(np.random.default_rng(0).normal(size=(2, 7, 16)), jnp.float32)
CAUSAL = nn.make_causal_mask(jnp.ones((2, 7)))  # [2, 1, 7, 7]


def _projected(params, x, module_name_q="query", module_name_k="key", module_name_v="value"):
    def proj(name):
        kernel = params[name]["kernel"]
        out = jnp.einsum("btd,dnh->btnh", x, kernel)
        return out + params[name]["bias"] if "bias" in params[name] else out

    return proj(module_name_q), proj(module_name_k), proj(module_name_v)


@pytest.mark.parametrize("kind", laser.KINDS)
def test_linen_attention_fn_gives_the_functional_output(kind):
    module = nn.MultiHeadDotProductAttention(
        num_heads=2, qkv_features=8, attention_fn=laser.flax_attention_fn(kind)
    )
    params = module.init(jax.random.key(0), X, mask=CAUSAL)["params"]
    out = module.apply({"params": params}, X, mask=CAUSAL)
    q, k, v = _projected(params, X)
    attn = laser.dot_product_attention(q, k, v, mask=CAUSAL.astype(bool), kind=kind)
    expected = jnp.einsum("btnh,nhd->btd", attn, params["out"]["kernel"]) + params["out"]["bias"]
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    if kind == "softmax":  # and the softmax kind is Flax's own attention
        flax_own = nn.MultiHeadDotProductAttention(num_heads=2, qkv_features=8)
        np.testing.assert_allclose(
            flax_own.apply({"params": params}, X, mask=CAUSAL), out, rtol=1e-5, atol=1e-5
        )


@pytest.mark.parametrize("kind", laser.KINDS)
def test_nnx_attention_fn_gives_the_functional_output(kind):
    module = nnx.MultiHeadAttention(
        num_heads=2,
        in_features=16,
        qkv_features=8,
        decode=False,
        attention_fn=laser.nnx_attention_fn(kind),
        rngs=nnx.Rngs(0),
    )
    out = module(X, mask=CAUSAL)
    q, k, v = (
        jnp.einsum("btd,dnh->btnh", X, m.kernel[...]) + m.bias[...]
        for m in (module.query, module.key, module.value)
    )
    attn = laser.dot_product_attention(q, k, v, mask=CAUSAL.astype(bool), kind=kind)
    expected = jnp.einsum("btnh,nhd->btd", attn, module.out.kernel[...]) + module.out.bias[...]
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_attention_fn_dropout_follows_flax_semantics():
    fn = laser.flax_attention_fn("laser")
    q, k, v = (X.reshape(2, 7, 2, 8),) * 3
    det = fn(q, k, v, dropout_rate=0.5, deterministic=True)
    np.testing.assert_allclose(det, laser.dot_product_attention(q, k, v, kind="laser"), rtol=1e-6)
    a = fn(q, k, v, dropout_rate=0.5, dropout_rng=jax.random.key(1), deterministic=False)
    b = fn(q, k, v, dropout_rate=0.5, dropout_rng=jax.random.key(2), deterministic=False)
    assert np.all(np.isfinite(np.asarray(a))) and not np.allclose(a, b)


@pytest.mark.parametrize("kind", laser.KINDS)
def test_suite_module_matches_the_functional_api(kind):
    module = MultiHeadAttention(
        num_heads=4, head_dim=4, num_kv_heads=2, attention=AttentionConfig(kind=kind)
    )
    params = nn.unbox(module.init(jax.random.key(0), X, is_causal=True)["params"])
    assert params["key"]["kernel"].shape == (16, 2, 4)  # grouped-query
    out = module.apply({"params": params}, X, is_causal=True)
    q, k, v = _projected(params, X)
    attn = laser.dot_product_attention(q, k, v, kind=kind, is_causal=True)
    expected = jnp.einsum("btnh,nhd->btd", attn, params["out"]["kernel"])
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_suite_module_options_create_their_parameters():
    plain = MultiHeadAttention(num_heads=2, head_dim=8, attention=AttentionConfig("laser"))
    options = AttentionConfig("laser", per_dim_scale=True, qk_norm=True)
    full = MultiHeadAttention(num_heads=2, head_dim=8, attention=options)
    p_plain = plain.init(jax.random.key(0), X)["params"]
    p_full = full.init(jax.random.key(0), X)["params"]
    assert set(p_full) - set(p_plain) == {"per_dim_scale", "query_norm", "key_norm"}
    # p = 0 and unit LayerNorm scales: per-dim scale is the identity at init.
    per_dim_only = AttentionConfig("laser", per_dim_scale=True)
    per_dim = MultiHeadAttention(num_heads=2, head_dim=8, attention=per_dim_only)
    p_dim = per_dim.init(jax.random.key(0), X)["params"]
    np.testing.assert_allclose(
        per_dim.apply({"params": p_dim}, X), plain.apply({"params": p_plain}, X), rtol=1e-5
    )
    # Kernels carry logical axis names for the trainer's sharding rules.
    boxed = full.init(jax.random.key(0), X)["params"]["query"]["kernel"]
    assert boxed.names == ("embed", "heads", "kv")


def test_attention_config_rejects_bad_values_and_keys_in_one_line():
    with pytest.raises(ValueError, match=r"model.attention.kind='flash': accepted: softmax"):
        AttentionConfig(kind="flash")
    with pytest.raises(ValueError, match=r"model.attention.temperature=0.0: accepted: a number"):
        AttentionConfig(temperature=0.0)
    with pytest.raises(ValueError, match=r"'tempreature' unknown; accepted: kind, temperature"):
        AttentionConfig.from_config({"kind": "laser", "tempreature": 2.0})
    section = AttentionConfig("laser", qk_norm=True).section()
    assert AttentionConfig.from_config(section) == AttentionConfig("laser", qk_norm=True)
