"""Table 4: ViT error rates (valid, test, train) of 8 attention variants x seeds (0, 1, 2).

    make reproduce-table-4 [PROFILE=paper] [SWEEP=1]
    python -m sweeps.run sweeps/table4.py --profile tiny --jobs 2

The paper ran its best standard-attention configuration with 5 seeds per row; we run 3. With
VIT_HPARAMS=<path of a vit_search best.json> (what `SWEEP=1` sets) every trial also takes the
best trial's overrides (seed excluded), and the sweep is named "table4-tuned" so tuned runs
never share workdirs with untuned ones.

"+temp" divides the logits by TEMPERATURE (logits / (tau sqrt(d))). The paper tuned tau by hand
and does not report it, only that lower temperatures (sharper attention) tend to hurt; we use
tau = 2 (softer than standard). Source of the choice: a hand probe on the tiny profile (standard
attention, seed 0, tau in {0.5, 2}; see experiments/vit_imagenet/README.md); not re-tuned per scale.
"""

from __future__ import annotations

import os

from laser.main import best_trial_overrides
from sweeps import spec
from sweeps.spec import Sweep, Trial

CONFIG = "experiments/vit_imagenet/config.py"
PROFILES = ("tiny", "paper")
SEEDS = (0, 1, 2)
TEMPERATURE = 2.0
HPARAMS_ENV = "VIT_HPARAMS"
# Table 4's rows (analysis/paper.py TABLE_4 names): the options each one sets.
OPTIONS = {
    "": (),
    " + temp": ((spec.TEMPERATURE, TEMPERATURE),),
    " + QK-normalization": ((spec.QK_NORM, True),),
    " + per-dim temp": ((spec.PER_DIM_SCALE, True),),
}
ATTENTIONS = {"Standard": "softmax", "LASER": "laser"}
ROWS = {
    f"{label}{suffix}": ((spec.ATTENTION, kind), *options)
    for label, kind in ATTENTIONS.items()
    for suffix, options in OPTIONS.items()
}
SLUGS = {"": "", " + temp": "-temp", " + QK-normalization": "-qknorm", " + per-dim temp": "-perdim"}


def trial_name(row: str, seed: int) -> str:
    """ "LASER + temp", 1 -> "laser-temp-seed1"."""
    label, _, rest = row.partition(" + ")
    suffix = f" + {rest}" if rest else ""
    return f"{ATTENTIONS[label]}{SLUGS[suffix]}-seed{seed}"


def where(row: str) -> dict:
    """The overrides that tell `row`'s trials from the other rows' (Sweep.select)."""
    return spec.only(dict(ROWS[row]), [dict(options) for options in ROWS.values()])


def tuned_overrides() -> tuple[tuple[str, object], ...]:
    """The best vit_search trial's overrides named by $VIT_HPARAMS (seed excluded); () if unset.
    A bad file is laser.main's one-line ConfigError, naming VIT_HPARAMS."""
    path = os.environ.get(HPARAMS_ENV, "")
    if not path:
        return ()
    given = f"{HPARAMS_ENV}={path!r}"
    return tuple(best_trial_overrides(path, given, "a vit_search best.json"))


def sweep(profile: str) -> Sweep:
    tuned = tuned_overrides()
    trials = tuple(
        Trial(trial_name(row, seed), CONFIG, profile, (*tuned, *options, (spec.SEED, seed)))
        for row, options in ROWS.items()
        for seed in SEEDS
    )
    name = "table4-tuned" if tuned else "table4"
    return Sweep(name, trials, metric="valid/error", description=__doc__)
