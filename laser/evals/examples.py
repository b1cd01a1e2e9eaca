"""The common example type of the downstream tasks and the one-shot prompt builder.

Every task, whatever its source (OLMo's Arrow files, tfds, the Shakespeare cloze), becomes a
list of MultipleChoice examples: a context and candidate continuations, one of them correct.
Scoring (laser/evals/scoring.py) reads the log-likelihood of each candidate given the prompt.
"""

from __future__ import annotations

import dataclasses

import numpy as np

# Between the demonstration and the example (GPT-3's few-shot format).
SEPARATOR = "\n\n"


@dataclasses.dataclass(frozen=True)
class MultipleChoice:
    """context + candidates[label] is the correct text; candidates start with their space."""

    context: str
    candidates: tuple[str, ...]
    label: int

    def __post_init__(self):
        if not 0 <= self.label < len(self.candidates):
            raise ValueError(f"label {self.label} outside {len(self.candidates)} candidates")


def subset(examples: list[MultipleChoice], limit: int, seed: int) -> list[MultipleChoice]:
    """A seeded subset of at most `limit` examples (all of them, in order, if limit <= 0)."""
    if limit <= 0 or limit >= len(examples):
        return list(examples)
    keep = np.sort(np.random.default_rng(seed).choice(len(examples), limit, replace=False))
    return [examples[i] for i in keep]


def one_shot(
    examples: list[MultipleChoice], pool: list[MultipleChoice], seed: int
) -> list[MultipleChoice]:
    """Each example with one solved demonstration from `pool` prepended to its context.

    The demonstration of example i is drawn with a generator seeded by (seed, i), so it does
    not depend on which other examples are evaluated; it is never the example itself (when the
    pool is the evaluated split, as for the validation-only offline data)."""
    out = []
    for i, ex in enumerate(examples):
        rng = np.random.default_rng([seed, i])
        demo = pool[int(rng.integers(len(pool)))]
        while demo == ex and len(pool) > 1:
            demo = pool[int(rng.integers(len(pool)))]
        shown = demo.context + demo.candidates[demo.label]
        out.append(dataclasses.replace(ex, context=shown.strip() + SEPARATOR + ex.context))
    return out
