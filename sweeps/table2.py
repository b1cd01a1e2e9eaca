"""Table 2 (and Table 10): one-shot downstream accuracy of LASER vs standard attention LMs and
their +temp / +per-dim temp variants, 3 seeds each (the paper: one 2.2B run per column).

    make reproduce-table-2 / reproduce-table-10 [PROFILE=paper]

The plain LASER and standard runs are Table 1's (`tiny`, `paper-2.2b` here, because Table 2 is
at 2.2B) and shared with it through Trial.workdir; the variants are trained here. Evaluation
(analysis/downstream.py) writes <workdir>/evals/<step>.json next to each run.
"""

from __future__ import annotations

from sweeps import spec, table1
from sweeps.spec import Sweep, Trial, c4_tokenizer

CONFIG = table1.CONFIG
PROFILES = ("tiny", "paper")
SEEDS = table1.SEEDS
MODEL = {"tiny": "tiny", "paper": "paper-2.2b"}
# "+temp": the paper tuned tau by hand and does not give it; 0.5 (sharper logits) is our choice,
# untuned. "+per-dim temp": softplus-parameterised per-dimension query scale (REFERENCE.md).
TEMPERATURE = 0.5
# Table 2's columns (analysis/paper.py TABLE_2) -> (attention, overrides, trial-name suffix).
COLUMNS = {
    "LASER +per-dim temp": ("laser", ((spec.PER_DIM_SCALE, True),), "-pdt"),
    "LASER": ("laser", (), ""),
    "Standard +per-dim temp": ("softmax", ((spec.PER_DIM_SCALE, True),), "-pdt"),
    "Standard": ("softmax", (), ""),
    "Standard +temp": ("softmax", ((spec.TEMPERATURE, TEMPERATURE),), "-temp"),
}


def trial_name(profile: str, column: str, seed: int) -> str:
    attention, _, suffix = COLUMNS[column]
    return f"{MODEL[profile]}-{attention}{suffix}-seed{seed}"


def where(column: str) -> dict:
    """The overrides that tell `column`'s trials from the other columns' (Sweep.select)."""
    attention, options, _ = COLUMNS[column]
    among = [dict(o) for _, o, _ in COLUMNS.values()]
    return spec.only({spec.ATTENTION: attention, **dict(options)}, among)


def sweep(profile: str) -> Sweep:
    extra = c4_tokenizer(profile)
    trials = []
    for column, (attention, overrides, suffix) in COLUMNS.items():
        for seed in SEEDS:
            name = trial_name(profile, column, seed)
            shared = not suffix and profile == "tiny"  # Table 1 trains the tiny plain runs
            trials.append(
                Trial(
                    name=name,
                    config=CONFIG,
                    profile=MODEL[profile],
                    overrides=(
                        (spec.ATTENTION, attention),
                        *overrides,
                        (spec.SEED, seed),
                        *extra,
                    ),
                    workdir=f"table1-{profile}/{name}" if shared else "",
                )
            )
    return Sweep(name="table2", trials=tuple(trials), metric="test/loss", description=__doc__)
