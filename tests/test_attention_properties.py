"""Property tests over shapes, masks and value spreads, and the trick's underflow."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import laser
from tests import reference as ref

ATTENTION = ref.jitted_attention()
SETTINGS = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


@st.composite
def problems(draw):
    B = draw(st.integers(1, 2))
    T = draw(st.integers(1, 24))
    cross = draw(st.booleans())
    S = draw(st.integers(1, 24)) if cross else T
    K = draw(st.sampled_from([1, 2]))
    N = K * draw(st.sampled_from([1, 2]))
    H = draw(st.integers(1, 6))
    masking = draw(st.sampled_from(["none", "causal", "kv_lens", "random"]))
    spread = draw(st.floats(1e-2, 1e4))
    block = draw(st.sampled_from([3, 8, 64]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(B, T, N, H))
    k = rng.normal(size=(B, S, K, H))
    v = rng.uniform(-0.5, 0.5, size=(B, S, K, H)) * spread
    kw, vis_kw = {}, {}
    if masking == "causal":
        kw["is_causal"] = vis_kw["is_causal"] = True
    elif masking == "kv_lens":
        lens = rng.integers(0, S + 1, size=B)
        kw["key_value_seq_lengths"] = jnp.asarray(lens)
        vis_kw["kv_lens"] = lens
    elif masking == "random":
        mask = rng.random((B, N, T, S)) < 0.5
        kw["mask"] = jnp.asarray(mask)
        vis_kw["mask"] = mask
    vis = ref.visible_mask(B, N, T, S, **vis_kw)
    return (q, k, v), kw, vis, block, spread


@SETTINGS
@given(problems())
def test_laser_exact_is_finite_and_accurate_for_any_spread(problem):
    (q, k, v), kw, vis, block, spread = problem
    f32 = [jnp.asarray(x, jnp.float32) for x in (q, k, v)]
    out = ATTENTION(*f32, kind="laser_exact", block_size=block, **kw)
    expected = ref.laser_lse(*f32, vis=vis)  # float64, on the same float32 inputs
    assert np.all(np.isfinite(np.asarray(out)))
    assert ref.rel_err(out, expected) < 1e-5 or np.max(np.abs(out - expected)) < 1e-5
    grads = jax.grad(
        lambda q, k, v: ATTENTION(q, k, v, kind="laser_exact", block_size=block, **kw).sum(),
        argnums=(0, 1, 2),
    )(*f32)
    assert all(np.all(np.isfinite(np.asarray(g))) for g in grads)


@SETTINGS
@given(problems())
def test_laser_trick_is_accurate_or_marks_underflow_with_minus_inf(problem):
    (q, k, v), kw, vis, _, _ = problem
    f32 = [jnp.asarray(x, jnp.float32) for x in (q, k, v)]
    out = np.asarray(ATTENTION(*f32, kind="laser", **kw))
    expected = ref.laser_lse(*f32, vis=vis)
    assert not np.any(np.isnan(out)) and not np.any(out == np.inf)
    finite = np.isfinite(out)
    scale = 1.0 + np.abs(expected)
    assert np.all(np.abs(out - expected)[finite] <= 1e-5 * scale[finite] + 1e-4 * np.abs(v).max())


def test_trick_underflows_under_a_causal_mask_and_exact_does_not():
    # The pitfall of the paper's column max: key 0's values sit 100 below a later key's, so the
    # first query (which sees only key 0) gets exp(-100) -> 0 in float32 and log(0) = -inf.
    T, H = 4, 2
    q = jnp.zeros((1, T, 1, H))
    k = jnp.zeros((1, T, 1, H))
    v = jnp.zeros((1, T, 1, H)).at[0, 3].set(100.0)
    trick = laser.dot_product_attention(q, k, v, kind="laser", is_causal=True)
    exact = laser.dot_product_attention(q, k, v, kind="laser_exact", is_causal=True)
    assert np.all(np.isneginf(np.asarray(trick[0, 0])))
    np.testing.assert_allclose(exact[0, :3], 0.0, atol=1e-6)  # log(mean(exp(0))) = 0
    np.testing.assert_allclose(exact[0, 3], np.log((3 + np.exp(100.0)) / 4), rtol=1e-6)
    # Without the mask the column max is the true one and the trick is fine.
    np.testing.assert_allclose(
        laser.dot_product_attention(q, k, v, kind="laser"),
        laser.dot_product_attention(q, k, v, kind="laser_exact"),
        rtol=1e-6,
    )


def test_fully_masked_rows_give_zeros_and_finite_gradients():
    B, T, N, H = 1, 5, 2, 4
    rng = np.random.default_rng(0)
    q, k, v = (jnp.asarray(rng.normal(size=(B, T, N, H)), jnp.float32) for _ in range(3))
    mask = np.ones((B, N, T, T), bool)
    mask[:, :, 2] = False
    for kind in laser.KINDS:

        def f(q, k, v, kind=kind):
            return laser.dot_product_attention(q, k, v, mask=jnp.asarray(mask), kind=kind)

        out = f(q, k, v)
        np.testing.assert_array_equal(np.asarray(out[:, 2]), 0.0)
        grads = jax.grad(lambda *a, f=f: f(*a).sum(), argnums=(0, 1, 2))(q, k, v)
        for g in grads:
            assert np.all(np.isfinite(np.asarray(g))), kind
        np.testing.assert_array_equal(np.asarray(grads[0][:, 2]), 0.0)
    empty = laser.dot_product_attention(
        q, k, v, kind="laser_exact", key_value_seq_lengths=jnp.array([0])
    )
    np.testing.assert_array_equal(np.asarray(empty), 0.0)
