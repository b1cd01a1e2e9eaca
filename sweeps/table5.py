"""Table 5: Conformer WER (valid, test, train) of six attention variants, 3 seeds each (the
paper reports 5 seeds of the best of 50 Table 8 trials per variant).

    make reproduce-table-5 [PROFILE=paper]

Per-dim query scaling is on in every variant (AlgoPerf's Conformer has it built in); "+temp"
divides the logits by experiments/conformer_librispeech/config.py's TAU.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from sweeps.spec import ATTENTION, QK_NORM, SEED, TEMPERATURE, Sweep, Trial, only

CONFIG = "experiments/conformer_librispeech/config.py"
PROFILES = ("tiny", "paper")
SEEDS = (0, 1, 2)


def _tau() -> float:
    path = Path(__file__).resolve().parents[1] / CONFIG
    spec = importlib.util.spec_from_file_location("conformer_config", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TAU


TAU = _tau()
# Table 5's rows (analysis/paper.py TABLE_5 labels) -> (trial prefix, overrides).
VARIANTS = {
    "Standard": ("standard", {ATTENTION: "softmax"}),
    "Standard + temp": ("standard-temp", {ATTENTION: "softmax", TEMPERATURE: TAU}),
    "Standard + QK-Normalization": ("standard-qknorm", {ATTENTION: "softmax", QK_NORM: True}),
    "LASER": ("laser", {ATTENTION: "laser"}),
    "LASER + temp": ("laser-temp", {ATTENTION: "laser", TEMPERATURE: TAU}),
    "LASER + QK-Normalization": ("laser-qknorm", {ATTENTION: "laser", QK_NORM: True}),
}


def where(variant: str) -> dict:
    """The overrides that tell `variant`'s trials from the other variants' (Sweep.select)."""
    return only(VARIANTS[variant][1], [overrides for _, overrides in VARIANTS.values()])


def sweep(profile: str) -> Sweep:
    trials = tuple(
        Trial(
            name=f"{prefix}-seed{seed}",
            config=CONFIG,
            profile=profile,
            overrides=(*overrides.items(), (SEED, seed)),
        )
        for prefix, overrides in VARIANTS.values()
        for seed in SEEDS
    )
    return Sweep(name="table5", trials=trials, metric="valid/wer", description=__doc__)
