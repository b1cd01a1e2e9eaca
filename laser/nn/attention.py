"""The suite's Flax (linen) multi-head attention and the one object that configures it.

`AttentionConfig` holds every attention option an experiment can choose: `kind` ("softmax" |
"laser" | "laser_exact"), `temperature` (+temp), `per_dim_scale` (+per-dim temp, a trainable p
initialised to 0), `qk_norm` (+QK-normalisation with learnable LayerNorm scales), the
kernel's `block_size` and `implementation`, and `differential` (the Differential Transformer's
attention, Ye et al. 2024, in either kind: LASER paper §4.4). Configs hold it as one
`model.attention` section; models receive it whole and hand it to `MultiHeadAttention`
untouched, so a new option touches this file (and the core it calls) only.

Measuring attention (laser/evals/sharpness.py, Figure 1) goes through this module itself, at
no cost to training: applied with the "intermediates" collection mutable, it sows its
probabilities softmax(QK^T) as "attention_weights" [B, N, T, S] (differential: the 2N maps,
heads 2i and 2i + 1 of head i) and their visibility as "attention_visible" (bool, broadcastable;
absent when every key is visible); given a variable "attention_logits" [B, N, T, S] in the
"perturbations" collection (zeros), it adds it to the logits, so the loss gradient with respect
to that variable is the gradient with respect to the logits (not for differential attention,
whose two maps would share it). Kernels carry
logical axis names ("embed", "heads", "kv") so the trainer's sharding rules place them; no
biases by default (the paper's LMs and PAX use none).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from laser.attention import (
    IMPLEMENTATIONS,
    KINDS,
    attention_weights,
    diff_attention,
    dot_product_attention,
    lambda_init,
)
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
      differential: Differential attention (Ye et al. 2024): each of the module's `num_heads`
        heads has two query/key halves of `head_dim` and one value of 2 * head_dim, and outputs
        RMSNorm(A1 - lam * A2) * (1 - lam_init) of its two maps A1, A2 (softmax attention, or
        LASER's log(softmax(QK^T) exp(V)) for the LASER kinds). lam is re-parameterised per
        layer (MultiHeadAttention's docstring). The projections then have the parameters of a
        standard module with 2 * num_heads heads of head_dim.
    """

    kind: str = "softmax"
    temperature: float = 1.0
    per_dim_scale: bool = False
    qk_norm: bool = False
    block_size: int = 512
    implementation: str | None = None
    differential: bool = False

    def __post_init__(self):
        problems = {
            "kind": (self.kind in KINDS, ", ".join(KINDS)),
            "temperature": (self.temperature > 0, "a number > 0"),
            "block_size": (self.block_size > 0, "an integer > 0"),
            "implementation": (
                self.implementation in IMPLEMENTATIONS,
                ", ".join(str(i) for i in IMPLEMENTATIONS),
            ),
            "differential": (isinstance(self.differential, bool), "true or false"),
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

    With `attention.differential` it is Ye et al.'s multi-head differential attention
    (microsoft/unilm Diff-Transformer/multihead_diffattn.py; ../shared/REFERENCE.md): the query
    and key projections give 2N (2K) heads of H, taken in adjacent pairs (head 2i is the first
    map of head i, 2i + 1 its second), the value K heads of 2H;
    lam = exp(lambda_q1 . lambda_k1) - exp(lambda_q2 . lambda_k2) + lam_init with four float32
    vectors of length H initialised N(0, 0.1), one lam per layer shared by its heads, and
    lam_init = 0.8 - 0.6 exp(-0.3 * layer) (laser.lambda_init); the difference of the two maps
    goes through an RMSNorm over its 2H features (eps 1e-5, a learnable scale shared by the
    heads; "subln"), times (1 - lam_init), then the output projection from N x 2H.

    Attributes:
      num_heads: query heads N (differential: heads of two maps each).
      head_dim: features per query/key head H (differential: of each half; the value is 2H).
      num_kv_heads: key/value heads K (N % K == 0); default N.
      attention: the attention options (kind, temperature, per-dim scale, QK-norm, kernel,
        differential).
      layer: 0-based index of this attention in its model's stack; sets the differential
        lam_init (models that do not pass it get layer 0's, 0.2).
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
    layer: int = 0
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

        def proj(name, heads, x, width=self.head_dim):
            # Projections run on [batch * seq, d]: XLA:CPU computes the kernel gradient of a dot
            # that contracts two batch axes ~5x slower than the same 2-D matmul (measured).
            init = nn.with_logical_partitioning(self.kernel_init, ("embed", "heads", "kv"))
            out = nn.DenseGeneral(
                (heads, width),
                use_bias=self.use_bias,
                kernel_init=init,
                dtype=self.dtype,
                param_dtype=self.param_dtype,
                name=name,
            )(x.reshape(-1, x.shape[-1]))
            return out.reshape(*x.shape[:-1], heads, width)

        maps = 2 if a.differential else 1  # attention maps per head
        query = proj("query", maps * self.num_heads, inputs_q)  # [B, T, maps * N, H]
        key = proj("key", maps * kv_heads, inputs_kv)  # [B, S, maps * K, H]
        value = proj("value", kv_heads, inputs_kv, maps * self.head_dim)  # [B, S, K, maps * H]
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
        options = dict(
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
        if self.is_mutable_collection("intermediates"):  # measuring: off in init and training
            weights, visible = attention_weights(
                query,
                key,
                bias,
                mask,
                is_causal=is_causal,
                key_value_seq_lengths=key_value_seq_lengths,
                temperature=a.temperature,
                per_dim_scale=p,
            )
            self.sow("intermediates", "attention_weights", weights)
            if visible is not None:
                self.sow("intermediates", "attention_visible", visible)
        if a.differential:
            out = self._differential(query, key, value, bias, mask, options)
        else:
            if self.has_variable("perturbations", "attention_logits"):
                zeros = self.get_variable("perturbations", "attention_logits")
                bias = zeros if bias is None else bias + zeros
            out = dot_product_attention(query, key, value, bias, mask, **options)
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

    def _differential(self, query, key, value, bias, mask, options) -> jax.Array:
        """Ye et al.'s differential attention of the projected heads -> [B, T, N, 2H]."""
        H = self.head_dim

        def halves(x):  # [B, L, 2M, H] -> two [B, L, M, H]: adjacent heads pair up
            x = x.reshape(*x.shape[:-2], x.shape[-2] // 2, 2, H)
            return x[..., 0, :], x[..., 1, :]

        (q1, q2), (k1, k2) = halves(query), halves(key)
        vec = nn.with_logical_partitioning(nn.initializers.normal(stddev=0.1), ("kv",))
        lq1, lk1, lq2, lk2 = (
            self.param(name, vec, (H,), jnp.float32)
            for name in ("lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2")
        )
        lam_init = lambda_init(self.layer)
        lam = jnp.exp(jnp.sum(lq1 * lk1)) - jnp.exp(jnp.sum(lq2 * lk2)) + lam_init
        out = diff_attention(q1, k1, q2, k2, value, lam, bias, mask, **options)
        out = nn.RMSNorm(
            epsilon=1e-5, dtype=self.dtype, param_dtype=self.param_dtype, name="subln"
        )(out)  # over the 2H features of each head; one scale shared by the heads
        return out * jnp.asarray(1.0 - lam_init, out.dtype)
