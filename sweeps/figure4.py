"""Figure 4 (and 5): final test loss against parameter count, five sizes x {LASER, standard},
for the power-law fit f(n) = a * n^b; Figure 5 plots the two largest sizes' curves.

    make reproduce-figure-4 [PROFILE=paper]   (paper profiles need C4_TOKENIZER, see table1.py)
"""

from __future__ import annotations

from sweeps import table1
from sweeps.spec import ATTENTION, SEED, Sweep, Trial, c4_tokenizer

CONFIG = "experiments/c4_lm/config.py"
PROFILES = ("tiny", "paper")
ATTENTIONS = ("laser", "softmax")
SIZES = {
    "paper": ("paper-234m", "paper-301m", "paper-435m", "paper-1.1b", "paper-2.2b"),
    "tiny": ("tiny-shallow", "tiny", "tiny-wide", "tiny-1.1b", "tiny-2.2b"),
}


def sweep(profile: str) -> Sweep:
    extra = c4_tokenizer(profile)
    shared = set(SIZES[profile]) & {p[profile] for _, p in table1.ROWS}
    trials = tuple(
        Trial(
            f"{size}-{attention}",
            CONFIG,
            size,
            ((ATTENTION, attention), (SEED, 0), *extra),
            # Table 1's seed-0 run of the same size is this very run: share its workdir.
            workdir=f"table1-{profile}/{size}-{attention}-seed0" if size in shared else "",
        )
        for size in SIZES[profile]
        for attention in ATTENTIONS
    )
    return Sweep("figure4", trials, metric="test/loss", description=__doc__)
