"""A float64 reference for attention, written straight from the definitions.

LASER:   O = log(softmax(Q K^T * scale + bias + M) exp(V))
softmax: O = softmax(Q K^T * scale + bias + M) V
M is 0 where visible and -inf elsewhere; rows that see nothing are defined as 0 (the suite's
convention). `laser_lse` is the same LASER function as one logsumexp per (row, feature),
log sum_s exp(l_is + v_sj) - log sum_s exp(l_is), which float64 can evaluate for any value
spread (exp(V) itself overflows float64 beyond ~709).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def visible_mask(B, N, T, S, *, mask=None, is_causal=False, kv_lens=None, q_lens=None):
    vis = np.ones((B, N, T, S), bool)
    if mask is not None:
        vis &= np.broadcast_to(np.asarray(mask), (B, N, T, S))
    if is_causal:
        vis &= np.tril(np.ones((T, S), bool))[None, None]
    if kv_lens is not None:
        vis &= (np.arange(S)[None, :] < np.asarray(kv_lens)[:, None])[:, None, None, :]
    if q_lens is not None:
        vis &= (np.arange(T)[None, :] < np.asarray(q_lens)[:, None])[:, None, :, None]
    return vis


def _logits(xp, q, k, scale, bias, vis):
    N, K = q.shape[2], k.shape[2]
    k = xp.repeat(k, N // K, axis=2)
    logits = xp.einsum("btnh,bsnh->bnts", q, k) * scale
    if bias is not None:
        logits = logits + bias
    return xp.where(vis, logits, -xp.inf)


def attention(q, k, v, *, kind, vis, scale=None, bias=None, xp=jnp):
    """Direct definition; differentiable when xp is jax.numpy (use under jax.enable_x64)."""
    H = q.shape[-1]
    scale = 1.0 / np.sqrt(H) if scale is None else scale
    N, K = q.shape[2], k.shape[2]
    v = xp.repeat(v, N // K, axis=2)
    rows = vis.any(-1)  # [B, N, T]
    logits = _logits(xp, q, k, scale, bias, vis)
    logits = xp.where(rows[..., None], logits, 0.0)
    p = jax.nn.softmax(logits, axis=-1) if xp is jnp else _np_softmax(logits)
    if kind == "softmax":
        out = xp.einsum("bnts,bsnh->btnh", p, v)
    else:
        out = xp.log(xp.einsum("bnts,bsnh->btnh", p, xp.exp(v)))
    return xp.where(xp.swapaxes(rows, 1, 2)[..., None], out, 0.0)


def laser_lse(q, k, v, *, vis, scale=None, bias=None):
    """LASER in float64 numpy for any value spread."""
    q, k, v = (np.asarray(x, np.float64) for x in (q, k, v))
    H = q.shape[-1]
    scale = 1.0 / np.sqrt(H) if scale is None else scale
    N, K = q.shape[2], k.shape[2]
    v = np.repeat(v, N // K, axis=2)
    logits = _logits(np, q, k, scale, bias, vis)  # [B, N, T, S]
    rows = vis.any(-1)
    x = logits[..., None] + np.swapaxes(v, 1, 2)[:, :, None, :, :]  # [B, N, T, S, H]
    with np.errstate(invalid="ignore", divide="ignore"):
        a = _np_lse(x, axis=3)
        z = _np_lse(logits, axis=3)[..., None]
        out = np.where(rows[..., None], a - z, 0.0)
    return np.swapaxes(out, 1, 2)


def _np_lse(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return np.squeeze(m, axis) + np.log(np.sum(np.exp(x - m), axis=axis))


def _np_softmax(x):
    m = np.max(x, axis=-1, keepdims=True)
    e = np.exp(x - np.where(np.isfinite(m), m, 0.0))
    return e / e.sum(-1, keepdims=True)


def rel_err(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def jitted_attention():
    """laser.dot_product_attention under jit (one compile per shape is faster than eager ops)."""
    import laser

    return jax.jit(
        laser.dot_product_attention,
        static_argnames=("kind", "is_causal", "block_size", "scale", "temperature", "qk_norm"),
    )
