"""laser.dot_product_attention against the float64 definition: outputs and gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import laser
from tests import reference as ref

KINDS = ["softmax", "laser", "laser_exact"]
ATTENTION = ref.jitted_attention()

# (name, B, T, S, N, K, H, masking)
CASES = [
    ("plain", 2, 24, 24, 4, 4, 16, {}),
    ("causal", 2, 33, 33, 4, 4, 16, {"is_causal": True}),
    ("padding", 2, 20, 20, 2, 2, 8, {"kv_lens": [13, 20], "q_lens": [20, 9]}),
    ("cross", 2, 7, 29, 4, 4, 8, {"kv_lens": [29, 11]}),
    ("gqa_causal", 1, 40, 40, 8, 2, 8, {"is_causal": True}),
    ("mask", 2, 16, 16, 2, 1, 8, {"mask": "random"}),
]


def _inputs(B, T, S, N, K, H, masking, seed=0, v_scale=2.0):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(B, T, N, H))
    k = rng.normal(size=(B, S, K, H))
    v = rng.normal(size=(B, S, K, H)) * v_scale
    kw, vis_kw = {}, {}
    if masking.get("is_causal"):
        kw["is_causal"] = vis_kw["is_causal"] = True
    if "kv_lens" in masking:
        kw["key_value_seq_lengths"] = jnp.asarray(masking["kv_lens"])
        vis_kw["kv_lens"] = masking["kv_lens"]
    if "q_lens" in masking:
        kw["query_seq_lengths"] = jnp.asarray(masking["q_lens"])
        vis_kw["q_lens"] = masking["q_lens"]
    if masking.get("mask") == "random":
        mask = rng.random((B, 1, T, S)) < 0.6
        mask[0, 0, 3] = False  # one fully masked row
        kw["mask"] = jnp.asarray(mask)
        vis_kw["mask"] = mask
    vis = ref.visible_mask(B, N, T, S, **vis_kw)
    return (q, k, v), kw, vis


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_float32_outputs_and_gradients_match_float64(kind, case):
    _, B, T, S, N, K, H, masking = case
    (q, k, v), kw, vis = _inputs(B, T, S, N, K, H, masking)
    rng = np.random.default_rng(1)
    cot = rng.normal(size=(B, T, N, H))

    def ours(q, k, v):
        out = ATTENTION(q, k, v, kind=kind, block_size=8, **kw)
        return jnp.sum(out * cot), out

    grads, out = jax.grad(ours, argnums=(0, 1, 2), has_aux=True)(
        *(jnp.asarray(x, jnp.float32) for x in (q, k, v))
    )
    ref_kind = "softmax" if kind == "softmax" else "laser"
    with jax.enable_x64(True):

        @jax.jit
        def theirs(q, k, v):
            out = ref.attention(q, k, v, kind=ref_kind, vis=jnp.asarray(vis))
            return jnp.sum(out * cot), out

        ref_grads, ref_out = jax.grad(theirs, argnums=(0, 1, 2), has_aux=True)(
            *(jnp.asarray(x, jnp.float64) for x in (q, k, v))
        )
        ref_grads = [np.asarray(g) for g in ref_grads]
        ref_out = np.asarray(ref_out)
    assert ref.rel_err(out, ref_out) < 1e-5
    for name, g, rg in zip("qkv", grads, ref_grads, strict=True):
        assert np.all(np.isfinite(np.asarray(g))), name
        assert ref.rel_err(g, rg) < 1e-5, name


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", CASES[1:3], ids=[c[0] for c in CASES[1:3]])
def test_bfloat16_within_1e2(kind, case):
    _, B, T, S, N, K, H, masking = case
    (q, k, v), kw, vis = _inputs(B, T, S, N, K, H, masking)
    out = laser.dot_product_attention(
        *(jnp.asarray(x, jnp.bfloat16) for x in (q, k, v)), kind=kind, block_size=8, **kw
    )
    assert out.dtype == jnp.bfloat16
    ref_out = ref.attention(
        q, k, v, kind="softmax" if kind == "softmax" else "laser", vis=vis, xp=np
    )
    assert ref.rel_err(out.astype(jnp.float32), ref_out) < 1e-2


def test_unbatched_inputs_like_jax():
    (q, k, v), _, _ = _inputs(1, 6, 6, 2, 2, 4, {})
    q, k, v = (jnp.asarray(x[0], jnp.float32) for x in (q, k, v))
    for kind in KINDS:
        out = laser.dot_product_attention(q, k, v, kind=kind, is_causal=True)
        full = laser.dot_product_attention(q[None], k[None], v[None], kind=kind, is_causal=True)
        assert out.shape == q.shape
        np.testing.assert_allclose(out, full[0], rtol=1e-6)


def test_softmax_kind_is_jax_attention():
    (q, k, v), _, _ = _inputs(2, 12, 12, 4, 2, 8, {})
    q, k, v = (jnp.asarray(x, jnp.float32) for x in (q, k, v))
    ours = laser.dot_product_attention(q, k, v, kind="softmax", is_causal=True)
    theirs = jax.nn.dot_product_attention(q, k, v, is_causal=True)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
