"""Blockwise LASER attention that never underflows: `kind="laser_exact"`.

LASER computes, per query row i and value feature j,

    O_ij = log sum_s p_is exp(v_sj) = logsumexp_s(l_is + v_sj) - logsumexp_s(l_is)

with l the (masked, scaled) logits and p = softmax(l). The paper's trick factorises
exp(l_is + v_sj - r_i - m_j) = exp(l_is - r_i) * exp(v_sj - m_j) with one column max m_j per
call, so that a matrix product does the sum; it returns log(0) = -inf when the terms that matter
for a row underflow (e.g. a causal query whose visible values sit ~87 below a column max set by
keys it cannot see).

This kernel keeps the factorised fast path but makes it safe:
  1. Keys are processed in blocks of `block_size` (a scan, flash-attention style), each with its
     own row max r_ib and column max m_bj, accumulated in log space with a running shift. Memory
     beyond the inputs is O(B * N * T * (block_size + head_dim)).
  2. A certificate bounds what underflow could have lost: every lost term is below float32's
     smallest normal number `tiny`, so the lost mass is below (S + blocks) * tiny relative to the
     running shift. Where the accumulated sum is at least that bound / TOL for every row, the
     result is accurate to a relative mass of TOL (2^-20).
  3. Otherwise (rare in training, common with value spreads in the hundreds under a causal
     mask) the whole call is recomputed by the direct log-space path: the same key blocks, but
     each key folded in as an exact running logsumexp of l_is + v_sj. That path is exact for any
     spread, at the cost of T * S * H exponentials; its memory is O(B * N * T * (block + H)).
The backward pass is written by hand (custom_vjp) so that it also runs block by block and never
stores per-block residuals: it recomputes the weights w_isj = exp(l_is + v_sj - A_ij) from the
saved log-sums A and Z, through the same fast or direct path the forward pass used.

All arithmetic is float32, whatever the input dtype. Inputs here are already prepared by
laser.attention: query scaled, key/value heads expanded to the query heads, layout [B, N, T, H].
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from laser.masks import Visibility

TINY = float(np.finfo(np.float32).tiny)  # smallest normal float32; XLA flushes denormals
TOL = 2.0**-20  # relative mass we accept to lose to underflow before taking the direct path
NEG = -1e30  # finite stand-in for -inf, so that masked arithmetic never makes NaN
_C_CAP = 80.0  # exp(80) is finite in float32; only reached where the weight is zero anyway


def _split_keys(x: jax.Array, axis: int, nb: int, bk: int) -> jax.Array:
    """[..., nb * bk (at `axis`), ...] -> [nb, ..., bk, ...], blocks first for lax.scan."""
    shape = x.shape[:axis] + (nb, bk) + x.shape[axis + 1 :]
    return jnp.moveaxis(x.reshape(shape), axis, 0)


def _pad_keys(x: jax.Array, axis: int, pad: int) -> jax.Array:
    widths = [(0, 0)] * x.ndim
    widths[axis] = (0, pad)
    return jnp.pad(x, widths)


def _slice_keys(x: jax.Array | None, start: jax.Array, size: int) -> jax.Array | None:
    """Keys [start, start + size) of a 4-D [.., .., .., S|1] bias; None and size-1 stay."""
    if x is None or x.shape[-1] == 1:
        return x
    return jax.lax.dynamic_slice_in_dim(x, start, size, axis=3)


def _logits(q, kb, bias, vis: Visibility, start, bk):
    """Logits of one key block [B,N,T,bk], NEG where invisible, and the visibility (or None)."""
    logits = jnp.einsum("bnth,bnsh->bnts", q, kb)
    b = _slice_keys(bias, start, bk)
    if b is not None:
        logits = logits + b
    visible = vis.block(start, bk)
    if visible is not None:
        logits = jnp.where(visible, logits, NEG)
    return logits, visible


def _tile(q, kb, vb, bias, vis: Visibility, start, bk):
    """Everything the fast path needs about one key block.

    Returns logits [B,N,T,bk] (NEG where invisible), visible (bool or None), row max r
    [B,N,T,1] (NEG if the row sees nothing in the block), P = exp(l - r) masked, column max m
    [B,N,1,H] over the block's keys that some query sees, E = exp(v - m) masked.
    """
    logits, visible = _logits(q, kb, bias, vis, start, bk)
    r = jnp.max(logits, axis=-1, keepdims=True)
    p = jnp.exp(logits - r)
    if visible is not None:
        p = jnp.where(visible, p, 0.0)
        key_ok = jnp.any(visible, axis=2)[..., None]  # [B|1, N|1, bk, 1]
        m = jnp.max(jnp.where(key_ok, vb, NEG), axis=2, keepdims=True)
        e = jnp.where(key_ok, jnp.exp(jnp.minimum(vb - m, 0.0)), 0.0)
    else:
        m = jnp.max(vb, axis=2, keepdims=True)
        e = jnp.exp(vb - m)
    return logits, visible, r, p, m, e


def _forward_fast(q, ks, vs, bias, vis, bk):
    """Factorised blockwise pass. Returns log-sums A [B,N,T,H], Z [B,N,T,1] and the certificate
    (True where the result is accurate to TOL)."""
    B, N, T = q.shape[:3]
    H = vs.shape[-1]  # the value's head width (may differ from the query's)

    def step(carry, xs):
        row_max, z, shift, acc = carry
        kb, vb, i = xs
        _, _, r, p, m, e = _tile(q, kb, vb, bias, vis, i * bk, bk)
        # Row normaliser: the usual online softmax denominator.
        new_row_max = jnp.maximum(row_max, r)
        z = z * jnp.exp(row_max - new_row_max) + p.sum(-1, keepdims=True) * jnp.exp(r - new_row_max)
        # LASER numerator: this block's sum sits at shift r + m; keep a running shift per (i, j).
        s_b = jnp.einsum("bnts,bnsh->bnth", p, e)
        block_shift = r + m
        new_shift = jnp.maximum(shift, block_shift)
        acc = acc * jnp.exp(shift - new_shift) + s_b * jnp.exp(block_shift - new_shift)
        return (new_row_max, z, new_shift, acc), None

    init = (
        jnp.full((B, N, T, 1), NEG, jnp.float32),
        jnp.zeros((B, N, T, 1), jnp.float32),
        jnp.full((B, N, T, H), 2 * NEG, jnp.float32),
        jnp.zeros((B, N, T, H), jnp.float32),
    )
    (row_max, z, shift, acc), _ = jax.lax.scan(step, init, (ks, vs, jnp.arange(ks.shape[0])))
    row_ok = z > 0
    n_keys = ks.shape[0] * (bk + 1)
    certified = (acc >= n_keys * TINY / TOL) | ~row_ok
    a = jnp.log(jnp.where(row_ok, acc, 1.0)) + shift
    zl = jnp.log(jnp.where(row_ok, z, 1.0)) + row_max
    return a, zl, row_ok, jnp.all(certified)


def _forward_direct(q, ks, vs, bias, vis, bk):
    """Exact running logsumexp of l_is + v_sj, one key at a time within each block."""
    B, N, T = q.shape[:3]
    H = vs.shape[-1]

    def block(carry, xs):
        kb, vb, i = xs
        logits, visible = _logits(q, kb, bias, vis, i * bk, bk)

        def key(carry, xs):
            shift, acc = carry
            l_s, v_s = xs  # [B,N,T,1], [B,N,1,H]
            seen = l_s > NEG / 2
            x = jnp.where(seen, l_s + v_s, 2 * NEG)
            new_shift = jnp.maximum(shift, x)
            acc = acc * jnp.exp(shift - new_shift) + jnp.where(seen, jnp.exp(x - new_shift), 0.0)
            return (new_shift, acc), None

        xs = (jnp.moveaxis(logits, -1, 0)[..., None], jnp.moveaxis(vb, 2, 0)[:, :, :, None])
        return jax.lax.scan(key, carry, xs)[0], None

    init = (jnp.full((B, N, T, H), 2 * NEG, jnp.float32), jnp.zeros((B, N, T, H), jnp.float32))
    (shift, acc), _ = jax.lax.scan(block, init, (ks, vs, jnp.arange(ks.shape[0])))
    return jnp.log(acc) + shift


def _prepare(q, k, v, bias, vis, block_size):
    """float32, keys padded to whole blocks and split blocks-first for the scans."""
    S = k.shape[2]
    bk = min(block_size, S)
    nb = -(-S // bk)
    pad = nb * bk - S
    q, k, v = (x.astype(jnp.float32) for x in (q, k, v))
    if bias is not None:
        bias = bias.astype(jnp.float32)
        if bias.shape[-1] != 1 and pad:
            bias = _pad_keys(bias, 3, pad)
    if pad:
        mask = vis.mask
        if mask is not None and mask.shape[-1] != 1:
            mask = _pad_keys(mask, 3, pad)
        vis = dataclasses.replace(vis, mask=mask, key_padding=True)
    ks = _split_keys(_pad_keys(k, 2, pad), 2, nb, bk)  # [nb, B, N, bk, H]
    vs = _split_keys(_pad_keys(v, 2, pad), 2, nb, bk)
    return q, ks, vs, bias, vis, bk


def _forward(q, k, v, bias, vis, block_size):
    qf, ks, vs, bias_f, vis_p, bk = _prepare(q, k, v, bias, vis, block_size)
    a, z, row_ok, certified = _forward_fast(qf, ks, vs, bias_f, vis_p, bk)
    a = jax.lax.cond(
        certified,
        lambda: a,
        lambda: jnp.where(row_ok, _forward_direct(qf, ks, vs, bias_f, vis_p, bk), 0.0),
    )
    out = jnp.where(row_ok, a - z, 0.0)
    return out, (a, z, row_ok, certified)


@functools.partial(jax.custom_vjp, nondiff_argnums=(5,))
def laser_exact(q, k, v, bias, vis: Visibility, block_size: int):
    """LASER attention, exact for any value spread.

    Args:
      q: [B, N, T, H] queries, already multiplied by the logit scale.
      k: [B, N, S, H] keys, v: [B, N, S, Hv] values (heads already matched to the queries;
        Hv may differ from H).
      bias: additive logits bias, 4-D broadcastable to [B, N, T, S], or None.
      vis: masking of the call (laser.masks.Visibility).
      block_size: keys per block.
    Returns:
      [B, N, T, Hv] float32; rows that see no key are zero.
    """
    return _forward(q, k, v, bias, vis, block_size)[0]


def _fwd(q, k, v, bias, vis, block_size):
    out, (a, z, row_ok, certified) = _forward(q, k, v, bias, vis, block_size)
    return out, (q, k, v, bias, vis, a, z, row_ok, certified)


def _bwd(block_size, res, g):
    q, k, v, bias, vis, a, z, row_ok, certified = res
    S = k.shape[2]
    qf, ks, vs, bias_f, vis_p, bk = _prepare(q, k, v, bias, vis, block_size)
    g = jnp.where(row_ok, g.astype(jnp.float32), 0.0)
    g_sum = g.sum(-1, keepdims=True)  # d(-Z)/dl_is = -p_is, times sum_j g_ij

    def fast_block(i, kb, vb):
        logits, visible, r, p_blk, m, e = _tile(qf, kb, vb, bias_f, vis_p, i * bk, bk)
        # w_isj = P_is * E_sj * c_ij with c = exp(r + m - A) <= TOL / ((S + nb) * tiny) when
        # the forward pass was certified, so the products below stay finite.
        c = jnp.exp(jnp.minimum(r + m - a, _C_CAP))
        c = jnp.where(row_ok & (r > NEG / 2), c, 0.0)
        gc = g * c
        dl = p_blk * jnp.einsum("bnth,bnsh->bnts", gc, e)
        dv = e * jnp.einsum("bnts,bnth->bnsh", p_blk, gc)
        return logits, visible, dl, dv

    def direct_block(i, kb, vb):
        logits, visible = _logits(qf, kb, bias_f, vis_p, i * bk, bk)

        def key(_, xs):
            l_s, v_s = xs  # [B,N,T,1], [B,N,1,H]
            w = jnp.exp(jnp.minimum(l_s + v_s - a, 0.0))
            w = jnp.where(l_s > NEG / 2, w, 0.0)
            gw = g * w
            return None, (gw.sum(-1), gw.sum(2))  # dl part [B,N,T], dv [B,N,H]

        xs = (jnp.moveaxis(logits, -1, 0)[..., None], jnp.moveaxis(vb, 2, 0)[:, :, :, None])
        _, (dl, dv) = jax.lax.scan(key, None, xs)
        return logits, visible, jnp.moveaxis(dl, 0, -1), jnp.moveaxis(dv, 0, 2)

    def step(dq, xs):
        kb, vb, i = xs
        logits, visible, dl, dv = jax.lax.cond(certified, fast_block, direct_block, i, kb, vb)
        p = jnp.exp(jnp.minimum(logits - z, 0.0))
        if visible is not None:
            p = jnp.where(visible, p, 0.0)
        dl = dl - p * g_sum
        dq = dq + jnp.einsum("bnts,bnsh->bnth", dl, kb)
        dk = jnp.einsum("bnts,bnth->bnsh", dl, qf)
        db = None
        if bias is not None:
            db = _reduce_to(dl, bias_f.shape)
        return dq, (dk, dv, db)

    dq, (dk, dv, db) = jax.lax.scan(step, jnp.zeros_like(qf), (ks, vs, jnp.arange(ks.shape[0])))
    dk = _merge_keys(dk)[:, :, :S]
    dv = _merge_keys(dv)[:, :, :S]
    dbias = None
    if bias is not None:
        if bias.shape[-1] == 1:
            db = db.sum(0)
        else:
            db = jnp.moveaxis(db, 0, 3).reshape(db.shape[1:4] + (-1,))[..., :S]
        dbias = db.astype(bias.dtype)
    return dq.astype(q.dtype), dk.astype(k.dtype), dv.astype(v.dtype), dbias, None


def _reduce_to(x: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Sum a [B, N, T, bk] block over the axes where `shape` (a bias shape) has size 1."""
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and x.shape[i] != 1)
    return x.sum(axes, keepdims=True) if axes else x


def _merge_keys(x: jax.Array) -> jax.Array:
    """[nb, B, N, bk, H] -> [B, N, nb * bk, H]."""
    x = jnp.moveaxis(x, 0, 2)
    return x.reshape(x.shape[:2] + (-1, x.shape[-1]))


laser_exact.defvjp(_fwd, _bwd)
