"""Task name -> constructor. One line per task; experiments name theirs in `config.task`."""

from __future__ import annotations

from collections.abc import Callable

import ml_collections

from laser.train.task import Task


def _causal_lm(config: ml_collections.ConfigDict) -> Task:
    from laser.train.causal_lm import CausalLMTask

    return CausalLMTask(config)


def _causal_lm_checks(config: ml_collections.ConfigDict) -> list[tuple[str, object, str]]:
    from laser.train.causal_lm import validate

    return validate(config)


TASKS: dict[str, Callable[[ml_collections.ConfigDict], Task]] = {"causal_lm": _causal_lm}
# Task-specific config checks: (key, value, accepted) for each problem, before anything runs.
CHECKS: dict[str, Callable[[ml_collections.ConfigDict], list]] = {"causal_lm": _causal_lm_checks}
