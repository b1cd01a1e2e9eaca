"""Paper-scale source of the downstream tasks: tfds `super_glue` (train and validation splits),
converted to the same MultipleChoice examples and prompt formats as laser/evals/olmo_data.py.

Needs the prepared tfds datasets (`tfds build super_glue/<config>` or a data_dir holding them);
tested offline under tfds.testing.mock_data. Labels follow tfds: rte 0 entailment /
1 not_entailment, cb 0 entailment / 1 contradiction / 2 neutral, wic and wsc 0 false / 1 true.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from laser.evals import olmo_data
from laser.evals.examples import MultipleChoice

Row = dict[str, Any]


def _text(row: Row) -> Row:
    return {k: v.decode() if isinstance(v, bytes) else v for k, v in row.items()}


def _copa(r: Row) -> MultipleChoice:
    return olmo_data._copa(r)


def _rte(r: Row) -> MultipleChoice:
    return olmo_data._rte({"sentence1": r["premise"], "sentence2": r["hypothesis"], **r})


def _wic(r: Row) -> MultipleChoice:
    context = (
        f"{r['sentence1']}\n{r['sentence2']}\nQuestion: Is the word '{r['word']}' used in the "
        "same way in the two sentences above?\nAnswer:"
    )
    return MultipleChoice(context, (" no", " yes"), int(r["label"]))


def _wsc(r: Row) -> MultipleChoice:
    context = (
        f'{r["text"]}\nQuestion: In the passage above, does the pronoun "{r["span2_text"]}" '
        f'refer to "{r["span1_text"]}"?\nAnswer:'
    )
    return MultipleChoice(context, (" no", " yes"), int(r["label"]))


def _boolq(r: Row) -> MultipleChoice:
    return olmo_data._boolq({"answer": bool(r["label"]), **r})


# Task -> (tfds name, row -> example).
CONVERT: dict[str, tuple[str, Callable[[Row], MultipleChoice]]] = {
    "copa": ("super_glue/copa", _copa),
    "rte": ("super_glue/rte", _rte),
    "wic": ("super_glue/wic", _wic),
    "wsc": ("super_glue/wsc.fixed", _wsc),
    "cb": ("super_glue/cb", olmo_data._cb),
    "boolq": ("super_glue/boolq", _boolq),
}
FINETUNE_TASKS = tuple(CONVERT)


def load(task: str, split: str, data_dir: str | None = None) -> list[MultipleChoice]:
    """All examples of tfds `split` ("train", "validation") of `task` (a key of CONVERT)."""
    import tensorflow_datasets as tfds

    name, convert = CONVERT[task]
    ds = tfds.load(name, split=split, data_dir=data_dir, shuffle_files=False)
    return [convert(_text(row)) for row in tfds.as_numpy(ds)]
