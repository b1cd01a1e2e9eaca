"""The task contract: what the generic trainer needs from an experiment, and the task registry.

A task owns its model, its data and its loss; the trainer (laser/train/trainer.py) owns the
loop, the optimiser, the sharding, checkpoints and run records. A task is a subclass of `Task`
named in REGISTRY under the string a config gives in `config.task`. The trainer calls exactly
the methods below, nothing else, and never probes a task for optional attributes: the optional
hooks have defaults here that do nothing.

Registry entries are "module:Class" strings, imported on first use, so a task's model and data
libraries (tensorflow, tfds, jiwer, ...) load only when a config names it.
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Iterable
from typing import Any

import flax.linen as nn
import jax
import ml_collections
import numpy as np

from laser.configs import ConfigError
from laser.nn.attention import AttentionConfig

Batch = dict[str, np.ndarray]
Problems = list[tuple[str, Any, str]]  # (config key, bad value, what is accepted)

REGISTRY: dict[str, str] = {
    "causal_lm": "laser.train.causal_lm:CausalLMTask",
    "classification": "laser.train.classification:ClassificationTask",
    "ctc": "laser.train.ctc:CTCTask",
    "finetune": "laser.train.finetune:FinetuneTask",
    "masked_lm": "laser.train.masked_lm:MaskedLMTask",
}


def task_class(name: str) -> type[Task]:
    """The Task subclass registered under `name` (ConfigError naming the registered ones)."""
    if name not in REGISTRY:
        raise ConfigError(f"config task={name!r}: accepted: {', '.join(REGISTRY)}")
    module, _, cls = REGISTRY[name].partition(":")
    return getattr(importlib.import_module(module), cls)


class Task(abc.ABC):
    """One experiment's model, data and loss, built from its whole config.

    Subclasses set `model` (a Flax module) and `eval_splits` (names of the evaluation splits)
    in __init__ and implement the abstract methods. Batches are dicts of NumPy arrays; the
    trainer shards them over the mesh's data axis.
    """

    model: nn.Module
    eval_splits: tuple[str, ...]

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config

    @classmethod
    def check_config(cls, config: ml_collections.ConfigDict) -> Problems:
        """Problems with the config this task would fail on, found before anything is written
        or loaded: a list of (key, value, accepted); the trainer reports the first as a one-line
        ConfigError. The default checks the `model.attention` section, if the model has one
        (AttentionConfig raises ConfigError on a bad key or value); subclasses add their own
        checks and call this one."""
        model = config.get("model")
        if isinstance(model, ml_collections.ConfigDict) and "attention" in model:
            AttentionConfig.from_config(model.attention)
        return []

    @abc.abstractmethod
    def example_batch(self) -> Batch:
        """A global batch with the training shapes (zeros will do: for init and compilation)."""

    @abc.abstractmethod
    def model_inputs(self, batch: Batch) -> tuple:
        """Positional arguments of model.init for a batch."""

    @abc.abstractmethod
    def loss_fn(
        self,
        params: Any,
        model_state: dict[str, Any],
        batch: dict[str, jax.Array],
        rng: jax.Array | None,
        train: bool,
    ) -> tuple[jax.Array, tuple[dict[str, jax.Array], dict[str, Any]]]:
        """(mean loss, (aux, new model_state)); traced under jit, differentiated in params.

        `model_state` holds the model's non-parameter collections (BatchNorm's "batch_stats"),
        {} for models without any; the trainer carries what is returned through training,
        evaluation and checkpoints. `rng` is the step's key when `train`, else None.

        aux holds at least "loss_sum" (or another "<metric>_sum") and "weight_sum". Evaluation
        reports every "<metric>_sum" summed over the eval batches and divided by
        "<metric>_count" if aux has one, else by "weight_sum" (e.g. "error_sum" gives the error
        rate). Other aux entries (arrays) are for `host_sums`."""

    @abc.abstractmethod
    def train_batch(self, step: int) -> Batch:
        """This process's rows of the global training batch of `step`: a pure function of
        (seed, step), so that a resumed run sees the batches an uninterrupted one would."""

    @abc.abstractmethod
    def eval_batches(self, split: str) -> Iterable[Batch]:
        """This process's rows of the evaluation batches of `split`, always the same."""

    def items(self, batch: Batch) -> int:
        """What throughput counts in a batch; default the sum of its "weights" (tokens of an
        LM, real rows of a classifier)."""
        return int(np.asarray(batch["weights"]).sum())

    def host_sums(self, aux: dict[str, np.ndarray], batch: Batch) -> dict[str, float]:
        """Extra "<metric>_sum"/"<metric>_count" values computed on the host from an eval
        step's aux (e.g. WER after decoding); default none."""
        del aux, batch
        return {}

    def initial_params(self, params: Any) -> Any:
        """The parameters training starts from, given freshly initialised ones; default those
        (fine-tuning returns a pretrained checkpoint's)."""
        return params
