"""The suite's Flax (linen) multi-head attention: every model in the suite uses it.

One module covers the paper's attention variants through fields, not subclasses:
`kind` ("softmax" | "laser" | "laser_exact"), `temperature` (+temp), `per_dim_scale`
(+per-dim temp, a trainable p initialised to 0), `qk_norm` (+QK-normalisation with learnable
LayerNorm scales). Kernels carry logical axis names ("embed", "heads", "kv") so the trainer's
sharding rules place them; no biases by default (the paper's LMs and PAX use none).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from laser.attention import dot_product_attention

Initializer = Any


class MultiHeadAttention(nn.Module):
    """Multi-head (optionally grouped-query) attention with a LASER switch.

    Attributes:
      num_heads: query heads N.
      head_dim: features per head H.
      num_kv_heads: key/value heads K (N % K == 0); default N.
      kind: attention kind of laser.dot_product_attention.
      temperature: logits divided by it.
      per_dim_scale: learn p [H]; query scaled by softplus(p) * 1.442695041 / sqrt(H).
      qk_norm: LayerNorm (learnable scale) on queries and keys per head.
      out_features: output width; default the input width.
      use_bias: biases on the projections.
      dropout_rate: dropout on the attention weights (the paper's models use none).
      block_size: keys per block of laser_exact.
      implementation: kernel of softmax/laser (None, "xla", "cudnn").
      dtype, param_dtype: compute and parameter dtypes.
      kernel_init: initialiser of the projection kernels.
    """

    num_heads: int
    head_dim: int
    num_kv_heads: int | None = None
    kind: str = "softmax"
    temperature: float = 1.0
    per_dim_scale: bool = False
    qk_norm: bool = False
    out_features: int | None = None
    use_bias: bool = False
    dropout_rate: float = 0.0
    block_size: int = 512
    implementation: str | None = None
    dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32
    kernel_init: Initializer = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(
        self,
        inputs_q: jax.Array,
        inputs_kv: jax.Array | None = None,
        *,
        mask: jax.Array | None = None,
        bias: jax.Array | None = None,
        is_causal: bool = False,
        key_value_seq_lengths: jax.Array | None = None,
        deterministic: bool = True,
    ) -> jax.Array:
        """inputs_q [B, T, D], inputs_kv [B, S, D] (default inputs_q) -> [B, T, out_features]."""
        inputs_kv = inputs_q if inputs_kv is None else inputs_kv
        kv_heads = self.num_kv_heads or self.num_heads

        def proj(name, heads, x):
            # Projections run on [batch * seq, d]: XLA:CPU computes the kernel gradient of a dot
            # that contracts two batch axes ~5x slower than the same 2-D matmul (measured).
            init = nn.with_logical_partitioning(self.kernel_init, ("embed", "heads", "kv"))
            out = nn.DenseGeneral(
                (heads, self.head_dim),
                use_bias=self.use_bias,
                kernel_init=init,
                dtype=self.dtype,
                param_dtype=self.param_dtype,
                name=name,
            )(x.reshape(-1, x.shape[-1]))
            return out.reshape(*x.shape[:-1], heads, self.head_dim)

        query = proj("query", self.num_heads, inputs_q)  # [B, T, N, H]
        key = proj("key", kv_heads, inputs_kv)  # [B, S, K, H]
        value = proj("value", kv_heads, inputs_kv)
        if self.qk_norm:
            norm = dict(
                epsilon=1e-6, use_bias=False, dtype=self.dtype, param_dtype=self.param_dtype
            )
            query = nn.LayerNorm(name="query_norm", **norm)(query)
            key = nn.LayerNorm(name="key_norm", **norm)(key)
        p = None
        if self.per_dim_scale:
            p = self.param(
                "per_dim_scale",
                nn.with_logical_partitioning(nn.initializers.zeros, ("kv",)),
                (self.head_dim,),
                self.param_dtype,
            )
        dropout = self.dropout_rate if not deterministic else 0.0
        out = dot_product_attention(
            query,
            key,
            value,
            bias,
            mask,
            kind=self.kind,
            is_causal=is_causal,
            key_value_seq_lengths=key_value_seq_lengths,
            temperature=self.temperature,
            per_dim_scale=p,
            block_size=self.block_size,
            implementation=self.implementation,
            dropout_rate=dropout,
            dropout_rng=self.make_rng("dropout") if dropout else None,
        )
        out_init = nn.with_logical_partitioning(self.kernel_init, ("heads", "kv", "embed"))
        features = self.out_features or inputs_q.shape[-1]
        y = nn.DenseGeneral(
            features,
            axis=(-2, -1),
            use_bias=self.use_bias,
            kernel_init=out_init,
            dtype=self.dtype,
            param_dtype=self.param_dtype,
            name="out",
        )(out.reshape(-1, *out.shape[-2:]))  # [batch * seq, heads, head_dim]: as above
        return y.reshape(*out.shape[:-2], features)
