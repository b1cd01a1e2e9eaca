"""Task name -> constructor, and task name -> config checks. One line per task; experiments name
theirs in `config.task`. Imports are lazy so that a task's model and data libraries load only
when a config uses it."""

from __future__ import annotations

import importlib
from collections.abc import Callable

import ml_collections

from laser.train.task import Task


def _lazy(module: str, name: str) -> Callable:
    def call(config: ml_collections.ConfigDict):
        return getattr(importlib.import_module(module), name)(config)

    call.__qualname__ = f"{module}.{name}"
    return call


TASKS: dict[str, Callable[[ml_collections.ConfigDict], Task]] = {
    "causal_lm": _lazy("laser.train.causal_lm", "CausalLMTask"),
    "classification": _lazy("laser.train.classification", "ClassificationTask"),
    "ctc": _lazy("laser.train.ctc", "CTCTask"),
    "finetune": _lazy("laser.train.finetune", "FinetuneTask"),
}
# Task-specific config checks: (key, value, accepted) for each problem, before anything runs.
CHECKS: dict[str, Callable[[ml_collections.ConfigDict], list]] = {
    "causal_lm": _lazy("laser.train.causal_lm", "validate"),
    "classification": _lazy("laser.train.classification", "validate"),
    "ctc": _lazy("laser.train.ctc", "validate"),
    "finetune": _lazy("laser.train.finetune", "validate"),
}
