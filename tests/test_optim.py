"""Optimisers and the schedule."""

import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from laser.train.optim import make_optimizer, schedule


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


def test_weight_decay_mask_matrices_skips_vectors_and_clipping_bounds_the_norm():
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
    clipped, _ = make_optimizer(_config("lamb", grad_clip=1.0), 100)
    big = {"scale": jnp.full(3, 1e6), "kernel": jnp.full((2, 2), 1e6)}
    st = clipped.init(params)
    assert np.all(np.isfinite(np.asarray(optax.global_norm(clipped.update(big, st, params)[0]))))
