"""The ViT baseline search (paper §4.3, Table 8): NAdamW hyperparameters of standard attention,
quasi-random trials from sweeps.table8.trials(n, seed); the best by validation error is what
Table 4's runs use with `make reproduce-table-4 SWEEP=1`.

    python -m sweeps.run sweeps/vit_search.py [--profile tiny|paper]

Trials: 50 at paper scale (as the paper); 8 at tiny scale (8 runs of ~1 min each: a coarse look
at the same space that fits in ~5 minutes two at a time, not the paper's search density).
The tiny trials keep Table 8's fixed dropout 0.1 as the paper's search did.
"""

from __future__ import annotations

from sweeps import table8
from sweeps.spec import Sweep, Trial, trial_name

CONFIG = "experiments/vit_imagenet/config.py"
PROFILES = ("tiny", "paper")
TRIALS = {"paper": table8.TRIALS, "tiny": 8}
SEED = 0  # of the Halton sequence: the same trials on every machine


def sweep(profile: str) -> Sweep:
    trials = tuple(
        Trial(f"{i:02d}-{trial_name(point)}", CONFIG, profile, tuple(point.items()))
        for i, point in enumerate(table8.trials(TRIALS[profile], SEED))
    )
    return Sweep(
        "vit_search",
        trials,
        metric="valid/error",
        space={k: p.describe() for k, p in table8.SPACE.items()},
        description=__doc__,
    )
