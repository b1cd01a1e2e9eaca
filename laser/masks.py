"""Which (query, key) pairs an attention call may look at, built lazily per key block.

`jax.nn.dot_product_attention` combines five masking mechanisms: a boolean `mask`, `is_causal`,
query and key/value sequence lengths, and a local window. The LASER kernels need the same
combination in three shapes: per key block (the blockwise exact kernel, which must never build
the full [batch, heads, q_len, kv_len] mask), per key (the column max of the paper's trick is
taken over keys some query can see) and per query row (rows that see no key at all give zeros).
`Visibility` holds the pieces and builds whichever shape is asked for, with the conventions of
`jax.nn.dot_product_attention` (causal: key s is visible to query t iff s <= t).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp


@functools.partial(
    jax.tree_util.register_dataclass,
    data_fields=["mask", "q_lens", "kv_lens"],
    meta_fields=["q_len", "kv_len", "is_causal", "window", "key_padding"],
)
@dataclasses.dataclass(frozen=True)
class Visibility:
    """The masking inputs of one attention call.

    Attributes:
      q_len, kv_len: sequence lengths T and S of the call.
      mask: boolean, 4-D, each dim 1 or full size: [B|1, N|1, T|1, S|1]; or None.
      is_causal: key s visible to query t iff s <= t.
      q_lens, kv_lens: int32 [B] valid lengths, or None.
      window: (left, right) local window as in jax.nn.dot_product_attention, or None.
      key_padding: keys at or beyond kv_len exist and must be hidden.
    """

    q_len: int
    kv_len: int
    mask: jax.Array | None = None
    is_causal: bool = False
    q_lens: jax.Array | None = None
    kv_lens: jax.Array | None = None
    window: tuple[int, int] | None = None
    key_padding: bool = False  # keys beyond kv_len exist (blockwise kernels pad the last block)

    @property
    def trivial(self) -> bool:
        """True when every query sees every key."""
        return (
            self.mask is None
            and not self.is_causal
            and self.q_lens is None
            and self.kv_lens is None
            and self.window is None
            and not self.key_padding
        )

    def block(self, start: jax.Array | int, size: int) -> jax.Array | None:
        """Visibility of keys [start, start + size) as a bool array broadcastable to
        [B, N, T, size], or None when all of them are visible to every query.

        `start` may be traced (inside a scan). Keys at or beyond `kv_len` (padding that fills
        the last block) are never visible; a mask must then be padded to cover them.
        """
        t = jnp.arange(self.q_len)[:, None]  # [T, 1]
        s = start + jnp.arange(size)[None, :]  # [1, size]
        vis = None

        def both(a, b):
            return b if a is None else jnp.logical_and(a, b)

        if self.mask is not None:
            mask = self.mask
            if mask.shape[-1] != 1:
                mask = jax.lax.dynamic_slice_in_dim(mask, start, size, axis=3)
            vis = both(vis, mask)
        if self.is_causal:
            vis = both(vis, (s <= t)[None, None])
        if self.window is not None:
            left, right = self.window
            vis = both(vis, ((t <= s + left) & (t >= s - right))[None, None])
        if self.q_lens is not None:
            vis = both(vis, (t[None] < self.q_lens[:, None, None])[:, None])
        if self.kv_lens is not None:
            vis = both(vis, (s[None] < self.kv_lens[:, None, None])[:, None])
        if self.key_padding or (isinstance(start, int) and start + size > self.kv_len):
            vis = both(vis, (s < self.kv_len)[None, None])
        return vis

    def full(self) -> jax.Array | None:
        """Visibility of all keys: bool broadcastable to [B, N, T, S], or None if trivial."""
        return None if self.trivial else self.block(0, self.kv_len)

    @property
    def causal_only(self) -> bool:
        """Only the causal mask: every row sees key 0, and when T >= S the last row sees all."""
        return self.is_causal and dataclasses.replace(self, is_causal=False).trivial

    def rows(self) -> jax.Array | None:
        """Query rows that see at least one key: bool broadcastable to [B, N, T, 1], or None."""
        if self.causal_only and self.kv_len > 0:
            return None
        vis = self.full()
        return None if vis is None else jnp.any(vis, axis=-1, keepdims=True)

    def keys(self) -> jax.Array | None:
        """Keys that at least one query sees: bool broadcastable to [B, N, 1, S], or None.

        These are the "non-padding" keys over which the paper's column max is taken.
        """
        if self.causal_only and self.q_len >= self.kv_len:
            return None
        vis = self.full()
        return None if vis is None else jnp.any(vis, axis=-2, keepdims=True)
