"""Decoder-only Transformer LM (paper eq. 1): pre-LayerNorm blocks, no biases, shared embedding.

    h = x + Attention(LN(x));  y = h + MLP(LN(h));  logits = LN(y) E^T

Attention goes through laser.nn.MultiHeadAttention with the model's one `attention`
(laser.nn.AttentionConfig): the kind (softmax or LASER), the baselines' options (+temp,
+per-dim temp, +QK-norm) and the Diff Transformer's differential attention (each block passes
its 0-based index, which sets the differential lambda_init). Where the paper is silent we
follow PAX's C4 LM (../shared/REFERENCE.md): one vocab x d embedding shared by input and output,
no biases, GELU MLP, sinusoidal positions (no parameters). Parameter count per layer:
4 * d * (heads * head_dim) + 2 * d * mlp (+ 2 * d LayerNorm scales); differential attention:
4 * d * (2 * heads * head_dim) + 2 * d * mlp (+ 4 * head_dim lambda vectors, 2 * head_dim RMSNorm
scales, 2 * d LayerNorm scales).
Kernels carry logical axis names ("vocab", "embed", "heads", "kv", "mlp") for sharding rules;
activations are kept sharded by batch rows (laser.nn.partitioning.rows; a no-op outside the
trainer's step), so that fsdp-sharded weights do not lend them their layout.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from laser.nn.attention import AttentionConfig, MultiHeadAttention
from laser.nn.params import count_params
from laser.nn.partitioning import rows


def sinusoidal_positions(length: int, dim: int) -> np.ndarray:
    """[length, dim] fixed sin/cos position embedding (timescales 1 .. 10^4)."""
    half = dim // 2
    freqs = np.exp(-np.log(10_000.0) * np.arange(half) / max(half - 1, 1))
    angles = np.arange(length)[:, None] * freqs[None, :]
    out = np.zeros((length, dim), np.float32)
    out[:, :half], out[:, half : 2 * half] = np.sin(angles), np.cos(angles)
    return out


class Block(nn.Module):
    """One pre-LN decoder block; `layer` is its 0-based index in the stack."""

    num_heads: int
    head_dim: int
    mlp_dim: int
    attention: AttentionConfig = AttentionConfig()
    layer: int = 0
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        ln = dict(use_bias=False, dtype=self.dtype)
        h = nn.LayerNorm(name="ln_attention", **ln)(x)
        x = x + MultiHeadAttention(
            num_heads=self.num_heads,
            head_dim=self.head_dim,
            attention=self.attention,
            layer=self.layer,
            dtype=self.dtype,
            name="attention",
        )(h, is_causal=True)
        # The MLP runs on [B*T, d]: XLA:CPU computes the kernel gradient of a dot that contracts
        # two batch axes ~5x slower than the same 2-D matmul (measured, benchmarks/train.py).
        h = rows(nn.LayerNorm(name="ln_mlp", **ln)(x).reshape(-1, x.shape[-1]))
        init = nn.initializers.lecun_normal()
        h = nn.Dense(
            self.mlp_dim,
            use_bias=False,
            dtype=self.dtype,
            name="mlp_in",
            kernel_init=nn.with_logical_partitioning(init, ("embed", "mlp")),
        )(h)
        h = nn.gelu(rows(h))
        h = nn.Dense(
            x.shape[-1],
            use_bias=False,
            dtype=self.dtype,
            name="mlp_out",
            kernel_init=nn.with_logical_partitioning(init, ("mlp", "embed")),
        )(h)
        return x + h.reshape(x.shape)


class TransformerLM(nn.Module):
    """tokens [B, T] int32 -> logits [B, T, vocab] float32."""

    vocab_size: int
    num_layers: int
    model_dim: int
    num_heads: int
    head_dim: int
    mlp_dim: int
    attention: AttentionConfig = AttentionConfig()
    dtype: Any = jnp.float32
    remat: bool = False

    @nn.compact
    def __call__(self, tokens: jax.Array) -> jax.Array:
        embed = nn.Embed(
            self.vocab_size,
            self.model_dim,
            dtype=self.dtype,
            name="embed",
            embedding_init=nn.with_logical_partitioning(
                nn.initializers.normal(stddev=self.model_dim**-0.5), ("vocab", "embed")
            ),
        )
        x = embed(tokens) * jnp.asarray(np.sqrt(self.model_dim), self.dtype)
        x = x + jnp.asarray(sinusoidal_positions(tokens.shape[-1], self.model_dim), self.dtype)
        x = rows(x)
        block = nn.remat(Block) if self.remat else Block
        for i in range(self.num_layers):
            x = block(
                num_heads=self.num_heads,
                head_dim=self.head_dim,
                mlp_dim=self.mlp_dim,
                attention=self.attention,
                layer=i,
                dtype=self.dtype,
                name=f"block_{i}",
            )(x)
            x = rows(x)
        x = nn.LayerNorm(use_bias=False, dtype=self.dtype, name="ln_final")(x)
        logits = rows(embed.attend(rows(x.reshape(-1, self.model_dim))))  # 2-D: see Block's MLP
        return logits.reshape(*tokens.shape, self.vocab_size).astype(jnp.float32)


def from_config(m: ml_collections.ConfigDict) -> TransformerLM:
    """The model of a config's `model` section (experiments/c4_lm/config.py)."""
    return TransformerLM(
        vocab_size=m.vocab_size,
        num_layers=m.num_layers,
        model_dim=m.model_dim,
        num_heads=m.num_heads,
        head_dim=m.head_dim,
        mlp_dim=m.mlp_dim,
        attention=AttentionConfig.from_config(m.attention),
        dtype=jnp.dtype(m.dtype),
        remat=m.remat,
    )


def param_count(model: TransformerLM, seq_len: int = 8) -> int:
    """Number of parameters, from shapes only (nothing is allocated)."""
    return count_params(model, jnp.zeros((1, seq_len), jnp.int32))
