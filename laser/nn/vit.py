"""Vision Transformer as AlgoPerf's `imagenet_vit` workload (ViT-S/16 for the paper's Table 4).

    patches (conv, VALID) + fixed 2-D sin-cos positions -> pre-LN blocks -> LN -> mean over
    tokens -> Dense(width) + tanh (pre-logits) -> zero-initialised head

No class token. Every block is h = x + Drop(Attn(LN(x))); y = h + Drop(MLP(LN(h))) with a GELU
MLP and dropout after its activation, as AlgoPerf (../shared/REFERENCE.md). Attention is the
suite's laser.nn.MultiHeadAttention with biases and xavier-uniform kernels (what AlgoPerf's
flax MultiHeadDotProductAttention has), configured by the model's one `attention`
(laser.nn.AttentionConfig: the kind and the baselines' +temp, +per-dim temp, +QK-norm). MLP
biases start at N(0, 1e-6) as AlgoPerf's.

Sizes: `decode_variant("S/16")` from the VARIANTS table (big_vision's naming, plus the suite's
CPU-sized "xs" used by the tiny profile).
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

# name: (width, depth, mlp_dim, num_heads). Ti..L as big_vision / AlgoPerf; "xs" is ours (tiny).
VARIANTS: dict[str, tuple[int, int, int, int]] = {
    "xs": (64, 4, 256, 4),
    "Ti": (192, 12, 768, 3),
    "S": (384, 12, 1536, 6),
    "M": (512, 12, 2048, 8),
    "B": (768, 12, 3072, 12),
    "L": (1024, 24, 4096, 16),
}


def decode_variant(variant: str) -> dict[str, int]:
    """ "S/16" -> {"width": 384, "depth": 12, "mlp_dim": 1536, "num_heads": 6, "patch_size": 16};
    ValueError naming the accepted forms otherwise."""
    name, _, patch = variant.partition("/")
    if name not in VARIANTS or not patch.isdigit() or int(patch) <= 0:
        raise ValueError(
            f"ViT variant {variant!r}: accepted: <size>/<patch> with size in "
            f"{', '.join(VARIANTS)} (e.g. S/16)"
        )
    width, depth, mlp_dim, num_heads = VARIANTS[name]
    return dict(
        width=width, depth=depth, mlp_dim=mlp_dim, num_heads=num_heads, patch_size=int(patch)
    )


def posemb_sincos_2d(h: int, w: int, width: int, temperature: float = 10_000.0) -> np.ndarray:
    """[h * w, width] fixed 2-D position embedding (MoCo v3, as AlgoPerf): sin/cos of the x
    then of the y coordinate, width / 4 frequencies each."""
    if width % 4:
        raise ValueError(f"ViT width {width}: accepted: a multiple of 4 (sin-cos positions)")
    y, x = np.mgrid[:h, :w]
    omega = 1.0 / temperature ** (np.arange(width // 4) / (width // 4 - 1))
    y = y.reshape(-1)[:, None] * omega[None, :]
    x = x.reshape(-1)[:, None] * omega[None, :]
    return np.concatenate([np.sin(x), np.cos(x), np.sin(y), np.cos(y)], axis=1).astype(np.float32)


class EncoderBlock(nn.Module):
    """One pre-LN encoder block on [B, T, D]."""

    num_heads: int
    mlp_dim: int
    attention: AttentionConfig = AttentionConfig()
    dropout_rate: float = 0.0
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, deterministic: bool = True) -> jax.Array:
        width = x.shape[-1]
        drop = nn.Dropout(self.dropout_rate, deterministic=deterministic)
        y = nn.LayerNorm(dtype=self.dtype, name="ln_attention")(x)
        y = MultiHeadAttention(
            num_heads=self.num_heads,
            head_dim=width // self.num_heads,
            attention=self.attention,
            use_bias=True,
            kernel_init=nn.initializers.xavier_uniform(),
            dtype=self.dtype,
            name="attention",
        )(y)
        x = x + drop(y)
        # The MLP runs on [B*T, D]: 2-D matmuls are faster on XLA:CPU (see transformer_lm).
        y = nn.LayerNorm(dtype=self.dtype, name="ln_mlp")(x).reshape(-1, width)
        dense = dict(
            kernel_init=nn.initializers.xavier_uniform(),
            bias_init=nn.initializers.normal(stddev=1e-6),
            dtype=self.dtype,
        )
        y = nn.gelu(nn.Dense(self.mlp_dim, name="mlp_in", **dense)(y))
        y = nn.Dense(width, name="mlp_out", **dense)(drop(y))
        return x + drop(y.reshape(x.shape))


class ViT(nn.Module):
    """images [B, H, W, C] float -> logits [B, num_classes] float32."""

    num_classes: int
    width: int
    depth: int
    mlp_dim: int
    num_heads: int
    patch_size: int
    attention: AttentionConfig = AttentionConfig()
    dropout_rate: float = 0.0
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, images: jax.Array, deterministic: bool = True) -> jax.Array:
        p = self.patch_size
        x = nn.Conv(
            self.width, (p, p), strides=(p, p), padding="VALID", dtype=self.dtype, name="patches"
        )(images.astype(self.dtype))
        n, h, w, c = x.shape
        x = x.reshape(n, h * w, c) + jnp.asarray(posemb_sincos_2d(h, w, c), self.dtype)
        x = nn.Dropout(self.dropout_rate, deterministic=deterministic)(x)
        for i in range(self.depth):
            x = EncoderBlock(
                num_heads=self.num_heads,
                mlp_dim=self.mlp_dim,
                attention=self.attention,
                dropout_rate=self.dropout_rate,
                dtype=self.dtype,
                name=f"block_{i}",
            )(x, deterministic)
        x = nn.LayerNorm(dtype=self.dtype, name="ln_final")(x)
        x = jnp.mean(x, axis=1)  # global average pooling, no class token
        x = jnp.tanh(nn.Dense(self.width, dtype=self.dtype, name="pre_logits")(x))
        head = nn.Dense(
            self.num_classes, kernel_init=nn.initializers.zeros, dtype=self.dtype, name="head"
        )
        return head(x).astype(jnp.float32)


def from_config(m: ml_collections.ConfigDict) -> ViT:
    """The model of a config's `model` section (experiments/vit_imagenet/config.py)."""
    return ViT(
        num_classes=m.num_classes,
        **decode_variant(m.variant),
        attention=AttentionConfig.from_config(m.attention),
        dropout_rate=m.dropout_rate,
        dtype=jnp.dtype(m.dtype),
    )


def param_count(model: ViT, image_size: int, channels: int = 3) -> int:
    """Number of parameters, from shapes only (nothing is allocated)."""
    return count_params(model, jnp.zeros((1, image_size, image_size, channels)))
