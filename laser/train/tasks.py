"""Task name -> constructor. One line per task; experiments name theirs in `config.task`."""

from __future__ import annotations

from collections.abc import Callable

import ml_collections

from laser.train.task import Task


def _causal_lm(config: ml_collections.ConfigDict) -> Task:
    from laser.train.causal_lm import CausalLMTask

    return CausalLMTask(config)


TASKS: dict[str, Callable[[ml_collections.ConfigDict], Task]] = {"causal_lm": _causal_lm}
