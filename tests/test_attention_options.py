"""Baseline options (temperature, per-dim scale, QK-norm), diff attention, and input errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import laser
from tests import reference as ref

RNG = np.random.default_rng(0)
Q, K, V = (jnp.asarray(RNG.normal(size=(2, 9, 4, 8)), jnp.float32) for _ in range(3))


@pytest.mark.parametrize("kind", laser.KINDS)
def test_temperature_divides_the_logits(kind):
    ours = laser.dot_product_attention(Q, K, V, kind=kind, temperature=2.5, is_causal=True)
    same = laser.dot_product_attention(
        Q, K, V, kind=kind, scale=1 / (2.5 * np.sqrt(8)), is_causal=True
    )
    np.testing.assert_allclose(ours, same, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", laser.KINDS)
def test_per_dim_scale_is_identity_at_zero_and_scales_queries(kind):
    plain = laser.dot_product_attention(Q, K, V, kind=kind)
    at_zero = laser.dot_product_attention(Q, K, V, kind=kind, per_dim_scale=jnp.zeros(8))
    np.testing.assert_allclose(at_zero, plain, rtol=1e-5, atol=1e-6)
    p = jnp.linspace(-1.0, 1.0, 8)
    scaled = laser.dot_product_attention(Q, K, V, kind=kind, per_dim_scale=p)
    manual = laser.dot_product_attention(Q * jax.nn.softplus(p) * 1.442695041, K, V, kind=kind)
    np.testing.assert_allclose(scaled, manual, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", laser.KINDS)
def test_qk_norm_normalises_queries_and_keys(kind):
    def ln(x):
        x = np.asarray(x, np.float64)
        return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-6)

    ours = laser.dot_product_attention(Q * 3 + 1, K - 2, V, kind=kind, qk_norm=True)
    vis = ref.visible_mask(2, 4, 9, 9)
    expected = ref.attention(
        ln(Q * 3 + 1),
        ln(K - 2),
        np.asarray(V, np.float64),
        vis=vis,
        xp=np,
        kind="softmax" if kind == "softmax" else "laser",
    )
    assert ref.rel_err(ours, expected) < 1e-5


@pytest.mark.parametrize("kind", laser.KINDS)
def test_diff_attention_is_the_difference_of_two_maps(kind):
    q2, k2 = Q[..., ::-1], K * 0.5
    lam = jnp.array([0.1, 0.2, 0.3, 0.4])
    out = laser.diff_attention(Q, K, q2, k2, V, lam, kind=kind, is_causal=True)
    a = laser.dot_product_attention(Q, K, V, kind=kind, is_causal=True)
    b = laser.dot_product_attention(q2, k2, V, kind=kind, is_causal=True)
    np.testing.assert_allclose(out, a - lam[:, None] * b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(laser.lambda_init(0), 0.2)  # 0-based layer index
    with pytest.raises(ValueError, match="lam"):
        laser.diff_attention(Q, K, q2, k2, V, jnp.ones(3), kind=kind)


BAD = [
    (dict(kind="flash"), "kind: got 'flash'; accepted: 'softmax', 'laser', 'laser_exact'"),
    (dict(key=K[:, :, :3], value=V[:, :, :3]), "key: got 3 heads for 4 query heads"),
    (dict(value=V[:, :5]), "value: got shape"),
    (dict(key=K[..., :4]), "key: got shape"),
    (dict(query=Q[0, 0]), "query: got shape"),
    (dict(value=V.astype(jnp.bfloat16)), "query/key/value: got dtypes"),
    (dict(mask=jnp.ones((2, 4, 9, 8), bool)), "mask: got shape"),
    (dict(mask=jnp.ones((9, 9))), "mask: got dtype float32; accepted: bool"),
    (dict(bias=jnp.ones((3, 1, 9, 9))), "bias: got shape"),
    (dict(per_dim_scale=jnp.zeros(7)), r"per_dim_scale: got shape \(7,\); accepted: \(8,\)"),
    (dict(temperature=0.0), "temperature: got 0.0"),
    (dict(kind="laser_exact", implementation="cudnn"), "implementation: got 'cudnn'"),
    (dict(implementation="triton"), "implementation: got 'triton'"),
    (dict(block_size=0), "block_size: got 0"),
    (dict(key_value_seq_lengths=jnp.array([3])), "key_value_seq_lengths: got shape"),
    (dict(local_window_size=(1, -2)), "local_window_size: got"),
    (dict(dropout_rate=0.1), "dropout_rng: got None"),
]


@pytest.mark.parametrize(
    "override,message", BAD, ids=[m.split(":")[0] + str(i) for i, (_, m) in enumerate(BAD)]
)
def test_bad_input_names_the_argument(override, message):
    args = dict(query=Q, key=K, value=V)
    args.update(override)
    with pytest.raises(ValueError, match=message):
        laser.dot_product_attention(**args)


def test_local_window_matches_jax():
    for kind in ("softmax", "laser", "laser_exact"):
        out = laser.dot_product_attention(Q, K, V, kind=kind, local_window_size=(2, 0))
        mask = np.zeros((9, 9), bool)
        for t in range(9):
            mask[t, max(0, t - 2) : t + 1] = True
        same = laser.dot_product_attention(Q, K, V, kind=kind, mask=jnp.asarray(mask))
        np.testing.assert_allclose(out, same, rtol=1e-5, atol=1e-6)
