"""Drop-in `attention_fn` for Flax: LASER in any Flax model with one argument.

    nn.MultiHeadDotProductAttention(num_heads=8, attention_fn=laser.flax_attention_fn("laser"))
    nnx.MultiHeadAttention(..., attention_fn=laser.nnx_attention_fn("laser_exact"))

The returned function has the signature of `flax.linen.dot_product_attention` (and of
`flax.nnx.dot_product_attention`: it also takes `is_causal`), dropout on the attention weights
included. Flax does not scale the query before `attention_fn`, so the default 1/sqrt(head_dim)
scale applies, as with Flax's own function.
"""

from __future__ import annotations

from collections.abc import Callable

import jax

from laser.attention import _check_kind, dot_product_attention


def flax_attention_fn(kind: str = "laser", **options) -> Callable[..., jax.Array]:
    """An `attention_fn` for flax.linen.MultiHeadDotProductAttention (and nnx).

    Args:
      kind: "softmax", "laser" or "laser_exact".
      options: keyword options of laser.dot_product_attention (temperature, qk_norm,
        block_size, implementation, is_causal, scale, ...).
    """
    _check_kind(kind)

    def attention_fn(
        query: jax.Array,
        key: jax.Array,
        value: jax.Array,
        bias: jax.Array | None = None,
        mask: jax.Array | None = None,
        broadcast_dropout: bool = True,
        dropout_rng: jax.Array | None = None,
        dropout_rate: float = 0.0,
        deterministic: bool = False,
        dtype=None,
        precision=None,
        module=None,
        is_causal: bool = False,
    ) -> jax.Array:
        del precision, module  # XLA's default precision; no weights are sown
        if dtype is not None:
            query, key, value = (x.astype(dtype) for x in (query, key, value))
        if mask is not None:
            mask = mask.astype(bool)  # Flax builds masks as float32 0/1
        if deterministic:
            dropout_rate = 0.0
        kwargs = dict(options)
        kwargs["is_causal"] = kwargs.get("is_causal", False) or is_causal
        return dot_product_attention(
            query,
            key,
            value,
            bias,
            mask,
            kind=kind,
            dropout_rate=dropout_rate,
            dropout_rng=dropout_rng,
            broadcast_dropout=broadcast_dropout,
            **kwargs,
        )

    attention_fn.__name__ = f"{kind}_attention_fn"
    return attention_fn


def nnx_attention_fn(kind: str = "laser", **options) -> Callable[..., jax.Array]:
    """The same function, for flax.nnx.MultiHeadAttention(attention_fn=...)."""
    return flax_attention_fn(kind, **options)


__all__ = ["flax_attention_fn", "nnx_attention_fn"]
