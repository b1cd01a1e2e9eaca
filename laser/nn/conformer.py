"""Conformer CTC encoder after AlgoPerf's `librispeech_conformer` (paper Table 5).

    waveform -> log-mel (laser.nn.speech_frontend) -> SpecAugment (training)
      -> 2 x [Conv2d 3x3 stride 2 + ReLU] (4x fewer frames) -> Dense(d) + sinusoidal positions
      -> dropout -> num_layers x ConformerBlock -> LayerNorm -> Dense(vocab) (CTC logits)

    ConformerBlock(x):  x += 1/2 FFN(x);  x += MHSA(x);  x += Conv(x);  x += 1/2 FFN(x);  LN(x)
      FFN:  LN -> Dense(4d) -> swish -> dropout -> Dense(d) -> dropout
      MHSA: LN -> laser.nn.MultiHeadAttention (per-dim query scale, biases) -> dropout
      Conv: LN -> Dense(d) * sigmoid(Dense(d)) (GLU) -> depthwise Conv1D(k), no bias
            -> masked BatchNorm -> swish -> Dense(d) -> dropout

The parameter tree is AlgoPerf's leaf for leaf (shapes, biases, initialisers; the names are
ours): 32,321,792 parameters at the defaults. As AlgoPerf's, every kernel is xavier-uniform and
every bias zero; LayerNorm (eps 1e-6) and BatchNorm scales are stored as an offset from 1
(initialised to 0, applied as 1 + scale), so weight decay pulls them towards 1, not 0.

Attention goes through the suite's one core, configured by the model's one `attention`
(laser.nn.AttentionConfig: the kind, `temperature` on the logits (the paper's "+temp"),
`per_dim_scale`, `qk_norm`), which selects Table 5's variants. Padded frames never act as
keys; BatchNorm statistics (collection "batch_stats") are taken over valid frames only.
Differences from AlgoPerf: see experiments/conformer_librispeech/README.md.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from laser.nn.attention import AttentionConfig, MultiHeadAttention
from laser.nn.speech_frontend import log_mel
from laser.nn.transformer_lm import sinusoidal_positions


def spec_augment(
    rng: jax.Array,
    feats: jax.Array,
    paddings: jax.Array,
    freq_masks: int = 2,
    freq_max_bins: int = 27,
    time_masks: int = 10,
    time_max_frames: int | None = None,
    time_max_ratio: float = 0.05,
) -> jax.Array:
    """feats [B, T, F] with `freq_masks` bands of floor(u * freq_max_bins) bins and `time_masks`
    spans of floor(u * time_max_ratio * valid frames) frames set to zero, u uniform on [0, 1)
    per mask and utterance, as AlgoPerf's SpecAug (use_dynamic_time_mask_max_frames: its
    time_mask_max_frames = 40 is then discarded); a `time_max_frames` number instead gives
    floor(u * time_max_frames) (AlgoPerf's non-dynamic rule). Time spans are at most
    max(1, floor(ratio * valid frames)) long; starts uniform over the valid positions."""
    b, t, f = feats.shape
    k = jax.random.split(rng, 4)

    def spans(k_width, k_start, count, max_width, bound, size, positions):
        u_w = jax.random.uniform(k_width, (b, count))
        u_s = jax.random.uniform(k_start, (b, count))
        width = jnp.minimum(jnp.floor(u_w * max_width[:, None]), bound[:, None])
        start = jnp.floor(u_s * (size[:, None] - width + 1))
        p = positions[None, None, :]
        inside = (p >= start[..., None]) & (p < (start + width)[..., None])
        return jnp.any(inside, axis=1)  # [B, positions]

    ones = jnp.ones([b])
    freq = spans(k[0], k[1], freq_masks, freq_max_bins * ones, f * ones, f * ones, jnp.arange(f))
    lengths = jnp.sum(1.0 - paddings, axis=-1)
    dynamic = time_max_ratio * lengths
    max_time = dynamic if time_max_frames is None else time_max_frames * ones
    bound = jnp.maximum(jnp.floor(dynamic), 1.0)
    time = spans(k[2], k[3], time_masks, max_time, bound, lengths, jnp.arange(t))
    return feats * (1.0 - freq[:, None, :]) * (1.0 - time[:, :, None])


XAVIER = nn.initializers.xavier_uniform()


class LayerNorm(nn.Module):
    """LayerNorm over the last axis with the scale stored as an offset: x_hat * (1 + scale) +
    bias, both initialised to 0 (AlgoPerf's Conformer LayerNorm, after lingvo)."""

    epsilon: float = 1e-6

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        d = x.shape[-1]
        scale = self.param("scale", nn.initializers.zeros, (d,))
        bias = self.param("bias", nn.initializers.zeros, (d,))
        mean = jnp.mean(x, axis=-1, keepdims=True)
        var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
        return (x - mean) * jax.lax.rsqrt(var + self.epsilon) * (1 + scale) + bias


class MaskedBatchNorm(nn.Module):
    """BatchNorm over the valid frames of [B, T, D] (AlgoPerf: momentum 0.999, eps 1e-3; the
    scale stored as an offset from 1, as LayerNorm's); padded frames come out 0.
    Running statistics live in "batch_stats" and are updated only when it is mutable."""

    momentum: float = 0.999
    epsilon: float = 1e-3

    @nn.compact
    def __call__(self, x: jax.Array, paddings: jax.Array, train: bool) -> jax.Array:
        d = x.shape[-1]
        mean_ra = self.variable("batch_stats", "mean", lambda: jnp.zeros([d], jnp.float32))
        var_ra = self.variable("batch_stats", "var", lambda: jnp.ones([d], jnp.float32))
        scale = self.param("scale", nn.initializers.zeros, (d,))
        bias = self.param("bias", nn.initializers.zeros, (d,))
        keep = (1.0 - paddings)[..., None]
        if train:
            count = jnp.maximum(jnp.sum(keep), 1.0)
            mean = jnp.sum(x * keep, axis=(0, 1)) / count
            var = jnp.sum(jnp.square(x - mean) * keep, axis=(0, 1)) / count
            if not self.is_initializing() and self.is_mutable_collection("batch_stats"):
                m = self.momentum
                mean_ra.value = m * mean_ra.value + (1 - m) * mean
                var_ra.value = m * var_ra.value + (1 - m) * var
        else:
            mean, var = mean_ra.value, var_ra.value
        return ((x - mean) * jax.lax.rsqrt(var + self.epsilon) * (1 + scale) + bias) * keep


class FeedForward(nn.Module):
    dim: int
    expansion: int
    dropout_rate: float

    @nn.compact
    def __call__(self, x, paddings, train: bool):
        keep = (1.0 - paddings)[..., None]
        drop = nn.Dropout(self.dropout_rate, deterministic=not train)
        y = LayerNorm()(x)
        y = drop(nn.swish(nn.Dense(self.dim * self.expansion, kernel_init=XAVIER)(y))) * keep
        y = nn.Dense(self.dim, kernel_init=XAVIER)(y) * keep
        return drop(y)


class ConvModule(nn.Module):
    dim: int
    kernel_size: int
    bn_momentum: float
    bn_epsilon: float
    dropout_rate: float

    @nn.compact
    def __call__(self, x, paddings, train: bool):
        keep = (1.0 - paddings)[..., None]
        y = LayerNorm()(x)
        a = nn.Dense(self.dim, kernel_init=XAVIER, name="glu_value")(y)
        gate = nn.Dense(self.dim, kernel_init=XAVIER, name="glu_gate")(y)
        y = a * nn.sigmoid(gate) * keep  # GLU; padded frames must not leak into the conv
        y = nn.Conv(
            self.dim,
            (self.kernel_size,),
            padding="SAME",
            feature_group_count=self.dim,
            use_bias=False,
            kernel_init=XAVIER,
            name="depthwise",
        )(y)
        y = MaskedBatchNorm(self.bn_momentum, self.bn_epsilon)(y, paddings, train)
        y = nn.Dense(self.dim, kernel_init=XAVIER)(nn.swish(y))
        return nn.Dropout(self.dropout_rate)(y, deterministic=not train)


class ConformerBlock(nn.Module):
    dim: int
    num_heads: int
    kernel_size: int
    expansion: int
    attention: AttentionConfig
    dropout_rate: float
    bn_momentum: float
    bn_epsilon: float

    @nn.compact
    def __call__(self, x, paddings, train: bool):
        ffn = dict(dim=self.dim, expansion=self.expansion, dropout_rate=self.dropout_rate)
        x = x + 0.5 * FeedForward(**ffn, name="ffn_in")(x, paddings, train)
        y = LayerNorm()(x)
        keys = (paddings == 0)[:, None, None, :]  # [B, 1, 1, T]: queries see valid frames only
        y = MultiHeadAttention(
            num_heads=self.num_heads,
            head_dim=self.dim // self.num_heads,
            attention=self.attention,
            use_bias=True,
            kernel_init=XAVIER,
            name="attention",
        )(y, mask=keys)
        x = x + nn.Dropout(self.dropout_rate)(y, deterministic=not train)
        x = x + ConvModule(
            self.dim, self.kernel_size, self.bn_momentum, self.bn_epsilon, self.dropout_rate
        )(x, paddings, train)
        x = x + 0.5 * FeedForward(**ffn, name="ffn_out")(x, paddings, train)
        return LayerNorm()(x)


class Conformer(nn.Module):
    """Waveform [B, N] + paddings [B, N] -> (CTC logits [B, T, vocab], paddings [B, T]),
    T = ceil(ceil(frames / 2) / 2). RNG streams when training: "dropout", "specaug"."""

    vocab_size: int = 1024
    dim: int = 512
    num_heads: int = 8
    num_layers: int = 4
    kernel_size: int = 5
    expansion: int = 4
    attention: AttentionConfig = AttentionConfig(per_dim_scale=True)  # AlgoPerf's QueryScaler
    dropout_rate: float = 0.1
    specaug: bool = True
    bn_momentum: float = 0.999
    bn_epsilon: float = 1e-3
    subsample_channels: int = 0  # filters of the subsampling convs; 0 = dim (AlgoPerf)

    @nn.compact
    def __call__(self, waveform: jax.Array, paddings: jax.Array, train: bool = False):
        feats, pad = log_mel(waveform, paddings)  # [B, F, 80]
        if train and self.specaug:
            feats = spec_augment(self.make_rng("specaug"), feats, pad)
        x = feats[..., None]  # [B, F, 80, 1]
        channels = self.subsample_channels or self.dim
        for i in range(2):  # 4x subsampling in time and frequency
            conv = nn.Conv(
                channels, (3, 3), strides=(2, 2), kernel_init=XAVIER, name=f"subsample_{i}"
            )
            x = nn.relu(conv(x))
            pad = pad[:, ::2]
            x = x * (1.0 - pad)[:, :, None, None]
        b, t = x.shape[:2]
        x = nn.Dense(self.dim, kernel_init=XAVIER, name="input_proj")(x.reshape(b, t, -1))
        x = x + sinusoidal_positions(t, self.dim)[None]
        x = nn.Dropout(self.dropout_rate)(x, deterministic=not train)
        for i in range(self.num_layers):
            x = ConformerBlock(
                dim=self.dim,
                num_heads=self.num_heads,
                kernel_size=self.kernel_size,
                expansion=self.expansion,
                attention=self.attention,
                dropout_rate=self.dropout_rate,
                bn_momentum=self.bn_momentum,
                bn_epsilon=self.bn_epsilon,
                name=f"block_{i}",
            )(x, pad, train)
        x = LayerNorm(name="final_norm")(x)
        return nn.Dense(self.vocab_size, kernel_init=XAVIER, name="logits")(x), pad


def from_config(m: ml_collections.ConfigDict) -> Conformer:
    """The model of a config's `model` section (experiments/conformer_librispeech/config.py)."""
    return Conformer(
        vocab_size=m.vocab_size,
        dim=m.model_dim,
        num_heads=m.num_heads,
        num_layers=m.num_layers,
        kernel_size=m.kernel_size,
        attention=AttentionConfig.from_config(m.attention),
        dropout_rate=m.dropout_rate,
        specaug=m.specaug,
        bn_momentum=m.bn_momentum,
        subsample_channels=m.subsample_channels,
    )


def encoder_frames(num_samples: int) -> int:
    """Output frames (CTC time steps) for `num_samples` valid samples: 4x fewer than log-mel."""
    from laser.nn.speech_frontend import num_frames

    half = -(-num_frames(num_samples) // 2)  # ceil: SAME-padded stride-2 convs
    return -(-half // 2)
