"""The exact float64 reference of attention, written straight from the definitions.

This is the one reference implementation of the suite: the attention tests
(tests/test_attention_*.py, through tests/reference.py) and the Appendix A.5 study
(experiments/appendix_a5/run.py) both compare laser.dot_product_attention with it. It uses NumPy
only, in float64, one dense [batch, heads, q_len, kv_len] matrix at a time: slow and simple on
purpose, nothing shared with the kernels it checks.

LASER:   O = log(softmax(Q K^T * scale + bias + M) exp(V))
softmax: O = softmax(Q K^T * scale + bias + M) V
M is 0 where visible and -inf elsewhere; rows that see nothing are defined as 0 (the suite's
convention). `laser_lse` is the same LASER function as one logsumexp per (row, feature),
log sum_s exp(l_is + v_sj) - log sum_s exp(l_is), which float64 can evaluate for any value
spread (exp(V) itself overflows float64 beyond ~709).

Shapes follow laser.dot_product_attention: q [B, T, N, H], k [B, S, K, H] and v [B, S, K, Hv]
with K dividing N (grouped-query attention repeats each key/value head N / K times) and any
value width Hv; outputs [B, T, N, Hv]. `diff_attention` is the Differential Transformer's
difference of two such maps (Ye et al. 2024; LASER paper §4.4).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def visible_mask(B, N, T, S, *, mask=None, is_causal=False, kv_lens=None, q_lens=None):
    """Bool [B, N, T, S]: which keys each query may see, with jax.nn.dot_product_attention's
    conventions (causal: key s visible to query t iff s <= t; lengths hide positions >= len)."""
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


def attention(q, k, v, *, kind: str, vis, scale=None, bias=None, xp: Any = np):
    """softmax (kind="softmax") or LASER (any other kind) attention from the definition.

    With the default xp=numpy the inputs are taken in float64. `xp` may be another array
    namespace with NumPy's functions (the tests pass jax.numpy, under jax.enable_x64, to
    differentiate the same definition); this module itself imports NumPy only.
    """
    kind = "softmax" if kind == "softmax" else "laser"
    return outputs(q, k, v, kinds=(kind,), vis=vis, scale=scale, bias=bias, xp=xp)[kind]


def outputs(q, k, v, *, kinds=("softmax", "laser"), vis, scale=None, bias=None, xp: Any = np):
    """{kind: output} for kinds "softmax" and/or "laser", sharing one attention matrix (what
    Appendix A.5 needs per triple: both references at the cost of one)."""
    if xp is np:
        q, k, v = (np.asarray(x, np.float64) for x in (q, k, v))
    H = q.shape[-1]
    scale = 1.0 / np.sqrt(H) if scale is None else scale
    N, K = q.shape[2], k.shape[2]
    v = xp.swapaxes(xp.repeat(v, N // K, axis=2), 1, 2)  # [B, N, S, H]
    rows = vis.any(-1)  # [B, N, T]
    logits = _logits(xp, q, k, scale, bias, vis)
    p = _softmax(xp, xp.where(rows[..., None], logits, 0.0))  # [B, N, T, S]
    visible = xp.swapaxes(rows, 1, 2)[..., None]  # [B, T, N, 1]
    out = {}
    for kind in kinds:
        # Batched matmul (BLAS) rather than einsum, which NumPy runs without BLAS here.
        o = xp.swapaxes(p @ (v if kind == "softmax" else xp.exp(v)), 1, 2)  # [B, T, N, H]
        out[kind] = xp.where(visible, o if kind == "softmax" else xp.log(o), 0.0)
    return out


def diff_attention(q1, k1, q2, k2, v, lam, *, kind: str, vis, scale=None, xp: Any = np):
    """Differential attention from the definition, one map at a time:
    A(q1, k1, v) - lam * A(q2, k2, v), with A softmax attention (kind="softmax") or LASER
    attention (any other kind: log(softmax(q k^T) exp(v))). lam: a scalar or one per head [N]."""
    a = attention(q1, k1, v, kind=kind, vis=vis, scale=scale, xp=xp)
    b = attention(q2, k2, v, kind=kind, vis=vis, scale=scale, xp=xp)
    lam = xp.asarray(lam, dtype=a.dtype)
    return a - (lam[:, None] if lam.ndim == 1 else lam) * b


def laser_lse(q, k, v, *, vis, scale=None, bias=None):
    """LASER in float64 for any value spread (no exp(V) is ever formed)."""
    q, k, v = (np.asarray(x, np.float64) for x in (q, k, v))
    H = q.shape[-1]
    scale = 1.0 / np.sqrt(H) if scale is None else scale
    N, K = q.shape[2], k.shape[2]
    v = np.repeat(v, N // K, axis=2)
    logits = _logits(np, q, k, scale, bias, vis)  # [B, N, T, S]
    rows = vis.any(-1)
    x = logits[..., None] + np.swapaxes(v, 1, 2)[:, :, None, :, :]  # [B, N, T, S, H]
    with np.errstate(invalid="ignore", divide="ignore"):
        a = _lse(x, axis=3)
        z = _lse(logits, axis=3)[..., None]
        out = np.where(rows[..., None], a - z, 0.0)
    return np.swapaxes(out, 1, 2)


def rel_err(a, b) -> float:
    """||a - b||_F / ||b||_F in float64 (Appendix A.5's reconstruction error)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def _logits(xp, q, k, scale, bias, vis):
    N, K = q.shape[2], k.shape[2]
    k = xp.repeat(k, N // K, axis=2)
    logits = (xp.swapaxes(q, 1, 2) @ xp.transpose(k, (0, 2, 3, 1))) * scale  # [B, N, T, S]
    if bias is not None:
        logits = logits + bias
    return xp.where(vis, logits, -xp.inf)


def _lse(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return np.squeeze(m, axis) + np.log(np.sum(np.exp(x - m), axis=axis))


def _softmax(xp, x):
    m = xp.max(x, axis=-1, keepdims=True)
    e = xp.exp(x - xp.where(xp.isfinite(m), m, 0.0))
    return e / e.sum(-1, keepdims=True)
