"""The masked-LM task (BERT, paper §4.2): cross-entropy and error over the masked positions only.

Batches hold MLPerf's six features: input_ids, input_mask, segment_ids [B, seq_len] int32 and
masked_lm_positions, masked_lm_ids [B, max_predictions] int32, masked_lm_weights float32 (1 on
a real prediction, 0 on a padding slot). The loss is the masked_lm_weights-weighted mean
cross-entropy of the predictions (MLPerf's get_masked_lm_output); "error" = 1 - MLPerf's
masked_lm_accuracy, i.e. the weighted share of predictions whose argmax is not the original
token; "accuracy" is reported beside it. No next-sentence prediction (experiments/bert_mlm).

Data (`data.name`): "gensim_wiki" (tiny; laser.data.wikipedia, gensim's Wikipedia articles),
"mlperf" (paper; MLPerf's TFRecords, laser.data.mlperf_bert) or "wikipedia" (paper; tfds
wikipedia with MLPerf's vocab.txt). The first and last are masked here, by step, with
laser.data.mlm's one masking function; MLPerf's records come masked.
"""

from __future__ import annotations

from collections.abc import Iterable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from laser.data import mlm
from laser.data.batches import StepBatches, local_rows
from laser.nn import bert
from laser.train.task import Batch, Problems, Task

DATASETS = ("gensim_wiki", "mlperf", "wikipedia")


def mlm_sums(logits: jax.Array, labels: jax.Array, weights: jax.Array) -> dict[str, jax.Array]:
    """Weighted sums over the predictions: logits [B, P, V], labels [B, P] int, weights [B, P]
    -> "loss_sum" (cross-entropy), "error_sum" (argmax != label), "accuracy_sum", "weight_sum".
    Evaluation divides each by weight_sum: MLPerf's masked_lm_loss, 1 - accuracy, accuracy."""
    losses = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    correct = (jnp.argmax(logits, -1) == labels).astype(jnp.float32)
    return {
        "loss_sum": jnp.sum(losses * weights),
        "error_sum": jnp.sum((1.0 - correct) * weights),
        "accuracy_sum": jnp.sum(correct * weights),
        "weight_sum": jnp.sum(weights),
    }


class MaskedLMTask(Task):
    """BERT's masked-LM loss and error; one eval split, "valid" (held-out sequences)."""

    eval_splits = ("valid",)

    @classmethod
    def check_config(cls, config: ml_collections.ConfigDict) -> Problems:
        d, m = config.data, config.model
        if d.name not in DATASETS:
            return [("data.name", d.name, ", ".join(DATASETS))]
        if d.seq_len > m.max_positions:
            return [("data.seq_len", d.seq_len, f"at most model.max_positions={m.max_positions}")]
        if not 1 <= d.max_predictions <= d.seq_len - 2:
            return [("data.max_predictions", d.max_predictions, "1 .. data.seq_len - 2")]
        if not 0.0 < d.masked_lm_prob < 1.0:
            return [("data.masked_lm_prob", d.masked_lm_prob, "0 < value < 1")]
        if d.name == "gensim_wiki":
            from laser.data import wikipedia

            if wikipedia.gensim_path() is None:
                return [("data.name", d.name, "gensim installed (make setup), or mlperf")]
            if d.vocab_size != m.vocab_size:
                return [("data.vocab_size", d.vocab_size, f"model.vocab_size ({m.vocab_size})")]
        elif d.name == "mlperf":
            from laser.configs import ConfigError
            from laser.data import mlperf_bert

            for key in ("data.train_files", "data.eval_files"):
                problem = mlperf_bert.check(key, d[key.split(".")[1]], d.seq_len, d.max_predictions)
                if problem:
                    raise ConfigError(problem)  # its own wording: the file and what it holds
        else:
            from laser.data.wordpiece import WordPiece

            size = len(WordPiece(d.vocab_path))  # ConfigError for a missing or bad file
            if size != m.vocab_size:
                return [("data.vocab_path", d.vocab_path, f"{m.vocab_size} pieces (has {size})")]
        return super().check_config(config)

    def __init__(self, config: ml_collections.ConfigDict):
        super().__init__(config)
        self.model = bert.from_config(config.model)
        d = config.data
        self.batch_size, self.seed = d.batch_size, config.train.seed
        self.local_batch = self.batch_size // jax.process_count()
        self.masking = None
        if d.name == "gensim_wiki":
            from laser.data import wikipedia

            ids = (wikipedia.CLS_ID, wikipedia.SEP_ID, wikipedia.MASK_ID)
            self.masking = self._masking(d.vocab_size, *ids)
            self._sequences = {
                s: wikipedia.sequences(s, d.vocab_size, self.masking) for s in ("train", "valid")
            }
        elif d.name == "wikipedia":
            from laser.data.wordpiece import WordPiece

            wp = WordPiece(d.vocab_path)
            self.masking = self._masking(len(wp), wp.cls_id, wp.sep_id, wp.mask_id)
            self._train = StepBatches(self._wikipedia_train_from)
        else:
            self._train = StepBatches(self._mlperf_train_from)

    def _masking(self, vocab_size: int, cls_id: int, sep_id: int, mask_id: int) -> mlm.Masking:
        d = self.config.data
        return mlm.Masking(
            vocab_size=vocab_size,
            cls_id=cls_id,
            sep_id=sep_id,
            mask_id=mask_id,
            seq_len=d.seq_len,
            max_predictions=d.max_predictions,
            masked_lm_prob=d.masked_lm_prob,
        )

    def example_batch(self) -> Batch:
        d = self.config.data
        seq, preds = (self.batch_size, d.seq_len), (self.batch_size, d.max_predictions)
        batch = {k: np.zeros(seq if k in mlm.KEYS[:3] else preds, np.int32) for k in mlm.KEYS}
        batch["masked_lm_weights"] = np.ones(preds, np.float32)
        return batch

    def model_inputs(self, batch: Batch) -> tuple:
        keys = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions")
        return tuple(batch[k] for k in keys)

    def loss_fn(self, params, model_state, batch, rng, train: bool):
        rngs = {"dropout": rng} if train and rng is not None else {}
        logits = self.model.apply(
            {"params": params}, *self.model_inputs(batch), deterministic=not train, rngs=rngs
        )  # [B, P, vocab]
        aux = mlm_sums(logits, batch["masked_lm_ids"], batch["masked_lm_weights"])
        return aux["loss_sum"] / jnp.maximum(aux["weight_sum"], 1.0), (aux, model_state)

    def items(self, batch: Batch) -> int:
        """Real tokens (input_mask) the batch holds: throughput in tokens per second."""
        return int(np.asarray(batch["input_mask"]).sum())

    def train_batch(self, step: int) -> Batch:
        if self.config.data.name == "gensim_wiki":
            full = mlm.train_batch(
                self._sequences["train"], self.seed, step, self.batch_size, self.masking
            )
            return local_rows(full)
        batch = self._train(step)
        if self.masking is None:  # MLPerf's records come masked
            return batch
        from laser.data.wikipedia import unpadded

        return mlm.mask_batch(unpadded(batch), (self.seed, step, jax.process_index()), self.masking)

    def _wikipedia(self, split: str):
        from laser.data import wikipedia

        d = self.config.data
        return wikipedia.tfds_dataset(
            split,
            d.vocab_path,
            self.masking,
            self.local_batch,
            self.seed,
            d.eval_articles,
            name=d.tfds_name,
            data_dir=d.tfds_data_dir or None,
            shuffle_buffer=d.shuffle_buffer,
            process_index=jax.process_index(),
            process_count=jax.process_count(),
        )

    def _wikipedia_train_from(self, step: int):
        return self._wikipedia("train").skip(step).as_numpy_iterator()

    def _mlperf(self, pattern: str, train: bool):
        from laser.data import mlperf_bert

        d = self.config.data
        return mlperf_bert.dataset(
            pattern,
            d.seq_len,
            d.max_predictions,
            self.local_batch,
            self.seed,
            train,
            shuffle_buffer=d.shuffle_buffer,
            process_index=jax.process_index(),
            process_count=jax.process_count(),
        )

    def _mlperf_train_from(self, step: int):
        return self._mlperf(self.config.data.train_files, True).skip(step).as_numpy_iterator()

    def eval_batches(self, split: str) -> Iterable[Batch]:
        d, limit = self.config.data, self.config.train.eval_batches
        if d.name == "gensim_wiki":
            batches = (
                local_rows(b)
                for b in mlm.eval_batches(self._sequences[split], self.batch_size, self.masking)
            )
        elif d.name == "wikipedia":
            from laser.data.wikipedia import unpadded

            seeds = (mlm.EVAL_SEED, jax.process_index())
            batches = (
                mlm.mask_batch(unpadded(b), (*seeds, i), self.masking)
                for i, b in enumerate(self._wikipedia(split).as_numpy_iterator())
            )
        else:
            batches = self._mlperf(d.eval_files, False).as_numpy_iterator()
        for i, batch in enumerate(batches):
            if limit and i >= limit:
                return
            yield batch
