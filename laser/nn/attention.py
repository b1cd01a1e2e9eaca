"""The suite's Flax (linen) multi-head attention and the one object that configures it.

`AttentionConfig` holds every attention option an experiment can choose: `kind` ("softmax" |
"laser" | "laser_exact"), `temperature` (+temp), `per_dim_scale` (+per-dim temp, a trainable p
initialised to 0), `qk_norm` (+QK-normalisation with learnable LayerNorm scales), and the
kernel's `block_size` and `implementation`. Configs hold it as one `model.attention` section;
models receive it whole and hand it to `MultiHeadAttention` untouched, so a new option touches
this file (and the core it calls) only. Kernels carry logical axis names ("embed", "heads",
"kv") so the trainer's sharding rules place them; no biases by default (the paper's LMs and PAX
use none).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from laser.attention import IMPLEMENTATIONS, KINDS, dot_product_attention
from laser.configs import ConfigError

Initializer = Any


@dataclasses.dataclass(frozen=True)
class AttentionConfig:
    """Every attention option of the suite (frozen, so Flax modules can hold it).

    Attributes:
      kind: attention kind of laser.dot_product_attention (KINDS).
      temperature: logits divided by it (the paper's "+temp"); > 0.
      per_dim_scale: learn p [H]; query scaled by softplus(p) * 1.442695041 / sqrt(H).
      qk_norm: LayerNorm (learnable scale) on queries and keys per head.
      block_size: keys per block of laser_exact.
      implementation: kernel of softmax/laser (None, "xla", "cudnn").
    """

    kind: str = "softmax"
    temperature: float = 1.0
    per_dim_scale: bool = False
    qk_norm: bool = False
    block_size: int = 512
    implementation: str | None = None

    def __post_init__(self):
        problems = {
            "kind": (self.kind in KINDS, ", ".join(KINDS)),
            "temperature": (self.temperature > 0, "a number > 0"),
            "block_size": (self.block_size > 0, "an integer > 0"),
            "implementation": (
                self.implementation in IMPLEMENTATIONS,
                ", ".join(str(i) for i in IMPLEMENTATIONS),
            ),
        }
        for key, (ok, accepted) in problems.items():
            if not ok:
                raise ConfigError(
                    f"config model.attention.{key}={getattr(self, key)!r}: accepted: {accepted}"
                )

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> AttentionConfig:
        """From a config's `model.attention` section; ConfigError names a bad key or value."""
        fields = [f.name for f in dataclasses.fields(cls)]
        for key in section:
            if key not in fields:
                raise ConfigError(
                    f"config key model.attention.{key!r} unknown; accepted: {', '.join(fields)}"
                )
        return cls(**dict(section))

    def section(self) -> ml_collections.ConfigDict:
        """The `model.attention` config section holding these values."""
        return ml_collections.ConfigDict(dataclasses.asdict(self))


def attention_section(**values: Any) -> ml_collections.ConfigDict:
    """A config's `model.attention` section: AttentionConfig's defaults, `values` replacing."""
    return AttentionConfig(**values).section()


class MultiHeadAttention(nn.Module):
    """Multi-head (optionally grouped-query) attention with a LASER switch.

    Attributes:
      num_heads: query heads N.
      head_dim: features per head H.
      num_kv_heads: key/value heads K (N % K == 0); default N.
      attention: the attention options (kind, temperature, per-dim scale, QK-norm, kernel).
      out_features: output width; default the input width.
      use_bias: biases on the projections.
      dropout_rate: dropout on the attention weights (the paper's models use none).
      dtype, param_dtype: compute and parameter dtypes.
      kernel_init: initialiser of the projection kernels.
    """

    num_heads: int
    head_dim: int
    num_kv_heads: int | None = None
    attention: AttentionConfig = AttentionConfig()
    out_features: int | None = None
    use_bias: bool = False
    dropout_rate: float = 0.0
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
        a = self.attention

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
        if a.qk_norm:
            norm = dict(
                epsilon=1e-6, use_bias=False, dtype=self.dtype, param_dtype=self.param_dtype
            )
            query = nn.LayerNorm(name="query_norm", **norm)(query)
            key = nn.LayerNorm(name="key_norm", **norm)(key)
        p = None
        if a.per_dim_scale:
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
            kind=a.kind,
            is_causal=is_causal,
            key_value_seq_lengths=key_value_seq_lengths,
            temperature=a.temperature,
            per_dim_scale=p,
            block_size=a.block_size,
            implementation=a.implementation,
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
