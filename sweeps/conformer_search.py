"""The Conformer baseline's hyperparameter search (paper Table 8, AlgoPerf's NAdamW space): 50
seeded quasi-random trials of standard attention, ranked by valid WER; the paper then reran
the best trial of each variant over 5 seeds (sweeps/table5.py uses 3 seeds of the defaults).

    python -m sweeps.run sweeps/conformer_search.py [--profile tiny|paper]
    python -m laser.main --config experiments/conformer_librispeech/config.py:<profile> \\
        --hparams-from results/runs/conformer_search-<profile>/best.json --workdir <dir>
"""

from __future__ import annotations

from sweeps import table8
from sweeps.spec import ATTENTION, Sweep, Trial, trial_name

CONFIG = "experiments/conformer_librispeech/config.py"
PROFILES = ("tiny", "paper")


def sweep(profile: str, n: int = table8.TRIALS, seed: int = 0) -> Sweep:
    trials = tuple(
        Trial(
            name=f"{i:02d}-{trial_name(point)}",
            config=CONFIG,
            profile=profile,
            overrides=((ATTENTION, "softmax"), *point.items()),
        )
        for i, point in enumerate(table8.trials(n, seed))
    )
    return Sweep(
        name="conformer_search",
        trials=trials,
        metric="valid/wer",
        space=table8.SPACE,
        description=__doc__,
    )
