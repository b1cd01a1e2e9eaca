"""BERT: an encoder-only Transformer with the masked-LM head (paper §4.2, MLPerf's reference BERT).

    (token + position + segment embeddings) -> blocks (bidirectional attention, padding masked)
    -> gather the masked positions -> Dense(d) + GELU + LN -> tied decoder E^T + bias -> logits

As MLPerf's reference (mlcommons/training language_model/tensorflow/bert, modeling.py and
run_pretraining.py's get_masked_lm_output): learned position (max_positions) and segment
(type_vocab_size) embeddings, biases on every projection, GELU (tanh form) MLP, LayerNorm
epsilon 1e-12, truncated-normal(0.02) initialisation, dropout after the embeddings, on each
residual branch and on the attention weights, and the MLM head's transform then the word
embedding reused as the output matrix with its own bias. Logits are computed only at the
`masked_lm_positions` ([B, P] of the at most P predictions per sequence), never for all tokens.

Attention is the suite's laser.nn.MultiHeadAttention with the model's one `attention`
(laser.nn.AttentionConfig), bidirectional, with the padding mask built from `input_mask`
(True = a real token); LASER's column max is then taken over the real keys only.

Pre-LN by default (`post_ln=False`): h = x + Attn(LN(x)); y = h + MLP(LN(h)), a final LN.
MLPerf's BERT is post-LN (x = LN(x + Attn(x)); y = LN(h + MLP(h)), LN on the embeddings), but
a 2.2B, 32-layer post-LN BERT is the case where post-LN is known to fail: Megatron-LM
(Shoeybi et al., 2019, §4.2) found BERT beyond 336M parameters degrading or diverging with the
original arrangement and trained its 1.3B/3.9B BERTs only after swapping to pre-LN; Xiong et al.
(2020) show post-LN needs a careful warmup as depth grows. The paper's own LMs (PAX) are pre-LN
and the paper says nothing of BERT's. `post_ln=True` gives MLPerf's arrangement.

Sizes (heads x head_dim need not equal d): the paper's 2.2B is d 2048, MLP 8192, 16 x 256
heads; with 32 layers and MLPerf's 30,522-piece vocabulary that is 2.21B parameters
(experiments/bert_mlm/config.py).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from laser.nn.attention import AttentionConfig, MultiHeadAttention
from laser.nn.params import count_params

LN_EPSILON = 1e-12  # MLPerf's modeling.layer_norm


def _init(std: float) -> nn.initializers.Initializer:
    return nn.initializers.truncated_normal(stddev=std)


class EncoderBlock(nn.Module):
    """One bidirectional encoder block on [B, T, d]."""

    num_heads: int
    head_dim: int
    mlp_dim: int
    attention: AttentionConfig = AttentionConfig()
    post_ln: bool = False
    dropout_rate: float = 0.0
    attention_dropout_rate: float = 0.0
    init_std: float = 0.02
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, mask: jax.Array, deterministic: bool = True) -> jax.Array:
        """x [B, T, d], mask [B, 1, 1, T] bool (True = real key) -> [B, T, d]."""
        width = x.shape[-1]
        drop = nn.Dropout(self.dropout_rate, deterministic=deterministic)
        ln = dict(epsilon=LN_EPSILON, dtype=self.dtype)

        def attend(h):
            return MultiHeadAttention(
                num_heads=self.num_heads,
                head_dim=self.head_dim,
                attention=self.attention,
                use_bias=True,
                dropout_rate=self.attention_dropout_rate,
                kernel_init=_init(self.init_std),
                dtype=self.dtype,
                name="attention",
            )(h, mask=mask, deterministic=deterministic)

        def mlp(h):
            # On [B*T, d]: 2-D matmuls are faster on XLA:CPU (see transformer_lm). Logical axes
            # as the LM's, so fsdp shards these kernels along "embed" (laser/train/sharding.py).
            init = _init(self.init_std)
            h = nn.Dense(
                self.mlp_dim,
                name="mlp_in",
                kernel_init=nn.with_logical_partitioning(init, ("embed", "mlp")),
                dtype=self.dtype,
            )(h.reshape(-1, width))
            return nn.Dense(
                width,
                name="mlp_out",
                kernel_init=nn.with_logical_partitioning(init, ("mlp", "embed")),
                dtype=self.dtype,
            )(nn.gelu(h)).reshape(x.shape)

        if self.post_ln:
            x = nn.LayerNorm(name="ln_attention", **ln)(x + drop(attend(x)))
            return nn.LayerNorm(name="ln_mlp", **ln)(x + drop(mlp(x)))
        x = x + drop(attend(nn.LayerNorm(name="ln_attention", **ln)(x)))
        return x + drop(mlp(nn.LayerNorm(name="ln_mlp", **ln)(x)))


class Bert(nn.Module):
    """(input_ids, input_mask, segment_ids [B, T] int, masked_lm_positions [B, P] int) ->
    masked-LM logits [B, P, vocab] float32."""

    vocab_size: int
    num_layers: int
    model_dim: int
    num_heads: int
    head_dim: int
    mlp_dim: int
    max_positions: int = 512
    type_vocab_size: int = 2
    attention: AttentionConfig = AttentionConfig()
    post_ln: bool = False
    dropout_rate: float = 0.0
    attention_dropout_rate: float = 0.0
    init_std: float = 0.02
    dtype: Any = jnp.float32
    remat: bool = False

    @nn.compact
    def __call__(
        self,
        input_ids: jax.Array,
        input_mask: jax.Array,
        segment_ids: jax.Array,
        masked_lm_positions: jax.Array,
        deterministic: bool = True,
    ) -> jax.Array:
        d, length = self.model_dim, input_ids.shape[-1]
        ln = dict(epsilon=LN_EPSILON, dtype=self.dtype)
        # Sharded along "embed" by fsdp; the position, segment and MLM-head weights (~5M at the
        # paper's size) stay replicated.
        embed = nn.Embed(
            self.vocab_size,
            d,
            embedding_init=nn.with_logical_partitioning(_init(self.init_std), ("vocab", "embed")),
            dtype=self.dtype,
            name="embed",
        )
        positions = self.param("position_embed", _init(self.init_std), (self.max_positions, d))
        segments = nn.Embed(
            self.type_vocab_size, d, embedding_init=_init(self.init_std), dtype=self.dtype,
            name="segment_embed",
        )  # fmt: skip
        x = embed(input_ids) + segments(segment_ids) + positions[:length].astype(self.dtype)
        if self.post_ln:  # MLPerf normalises the embeddings; pre-LN blocks normalise their input
            x = nn.LayerNorm(name="ln_embed", **ln)(x)
        x = nn.Dropout(self.dropout_rate, deterministic=deterministic)(x)
        mask = input_mask.astype(bool)[:, None, None, :]  # [B, 1, 1, T]: padding is no key
        block = nn.remat(EncoderBlock, static_argnums=(3,)) if self.remat else EncoderBlock
        for i in range(self.num_layers):
            x = block(
                num_heads=self.num_heads,
                head_dim=self.head_dim,
                mlp_dim=self.mlp_dim,
                attention=self.attention,
                post_ln=self.post_ln,
                dropout_rate=self.dropout_rate,
                attention_dropout_rate=self.attention_dropout_rate,
                init_std=self.init_std,
                dtype=self.dtype,
                name=f"block_{i}",
            )(x, mask, deterministic)
        if not self.post_ln:
            x = nn.LayerNorm(name="ln_final", **ln)(x)
        # The head sees only the masked positions: [B, P, d] (MLPerf's gather_indexes).
        h = jnp.take_along_axis(x, masked_lm_positions[..., None].astype(jnp.int32), axis=1)
        h = h.reshape(-1, d)
        h = nn.gelu(
            nn.Dense(d, kernel_init=_init(self.init_std), dtype=self.dtype, name="mlm_dense")(h)
        )
        h = nn.LayerNorm(name="mlm_ln", **ln)(h)
        bias = self.param("mlm_bias", nn.initializers.zeros, (self.vocab_size,))
        logits = embed.attend(h) + bias.astype(self.dtype)  # tied output embedding
        return logits.reshape(*masked_lm_positions.shape, self.vocab_size).astype(jnp.float32)


def from_config(m: ml_collections.ConfigDict) -> Bert:
    """The model of a config's `model` section (experiments/bert_mlm/config.py)."""
    return Bert(
        vocab_size=m.vocab_size,
        num_layers=m.num_layers,
        model_dim=m.model_dim,
        num_heads=m.num_heads,
        head_dim=m.head_dim,
        mlp_dim=m.mlp_dim,
        max_positions=m.max_positions,
        type_vocab_size=m.type_vocab_size,
        attention=AttentionConfig.from_config(m.attention),
        post_ln=m.post_ln,
        dropout_rate=m.dropout_rate,
        attention_dropout_rate=m.attention_dropout_rate,
        init_std=m.init_std,
        dtype=jnp.dtype(m.dtype),
        remat=m.remat,
    )


def param_count(model: Bert, seq_len: int = 8, predictions: int = 2) -> int:
    """Number of parameters, from shapes only (nothing is allocated)."""
    ids = jnp.zeros((1, seq_len), jnp.int32)
    return count_params(model, ids, ids, ids, jnp.zeros((1, predictions), jnp.int32))
