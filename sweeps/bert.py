"""BERT masked-LM error (paper §4.2): LASER vs standard attention x seeds (0, 1, 2).

    make reproduce-bert [PROFILE=paper]
    python -m sweeps.run sweeps/bert.py --profile tiny --jobs 2

The paper gives one number per attention kind (no seed count); we run 3 seeds each. Paper-scale
runs need MLPerf's TFRecords: set BERT_TRAIN_FILES and BERT_EVAL_FILES (globs) and every trial
gets them as data.train_files / data.eval_files.
"""

from __future__ import annotations

import os

from sweeps.spec import ATTENTION, SEED, Sweep, Trial

CONFIG = "experiments/bert_mlm/config.py"
PROFILES = ("tiny", "paper")
SEEDS = (0, 1, 2)
# The two rows (analysis/paper.py BERT keys) -> attention kind.
KINDS = {"standard": "softmax", "laser": "laser"}
DATA_ENV = {"data.train_files": "BERT_TRAIN_FILES", "data.eval_files": "BERT_EVAL_FILES"}


def data_overrides(profile: str) -> tuple[tuple[str, str], ...]:
    """MLPerf's TFRecord paths from the environment (paper profile only; none when unset)."""
    if profile != "paper":
        return ()
    return tuple((key, os.environ[env]) for key, env in DATA_ENV.items() if os.environ.get(env))


def sweep(profile: str) -> Sweep:
    trials = tuple(
        Trial(
            name=f"{row}-seed{seed}",
            config=CONFIG,
            profile=profile,
            overrides=((ATTENTION, kind), (SEED, seed), *data_overrides(profile)),
        )
        for row, kind in KINDS.items()
        for seed in SEEDS
    )
    return Sweep(name="bert", trials=trials, metric="valid/error", description=__doc__)
