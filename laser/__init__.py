"""LASER attention (Duvvuri & Dhillon, ICML 2025) for JAX and Flax, and the reproduction suite.

Public API:
  laser.dot_product_attention(q, k, v, ..., kind="softmax" | "laser" | "laser_exact")
  laser.diff_attention(...)            Differential attention and its LASER form
  laser.flax_attention_fn(kind)        attention_fn= for flax.linen.MultiHeadDotProductAttention
  laser.nnx_attention_fn(kind)         attention_fn= for flax.nnx.MultiHeadAttention
  laser.nn.MultiHeadAttention          the suite's own Flax module, configured by one
                                       laser.nn.AttentionConfig (kind, temperature, per-dim
                                       scale, QK-norm, kernel)
"""

from laser.adapters import flax_attention_fn, nnx_attention_fn
from laser.attention import KINDS, diff_attention, dot_product_attention, lambda_init

__all__ = [
    "KINDS",
    "diff_attention",
    "dot_product_attention",
    "flax_attention_fn",
    "lambda_init",
    "nnx_attention_fn",
]
