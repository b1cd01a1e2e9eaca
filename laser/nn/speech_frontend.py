"""Log-mel speech front end in JAX (AlgoPerf's Conformer input features, lingvo-style).

16 kHz waveform -> pre-emphasis 0.97 -> 25 ms Hann frames every 10 ms (400/160 samples, FFT 512)
-> magnitude spectrum -> 80 triangular mel bins over 125-7600 Hz (HTK mel scale) -> log with a
floor of 1e-5 -> per-utterance, per-bin mean/variance normalisation over the valid frames.

Differences from AlgoPerf (../shared/REFERENCE.md): pre-emphasis runs on the whole signal
instead of per frame, and the normalisation uses each utterance's own statistics instead of
AlgoPerf's fixed Librispeech per-bin means and deviations (which we do not have offline; the
per-utterance form also serves the synthetic tiny data without re-estimating them).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

SAMPLE_RATE = 16_000
FRAME = 400  # 25 ms
HOP = 160  # 10 ms
FFT = 512
MEL_BINS = 80
LOW_HZ, HIGH_HZ = 125.0, 7600.0
PRE_EMPHASIS = 0.97
FLOOR = 1e-5


def _hz_to_mel(hz):
    return 1127.0 * np.log1p(np.asarray(hz, np.float64) / 700.0)


@functools.cache
def mel_matrix(
    bins: int = MEL_BINS, fft: int = FFT, rate: int = SAMPLE_RATE, low=LOW_HZ, high=HIGH_HZ
) -> np.ndarray:
    """[fft // 2 + 1, bins] triangular filters, evenly spaced on the HTK mel scale (as
    tf.signal.linear_to_mel_weight_matrix; the DC bin gets no weight)."""
    freqs = _hz_to_mel(np.linspace(0.0, rate / 2, fft // 2 + 1))
    edges = np.linspace(_hz_to_mel(low), _hz_to_mel(high), bins + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (freqs[:, None] - lower) / (center - lower)
    falling = (upper - freqs[:, None]) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0] = 0.0
    return weights.astype(np.float32)


def num_frames(num_samples: int) -> int:
    """Frames of a signal of `num_samples` samples (0 if shorter than one frame)."""
    return max(0, 1 + (num_samples - FRAME) // HOP)


def log_mel(waveform: jax.Array, paddings: jax.Array) -> tuple[jax.Array, jax.Array]:
    """waveform [B, N] float (about [-1, 1]), paddings [B, N] (1 = padded sample) ->
    (normalised features [B, F, 80], frame paddings [B, F]) with F = num_frames(N).

    A frame is valid when all its samples are; features of padded frames are zero."""
    feats, frame_pad = raw_log_mel(waveform, paddings)
    keep = (1.0 - frame_pad)[..., None]
    count = jnp.maximum(jnp.sum(keep, axis=1, keepdims=True), 1.0)
    mean = jnp.sum(feats * keep, axis=1, keepdims=True) / count
    var = jnp.sum(jnp.square(feats - mean) * keep, axis=1, keepdims=True) / count
    return (feats - mean) * jax.lax.rsqrt(var + 1e-6) * keep, frame_pad


def raw_log_mel(waveform: jax.Array, paddings: jax.Array) -> tuple[jax.Array, jax.Array]:
    """As log_mel, before normalisation: (log mel magnitudes [B, F, 80], paddings [B, F])."""
    b, n = waveform.shape
    lengths = jnp.sum(1.0 - paddings, axis=-1).astype(jnp.int32)  # [B]
    x = waveform * (1.0 - paddings)
    x = jnp.concatenate([x[:, :1], x[:, 1:] - PRE_EMPHASIS * x[:, :-1]], axis=-1)
    frames_n = num_frames(n)
    index = np.arange(frames_n)[:, None] * HOP + np.arange(FRAME)[None, :]  # [F, 400]
    frames = x[:, index]  # [B, F, 400]
    window = np.hanning(FRAME + 1)[:-1].astype(np.float32)  # periodic Hann
    spectrum = jnp.abs(jnp.fft.rfft(frames * window, n=FFT))  # [B, F, 257]
    mel = jnp.einsum("bfk,km->bfm", spectrum, mel_matrix())
    feats = jnp.log(jnp.maximum(mel, FLOOR))
    valid_frames = jnp.maximum(0, 1 + (lengths - FRAME) // HOP)  # [B]
    frame_pad = (jnp.arange(frames_n)[None, :] >= valid_frames[:, None]).astype(jnp.float32)
    return feats * (1.0 - frame_pad)[..., None], frame_pad
