"""The float64 attention reference for the tests: laser/reference.py (the one implementation,
shared with the Appendix A.5 study), with jax.numpy as the default array namespace of
`attention` so tests can differentiate it under jax.enable_x64, and a jitted kernel to test.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from laser import reference
from laser.reference import laser_lse, rel_err, visible_mask

__all__ = ["attention", "jitted_attention", "laser_lse", "rel_err", "visible_mask"]


def attention(q, k, v, *, kind, vis, scale=None, bias=None, xp=jnp):
    """laser.reference.attention, on jax.numpy unless told otherwise (xp=np)."""
    return reference.attention(q, k, v, kind=kind, vis=vis, scale=scale, bias=bias, xp=xp)


def jitted_attention():
    """laser.dot_product_attention under jit (one compile per shape is faster than eager ops)."""
    import laser

    return jax.jit(
        laser.dot_product_attention,
        static_argnames=("kind", "is_causal", "block_size", "scale", "temperature", "qk_norm"),
    )
