"""LASER attention in pure JAX: `dot_product_attention(..., kind=...)` and `diff_attention`.

LASER (Duvvuri & Dhillon, ICML 2025) replaces softmax(QK^T)V by log(softmax(QK^T) exp(V)).
Three kinds share one signature, modelled on `jax.nn.dot_product_attention` (layout
[batch, seq, heads, head_dim], masks broadcastable to [batch, heads, q_len, kv_len]):

- "softmax":     standard attention, `jax.nn.dot_product_attention` itself.
- "laser":       the paper's Log-Weighted-Sum-Exp trick (Algorithm 1): m = column max of V over
                 the keys some query can see (gradient stopped),
                 O = log(attn(Q, K, exp(V - m))) + m.
                 The attention call is the unchanged standard kernel, so `implementation="cudnn"`
                 works. Where the trick cannot vouch for its result (the weighted sum fell so
                 low that underflow may have removed what mattered, e.g. a causal query whose
                 visible values sit ~87 below a column max set by future keys), the output is
                 -inf, never a silently wrong finite number: the paper's code gives -inf there
                 too, or a value that lost its precision.
- "laser_exact": the same function, blockwise with a certificate and an exact fallback, finite and
                 accurate for any value spread (laser/laser_exact.py). Differentiable; memory
                 O(batch * heads * q_len * (block_size + head_dim)) beyond the inputs.

Options for the paper's baselines work with every kind: `temperature` divides the logits,
`per_dim_scale` (p, shape [head_dim]) scales the query by softplus(p) * 1.442695041 (so p = 0
is plain attention, as in praxis PerDimScale / AlgoPerf QueryScaler), `qk_norm` applies a
parameter-free LayerNorm to queries and keys over head_dim (the Flax module adds learnable scales).

Rows of queries that see no key at all give zeros, with zero (never NaN) gradients, for every kind.

The value head width Hv may differ from the query/key head width H (the Diff Transformer's value
is 2H wide), for every kind: `jax.nn.dot_product_attention` wants one width, so the kernel path
zero-pads the narrower of (query, key) and value to max(H, Hv) (zero features add nothing to
the logits, padded value columns are cut off); laser_exact and the dropout path take any Hv.

`attention_weights` materialises the probabilities softmax(QK^T) of a call (the same for every
kind: LASER changes what they weight, exp(V), not the weights), for measurements (Figure 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from laser.laser_exact import TOL, laser_exact
from laser.masks import Visibility

KINDS: tuple[str, ...] = ("softmax", "laser", "laser_exact")
IMPLEMENTATIONS: tuple[str | None, ...] = (None, "xla", "cudnn")
PER_DIM_SCALE_FACTOR = 1.442695041  # 1 / softplus(0): softplus(0) * this = 1


def dot_product_attention(
    query: jax.Array,
    key: jax.Array,
    value: jax.Array,
    bias: jax.Array | None = None,
    mask: jax.Array | None = None,
    *,
    kind: str = "softmax",
    is_causal: bool = False,
    scale: float | None = None,
    query_seq_lengths: jax.Array | None = None,
    key_value_seq_lengths: jax.Array | None = None,
    local_window_size: int | tuple[int, int] | None = None,
    implementation: str | None = None,
    temperature: float = 1.0,
    per_dim_scale: jax.Array | None = None,
    qk_norm: bool = False,
    block_size: int = 512,
    dropout_rate: float = 0.0,
    dropout_rng: jax.Array | None = None,
    broadcast_dropout: bool = True,
) -> jax.Array:
    """Scaled dot-product attention of the given kind.

    Args:
      query: [B, T, N, H] (or [T, N, H]).
      key: [B, S, K, H] (or [S, K, H]); N must be a multiple of K (grouped-query).
      value: [B, S, K, Hv] (or [S, K, Hv]); Hv may differ from H.
      bias: logits bias broadcastable to [B, N, T, S].
      mask: boolean, broadcastable to [B, N, T, S]; True = may attend.
      kind: one of KINDS.
      is_causal: key s visible to query t iff s <= t.
      scale: logit scale; default 1 / sqrt(H).
      query_seq_lengths, key_value_seq_lengths: int [B] valid lengths.
      local_window_size: as in jax.nn.dot_product_attention.
      implementation: None, "xla" or "cudnn", passed to jax.nn.dot_product_attention by
        "softmax" and "laser"; "laser_exact" has its own blockwise XLA computation (None/"xla").
      temperature: logits are divided by it ("+temp" baseline).
      per_dim_scale: [H] parameter p; query *= softplus(p) * 1.442695041 ("+per-dim temp").
      qk_norm: LayerNorm (no affine) on queries and keys over head_dim ("+QK-norm").
      block_size: keys per block of "laser_exact".
      dropout_rate, dropout_rng, broadcast_dropout: dropout on the attention weights (as in
        flax.linen.dot_product_attention). When active, the weights are materialised and the
        LASER kinds use the trick on them (no underflow certificate in that path).
    Returns:
      [B, T, N, Hv] (or [T, N, Hv]) in the dtype of `query`.
    """
    _check_kind(kind)
    unbatched = getattr(query, "ndim", None) == 3
    if unbatched:
        query, key, value = (
            x[None] if getattr(x, "ndim", 0) == 3 else x for x in (query, key, value)
        )
    query, key, value = (jnp.asarray(x) for x in (query, key, value))
    bias, mask = _check_inputs(query, key, value, bias, mask)
    B, T, N, H = query.shape
    S = key.shape[1]
    window = _check_options(
        kind,
        implementation,
        temperature,
        per_dim_scale,
        block_size,
        local_window_size,
        H,
        query_seq_lengths,
        key_value_seq_lengths,
        B,
        dropout_rate,
    )
    query, key = _prepare_query_key(query, key, scale, temperature, per_dim_scale, qk_norm)
    vis = _visibility(T, S, mask, is_causal, query_seq_lengths, key_value_seq_lengths, window)
    if dropout_rate > 0.0:
        out = _explicit_attention(
            query, key, value, bias, vis, kind, dropout_rate, dropout_rng, broadcast_dropout
        )
    elif kind == "laser_exact":
        out = _laser_exact(query, key, value, bias, vis, block_size)
    else:
        out = _kernel_attention(query, key, value, bias, vis, kind, implementation)
    out = out.astype(query.dtype)
    return out[0] if unbatched else out


def attention_weights(
    query: jax.Array,
    key: jax.Array,
    bias: jax.Array | None = None,
    mask: jax.Array | None = None,
    *,
    is_causal: bool = False,
    scale: float | None = None,
    query_seq_lengths: jax.Array | None = None,
    key_value_seq_lengths: jax.Array | None = None,
    local_window_size: int | tuple[int, int] | None = None,
    temperature: float = 1.0,
    per_dim_scale: jax.Array | None = None,
    qk_norm: bool = False,
) -> tuple[jax.Array, jax.Array | None]:
    """The attention probabilities A = softmax(QK^T) of a `dot_product_attention` call, for
    every kind (LASER weights exp(V) by these same probabilities), with its visibility.

    Materialises [B, N, T, S]: for measuring (Figure 1), not for the forward pass. The options
    that act on the logits (scale, temperature, per_dim_scale, qk_norm, bias, masks) are those
    of `dot_product_attention`, folded in by the same code.

    Args:
      query: [B, T, N, H]; key: [B, S, K, H]; bias, mask and the options as in
        dot_product_attention.
    Returns:
      (weights [B, N, T, S] float32, 0 where a key is not visible; visible: bool broadcastable
      to [B, N, T, S], or None when every query sees every key).
    """
    query, key = jnp.asarray(query), jnp.asarray(key)
    bias, mask = _check_inputs(query, key, key, bias, mask)
    B, T, N, H = query.shape
    S, K = key.shape[1], key.shape[2]
    window = _check_options(
        "softmax",
        None,
        temperature,
        per_dim_scale,
        512,
        local_window_size,
        H,
        query_seq_lengths,
        key_value_seq_lengths,
        B,
        0.0,
    )
    query, key = _prepare_query_key(query, key, scale, temperature, per_dim_scale, qk_norm)
    vis = _visibility(T, S, mask, is_causal, query_seq_lengths, key_value_seq_lengths, window)
    return _probabilities(query, jnp.repeat(key, N // K, axis=2), bias, vis)


def diff_attention(
    query1: jax.Array,
    key1: jax.Array,
    query2: jax.Array,
    key2: jax.Array,
    value: jax.Array,
    lam: jax.Array | float,
    bias: jax.Array | None = None,
    mask: jax.Array | None = None,
    *,
    kind: str = "softmax",
    **kwargs,
) -> jax.Array:
    """Differential attention (Ye et al. 2024) and its LASER form (paper §4.4).

    kind="softmax":             softmax(Q1 K1^T) V - lam * softmax(Q2 K2^T) V
    kind="laser"/"laser_exact": log(softmax(Q1 K1^T) exp(V)) - lam * log(softmax(Q2 K2^T) exp(V))

    Both maps see the same value V, whose head width Hv may differ from H (Ye et al.: Hv = 2H).
    The LASER form cannot fold lam into the attention weights (the log sits between), so both
    kinds take two attention calls; laser.reference.diff_attention is the float64 definition.

    Args:
      query1, query2: [B, T, N, H]; key1, key2: [B, S, K, H]; value: [B, S, K, Hv].
      lam: scalar or [N] (one lambda per head; Ye et al. re-parameterise it per layer).
      bias, mask, kwargs: as in dot_product_attention (is_causal, scale, temperature, ...);
        a `dropout_rng` is split, so the two maps drop independently (as Ye et al.'s dropout on
        the stacked weights of both maps).
    Returns:
      [B, T, N, Hv].
    """
    rngs = (None, None)
    if kwargs.get("dropout_rng") is not None:
        rngs = tuple(jax.random.split(kwargs.pop("dropout_rng")))
    kwargs.pop("dropout_rng", None)
    first = dot_product_attention(
        query1, key1, value, bias, mask, kind=kind, dropout_rng=rngs[0], **kwargs
    )
    second = dot_product_attention(
        query2, key2, value, bias, mask, kind=kind, dropout_rng=rngs[1], **kwargs
    )
    lam = jnp.asarray(lam, first.dtype)
    if lam.ndim not in (0, 1) or (lam.ndim == 1 and lam.shape[0] != first.shape[-2]):
        raise ValueError(
            f"lam: got shape {lam.shape}; accepted: a scalar or one value per head "
            f"({first.shape[-2]},)"
        )
    if lam.ndim == 1:
        lam = lam[:, None]
    return first - lam * second


def lambda_init(layer: int) -> float:
    """Ye et al.'s initial lambda of the layer with 0-based index `layer`:
    0.8 - 0.6 * exp(-0.3 * layer) (microsoft/unilm Diff-Transformer, `lambda_init_fn(depth)`,
    depth = the current layer's index), so 0.2 for the first layer, towards 0.8 deep down."""
    return 0.8 - 0.6 * math.exp(-0.3 * layer)


# --- the three kinds --------------------------------------------------------------------------


def _kernel_attention(query, key, value, bias, vis, kind, implementation):
    """softmax, or the paper's trick around the same unchanged kernel."""
    B, T, N, H = query.shape
    S, K = key.shape[1], key.shape[2]
    rows = vis.rows()  # [B|1, N|1, T, 1] or None
    rows = None if rows is None else jnp.swapaxes(rows, 1, 2)  # -> [B|1, T, N|1, 1]

    def kernel(v):
        q, k, v, width = _common_width(query, key, v)
        return jax.nn.dot_product_attention(
            q,
            k,
            v,
            bias,
            vis.mask,
            scale=1.0,
            is_causal=vis.is_causal,
            query_seq_lengths=vis.q_lens,
            key_value_seq_lengths=vis.kv_lens,
            local_window_size=vis.window,
            implementation=implementation,
        )[..., :width]

    if kind == "softmax":
        out = kernel(value)
        return out if rows is None else jnp.where(rows, out, 0)

    m, shifted = _column_max_shift(value, vis, N)
    # The kernel runs in the inputs' dtype; log(out) + m is a cancellation (log(out) ~ O - m),
    # so it is done in float32: in bfloat16 it alone costs ~1% relative error (Appendix A.5).
    tiny = float(jnp.finfo(value.dtype).tiny)
    out = kernel(jnp.exp(shifted)).astype(jnp.float32)
    m = jnp.repeat(m, N // K, axis=2).astype(jnp.float32)  # [B, 1, N, H]
    if rows is not None:  # padded query rows come back as 0 from the kernel: keep log finite
        out = jnp.where(rows, out, 1.0)
    # Underflow marker: -inf where underflow may have removed what mattered (an additive
    # constant, so the common case costs one compare; the gradient there is NaN, and the
    # trainer stops such a run as diverged).
    marker = jax.lax.stop_gradient(jnp.where(out >= S * tiny / TOL, 0.0, -jnp.inf))
    out = jnp.log(out) + (m + marker)
    return out if rows is None else jnp.where(rows, out, 0)


def _common_width(query, key, value):
    """Zero-pad (query, key) or value to one head width, as jax.nn.dot_product_attention needs
    (the scale is already folded into the query, so zero features leave the logits unchanged);
    returns the padded arrays and the value's own width, to cut the output back to."""
    H, Hv = query.shape[-1], value.shape[-1]

    def pad(x, width):
        return jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, width - x.shape[-1])])

    if Hv > H:
        return pad(query, Hv), pad(key, Hv), value, Hv
    return query, key, pad(value, H) if Hv < H else value, Hv


def _column_max_shift(value, vis, num_heads):
    """The trick's shift: m [B, 1, K, H] = max of V over keys some query sees, gradient stopped,
    and V - m with unseen keys set to 0 (so exp never overflows on them)."""
    B, S, K, H = value.shape
    keys = vis.keys()  # [B|1, N|1, 1, S] or None
    if keys is None:
        m = jax.lax.stop_gradient(jnp.max(value, axis=1, keepdims=True))
        return m, value - m
    keys = jnp.broadcast_to(keys, (B, num_heads, 1, S)).reshape(B, K, num_heads // K, S)
    keys = jnp.swapaxes(jnp.any(keys, axis=2), 1, 2)[..., None]  # [B, S, K, 1]
    m = jnp.max(jnp.where(keys, value, -jnp.inf), axis=1, keepdims=True)
    m = jax.lax.stop_gradient(jnp.where(jnp.isfinite(m), m, 0))
    return m, jnp.where(keys, value - m, 0)


def _laser_exact(query, key, value, bias, vis, block_size):
    N, K = query.shape[2], key.shape[2]
    q = jnp.swapaxes(query, 1, 2)  # [B, N, T, H]
    k, v = (jnp.swapaxes(jnp.repeat(x, N // K, axis=2), 1, 2) for x in (key, value))
    out = laser_exact(q, k, v, bias, vis, block_size)
    return jnp.swapaxes(out, 1, 2)


def _visibility(T, S, mask, is_causal, q_lens, kv_lens, window) -> Visibility:
    def lengths(x):
        return None if x is None else jnp.asarray(x, jnp.int32)

    return Visibility(
        q_len=T,
        kv_len=S,
        mask=mask,
        is_causal=is_causal,
        q_lens=lengths(q_lens),
        kv_lens=lengths(kv_lens),
        window=window,
    )


def _probabilities(query, key, bias, vis):
    """Materialised softmax(QK^T + bias) [B, N, T, S] float32 over visible keys (0 elsewhere),
    and the visibility (None: all visible); key already repeated to the query's heads."""
    logits = jnp.einsum("btnh,bsnh->bnts", query, key, preferred_element_type=jnp.float32)
    if bias is not None:
        logits = logits + bias
    visible = vis.full()
    if visible is not None:
        logits = jnp.where(visible, logits, -1e30)  # finite: fully masked rows stay NaN-free
    weights = jax.nn.softmax(logits, axis=-1)
    if visible is not None:
        weights = jnp.where(visible, weights, 0.0)
    return weights, visible


def _explicit_attention(query, key, value, bias, vis, kind, rate, rng, broadcast):
    """Materialised weights, for dropout on them (flax semantics)."""
    if rng is None:
        raise ValueError("dropout_rng: got None with dropout_rate > 0; accepted: a PRNG key")
    N, K = query.shape[2], key.shape[2]
    k, v = (jnp.repeat(x, N // K, axis=2) for x in (key, value))
    weights, _ = _probabilities(query, k, bias, vis)
    shape = (1, 1) + weights.shape[2:] if broadcast else weights.shape
    keep = jax.random.bernoulli(rng, 1.0 - rate, shape)
    weights = jnp.where(keep, weights / (1.0 - rate), 0.0).astype(v.dtype)
    if kind == "softmax":
        return jnp.einsum("bnts,bsnh->btnh", weights, v)
    m, shifted = _column_max_shift(v, vis, N)
    out = jnp.einsum("bnts,bsnh->btnh", weights, jnp.exp(shifted))
    ok = out > 0
    return jnp.where(ok, jnp.log(jnp.where(ok, out, 1)) + m, 0)


# --- options and input checks -----------------------------------------------------------------


def _prepare_query_key(query, key, scale, temperature, per_dim_scale, qk_norm):
    """Fold every option that acts on the logits into the query (and key for QK-norm)."""
    H = query.shape[-1]
    if qk_norm:
        query, key = _layer_norm(query), _layer_norm(key)
    factor = (1.0 / math.sqrt(H) if scale is None else scale) / temperature
    if per_dim_scale is not None:
        p = jnp.asarray(per_dim_scale, jnp.float32)
        q = query.astype(jnp.float32) * (jax.nn.softplus(p) * (PER_DIM_SCALE_FACTOR * factor))
        return q.astype(query.dtype), key
    return (query * jnp.asarray(factor, query.dtype)).astype(query.dtype), key


def _layer_norm(x, eps: float = 1e-6):
    xf = x.astype(jnp.float32)
    mean = xf.mean(-1, keepdims=True)
    var = jnp.square(xf - mean).mean(-1, keepdims=True)
    return ((xf - mean) * jax.lax.rsqrt(var + eps)).astype(x.dtype)


def _check_kind(kind) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind: got {kind!r}; accepted: {', '.join(map(repr, KINDS))}")


def _as_4d(name: str, x, target: Sequence[int], dtype_ok, dtype_desc: str):
    """Check that x broadcasts to `target` = (B, N, T, S) and return it with 4 dims."""
    x = jnp.asarray(x)
    if not dtype_ok(x.dtype):
        raise ValueError(f"{name}: got dtype {x.dtype}; accepted: {dtype_desc}")
    if x.ndim > 4 or any(
        d not in (1, t) for d, t in zip(x.shape[::-1], tuple(target)[::-1], strict=False)
    ):
        raise ValueError(
            f"{name}: got shape {x.shape}; accepted: broadcastable to [batch, heads, q_len, "
            f"kv_len] = {tuple(target)}"
        )
    return x.reshape((1,) * (4 - x.ndim) + x.shape)


def _check_inputs(query, key, value, bias, mask):
    for name, x in (("query", query), ("key", key), ("value", value)):
        if x.ndim != 4:
            raise ValueError(
                f"{name}: got shape {x.shape}; accepted: [batch, seq, heads, head_dim] "
                "(or [seq, heads, head_dim])"
            )
        if not jnp.issubdtype(x.dtype, jnp.floating):
            raise ValueError(f"{name}: got dtype {x.dtype}; accepted: a floating dtype")
    if not (query.dtype == key.dtype == value.dtype):
        raise ValueError(
            f"query/key/value: got dtypes {query.dtype}, {key.dtype}, {value.dtype}; "
            "accepted: one dtype for all three"
        )
    B, T, N, H = query.shape
    if key.shape[0] != B or key.shape[3] != H:
        raise ValueError(
            f"key: got shape {key.shape} for query {query.shape}; accepted: [{B}, kv_len, "
            f"kv_heads, {H}]"
        )
    if value.shape[:3] != key.shape[:3]:
        raise ValueError(
            f"value: got shape {value.shape} for key {key.shape}; accepted: "
            f"[{key.shape[0]}, {key.shape[1]}, {key.shape[2]}, head_dim]"
        )
    if N % key.shape[2]:
        raise ValueError(
            f"key: got {key.shape[2]} heads for {N} query heads; accepted: a divisor of {N}"
        )
    target = (B, N, T, key.shape[1])
    if bias is not None:
        bias = _as_4d("bias", bias, target, lambda d: jnp.issubdtype(d, jnp.floating), "floating")
    if mask is not None:
        mask = _as_4d("mask", mask, target, lambda d: d == jnp.bool_, "bool")
    return bias, mask


def _check_options(
    kind,
    implementation,
    temperature,
    per_dim_scale,
    block_size,
    window,
    head_dim,
    q_lens,
    kv_lens,
    batch,
    dropout_rate,
):
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(
            f"implementation: got {implementation!r}; accepted: "
            + ", ".join(map(repr, IMPLEMENTATIONS))
        )
    if kind == "laser_exact" and implementation == "cudnn":
        raise ValueError(
            "implementation: got 'cudnn' with kind='laser_exact'; accepted: None or 'xla' "
            "(laser_exact is its own blockwise kernel; use kind='laser' to run through cuDNN)"
        )
    if not (isinstance(temperature, (int, float)) and temperature > 0):
        raise ValueError(f"temperature: got {temperature!r}; accepted: a number > 0")
    if per_dim_scale is not None and tuple(np.shape(per_dim_scale)) != (head_dim,):
        raise ValueError(
            f"per_dim_scale: got shape {tuple(np.shape(per_dim_scale))}; accepted: ({head_dim},)"
        )
    if not (isinstance(block_size, int) and block_size > 0):
        raise ValueError(f"block_size: got {block_size!r}; accepted: an integer > 0")
    if not (0.0 <= dropout_rate < 1.0):
        raise ValueError(f"dropout_rate: got {dropout_rate!r}; accepted: 0 <= rate < 1")
    for name, lens in (("query_seq_lengths", q_lens), ("key_value_seq_lengths", kv_lens)):
        if lens is not None and (
            tuple(np.shape(lens)) != (batch,)
            or not jnp.issubdtype(jnp.asarray(lens).dtype, jnp.integer)
        ):
            raise ValueError(
                f"{name}: got shape {tuple(np.shape(lens))}; accepted: integers of shape ({batch},)"
            )
    if window is None:
        return None
    if isinstance(window, int):
        window = (window, window)
    if not (
        isinstance(window, tuple)
        and len(window) == 2
        and all(isinstance(w, int) and w >= 0 for w in window)
    ):
        raise ValueError(
            f"local_window_size: got {window!r}; accepted: an int or (left, right) ints >= 0"
        )
    return window
