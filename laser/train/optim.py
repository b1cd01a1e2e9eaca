"""Optimisers and schedules: AdamW, LAMB, AlgoPerf's NAdamW; linear warmup then cosine to zero
(or, with `optim.decay="linear"`, linearly to zero: BERT's and MLPerf's polynomial decay of
power 1).

NAdamW follows AlgoPerf's baseline (../shared/REFERENCE.md): the Nesterov update uses
b1 * mu + (1 - b1) * g, bias-corrected by 1 - b1^t, and weight decay is decoupled and applied to
the parameters it is masked to, before the learning rate.

`optim.update_clip` (AdamW only; 0 = off) is praxis's Adam `clip_threshold`: each tensor's Adam
direction m_hat / (sqrt(v_hat) + eps) is divided by max(1, rms / update_clip) before weight
decay and the learning rate (praxis/optimizers.py sharded_adam; PAX's C4 Adam configs use 1.0).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import optax

from laser.configs import ConfigError

OPTIMIZERS = ("adamw", "lamb", "nadamw")
DECAY_MASKS = ("all", "matrices")
DECAYS = ("cosine", "linear")


def schedule(
    learning_rate: float, warmup_steps: int, total_steps: int, decay: str = "cosine"
) -> optax.Schedule:
    """0 -> learning_rate linearly over warmup_steps, then cosine to 0 at total_steps; or, with
    decay "linear", learning_rate * (1 - step / total_steps) after the warmup."""
    warmup_steps = max(0, min(warmup_steps, total_steps - 1))
    if decay == "linear":
        # As MLPerf's optimization.py: tf polynomial_decay (power 1) over all total_steps from
        # step 0, replaced by the warmup ramp while step < warmup_steps.
        def linear(step):
            step = jnp.asarray(step, jnp.float32)
            warm = learning_rate * step / max(warmup_steps, 1)
            decayed = learning_rate * (1.0 - jnp.minimum(step, total_steps) / total_steps)
            return jnp.where(step < warmup_steps, warm, decayed)

        return linear
    return optax.warmup_cosine_decay_schedule(
        0.0, learning_rate, warmup_steps, max(total_steps, warmup_steps + 1), end_value=0.0
    )


class NadamState(NamedTuple):
    count: jax.Array
    mu: optax.Updates
    nu: optax.Updates


def scale_by_nadam(b1: float, b2: float, eps: float = 1e-8) -> optax.GradientTransformation:
    """AlgoPerf's NAdam direction (without learning rate and weight decay)."""

    def init(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return NadamState(jnp.zeros([], jnp.int32), zeros, jax.tree.map(jnp.zeros_like, params))

    def update(updates, state, params=None):
        del params
        mu = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, updates)
        nu = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * jnp.square(g), state.nu, updates)
        mu_nesterov = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, mu, updates)
        count = state.count + 1
        c1 = 1 - b1 ** count.astype(jnp.float32)
        c2 = 1 - b2 ** count.astype(jnp.float32)
        out = jax.tree.map(lambda m, v: (m / c1) / (jnp.sqrt(v / c2) + eps), mu_nesterov, nu)
        return out, NadamState(count, mu, nu)

    return optax.GradientTransformation(init, update)


def clip_update_rms(threshold: float) -> optax.GradientTransformation:
    """Each tensor divided by max(1, rms(tensor) / threshold) (praxis's Adam update capping)."""

    def update(updates, state, params=None):
        del params

        def cap(u):
            rms = jnp.sqrt(jnp.mean(jnp.square(u)))
            return u / jnp.maximum(1.0, rms / threshold)

        return jax.tree.map(cap, updates), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def decay_mask(params, which: str):
    """Which parameters weight decay applies to: all of them, or only matrices (ndim >= 2)."""
    if which == "all":
        return jax.tree.map(lambda _: True, params)
    return jax.tree.map(lambda p: p.ndim >= 2, params)


def make_optimizer(config: ml_collections.ConfigDict, total_steps: int):
    """optax transformation and its schedule from config.optim."""
    c = config
    # AlgoPerf's NAdamW configs (Table 8) name 1 - beta1 and the warmup as a fraction of the step
    # budget; the LM configs name beta1 and warmup steps. A config gives one or the other.
    b1 = 1.0 - c.one_minus_beta1 if "one_minus_beta1" in c else c.b1
    warmup = int(c.warmup_factor * total_steps) if "warmup_factor" in c else c.warmup_steps
    lr = schedule(c.learning_rate, warmup, total_steps, c.get("decay", "cosine"))
    mask = lambda params: decay_mask(params, c.weight_decay_mask)  # noqa: E731
    update_clip = c.get("update_clip", 0.0)
    if update_clip and c.name != "adamw":
        raise ConfigError(f"config optim.update_clip={update_clip}: accepted: 0 unless adamw")
    if c.name == "adamw" and update_clip:  # optax.adamw's chain with praxis's capping inserted
        opt = optax.chain(
            optax.scale_by_adam(b1=b1, b2=c.b2, eps=c.eps),
            clip_update_rms(update_clip),
            optax.add_decayed_weights(c.weight_decay, mask),
            optax.scale_by_learning_rate(lr),
        )
    elif c.name == "adamw":
        opt = optax.adamw(lr, b1=b1, b2=c.b2, eps=c.eps, weight_decay=c.weight_decay, mask=mask)
    elif c.name == "lamb":
        opt = optax.lamb(lr, b1=b1, b2=c.b2, eps=c.eps, weight_decay=c.weight_decay, mask=mask)
    else:  # nadamw
        opt = optax.chain(
            scale_by_nadam(b1, c.b2, c.eps),
            optax.add_decayed_weights(c.weight_decay, mask),
            optax.scale_by_learning_rate(lr),
        )
    if c.grad_clip > 0:
        opt = optax.chain(optax.clip_by_global_norm(c.grad_clip), opt)
    return opt, lr
