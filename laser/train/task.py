"""The task interface: what the generic trainer needs from an experiment.

A task owns its model, its data and its loss; the trainer owns the loop, the optimiser, the
sharding, checkpoints and run records. Tasks register in TASKS under the name a config gives in
`config.task` (this module stays free of model and data imports; see laser/train/tasks.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import flax.linen as nn
import jax
import numpy as np

Batch = dict[str, np.ndarray]


class Task(Protocol):
    model: nn.Module
    eval_splits: tuple[str, ...]

    def example_batch(self) -> Batch:
        """A global batch with the training shapes (for init and compilation)."""

    def model_inputs(self, batch: Batch) -> tuple:
        """Positional arguments of model.apply for a batch."""

    def loss_fn(
        self, params, batch: dict[str, jax.Array], rng: jax.Array | None, train: bool
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        """(mean loss, aux) where aux holds at least "loss_sum" and "weight_sum".

        Evaluation reports every "<metric>_sum" in aux summed over the eval batches and divided
        by "<metric>_count" if aux has one, else by "weight_sum" (e.g. "error_sum" gives the
        error rate). A task may also define `host_sums(aux, batch) -> dict[str, float]` for
        metrics computed on the host from the eval step's outputs (e.g. WER after decoding).

        Models with non-parameter collections (e.g. BatchNorm's "batch_stats") get them from
        the trainer as `loss_fn(params, batch, rng, train, model_state=...)` and return
        (mean loss, (aux, new model_state)); the trainer carries the state through training,
        evaluation and checkpoints (state["model_state"]). Models without them are called as
        above."""

    def train_batch(self, step: int) -> Batch:
        """This process's rows of the global training batch of `step`: a pure function of
        (seed, step), so that a resumed run sees the batches an uninterrupted one would."""

    def eval_batches(self, split: str) -> Iterable[Batch]:
        """This process's rows of the evaluation batches of `split`, always the same."""

    # Optional: `initial_params(params) -> params`, given the freshly initialised parameters,
    # returns the ones training starts from (fine-tuning: pretrained weights, new head kept).

    def items(self, batch: Batch) -> int:
        """What throughput counts in a batch (tokens for an LM)."""
