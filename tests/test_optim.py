"""Optimisers and the schedule."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from laser.train.optim import OPTIMIZERS, make_optimizer, schedule


def test_warmup_then_cosine_to_zero():
    lr = schedule(1.0, 10, 110)
    assert float(lr(0)) == 0.0
    np.testing.assert_allclose(float(lr(5)), 0.5)
    np.testing.assert_allclose(float(lr(10)), 1.0)
    np.testing.assert_allclose(float(lr(60)), 0.5, atol=1e-6)
    np.testing.assert_allclose(float(lr(110)), 0.0, atol=1e-7)


def _config(name, **kw):
    base = dict(
        name=name,
        learning_rate=0.1,
        warmup_steps=0,
        b1=0.9,
        b2=0.99,
        eps=1e-8,
        weight_decay=0.0,
        weight_decay_mask="all",
        grad_clip=0.0,
    )
    base.update(kw)
    return ml_collections.ConfigDict(base)


def test_nadamw_is_algoperf_nesterov_adam():
    opt, _ = make_optimizer(_config("nadamw", weight_decay=0.5, warmup_steps=0), 10**9)
    p = {"w": jnp.array([1.0, -2.0])}
    state = opt.init(p)
    g1, g2 = jnp.array([0.5, 1.0]), jnp.array([-1.0, 2.0])
    b1, b2, eps, lr, wd = 0.9, 0.99, 1e-8, 0.1, 0.5
    mu = nu = np.zeros(2)
    w = np.array([1.0, -2.0])
    for t, g in enumerate((g1, g2), start=1):
        updates, state = opt.update({"w": g}, state, {"w": jnp.asarray(w)})
        g = np.asarray(g)
        mu, nu = b1 * mu + (1 - b1) * g, b2 * nu + (1 - b2) * g**2
        m_hat = (b1 * mu + (1 - b1) * g) / (1 - b1**t)
        step = m_hat / (np.sqrt(nu / (1 - b2**t)) + eps) + wd * w
        lr_t = float(schedule(lr, 0, 10**9)(t - 1))
        np.testing.assert_allclose(updates["w"], -lr_t * step, rtol=1e-5)
        w = w + np.asarray(updates["w"])


def test_weight_decay_mask_matrices_skips_vectors():
    opt, _ = make_optimizer(
        _config("adamw", weight_decay=1.0, weight_decay_mask="matrices", learning_rate=1.0), 100
    )
    params = {"scale": jnp.ones(3), "kernel": jnp.ones((2, 2))}
    zeros = {"scale": jnp.zeros(3), "kernel": jnp.zeros((2, 2))}
    state = opt.init(params)
    for _ in range(2):
        updates, state = opt.update(zeros, state, params)
    assert float(jnp.abs(updates["scale"]).max()) == 0.0
    assert float(jnp.abs(updates["kernel"]).max()) > 0.0


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_grad_clip_scales_the_gradient_to_the_global_norm(name):
    params = {"scale": jnp.ones(3), "kernel": jnp.ones((2, 2))}
    big = {"scale": jnp.array([3.0, 0.0, 0.0]), "kernel": jnp.array([[0.0, 4.0], [0.0, 0.0]])}
    small = jax.tree.map(lambda g: -0.1 * g, big)  # global norm 0.5: under the clip
    assert float(optax.global_norm(big)) == 5.0
    clipped, _ = make_optimizer(_config(name, grad_clip=1.0, weight_decay=0.1), 100)
    plain, _ = make_optimizer(_config(name, grad_clip=0.0, weight_decay=0.1), 100)
    c_state, p_state = clipped.init(params), plain.init(params)
    # The clipped optimiser makes the updates the plain one makes for big / 5 (global norm 1.0,
    # the clip), then for `small` unchanged.
    for step, (g, seen) in enumerate([(big, jax.tree.map(lambda x: x / 5, big)), (small, small)]):
        c_up, c_state = clipped.update(g, c_state, params)
        p_up, p_state = plain.update(seen, p_state, params)
        for a, b in zip(jax.tree.leaves(c_up), jax.tree.leaves(p_up), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
        if step == 0:  # the first moment (1 - b1) * gradient holds the clipped gradient
            mu = optax.tree_utils.tree_get(c_state, "mu")
            np.testing.assert_allclose(float(optax.global_norm(mu)), 0.1 * 1.0, rtol=1e-5)
            np.testing.assert_allclose(mu["kernel"], 0.1 * np.asarray(big["kernel"]) / 5, 1e-5)
    # Without grad_clip the gradient reaches the optimiser as it is.
    _, state = plain.update(big, plain.init(params), params)
    mu = optax.tree_utils.tree_get(state, "mu")
    np.testing.assert_allclose(float(optax.global_norm(mu)), 0.1 * 5.0, rtol=1e-5)
