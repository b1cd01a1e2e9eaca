"""Figure 1 (and the gradients through attention beside it): the trained LMs whose attention is
measured, LASER and standard, seed 0.

    make reproduce-figure-1 | make reproduce-gradients [PROFILE=paper]

Tiny: Table 1's seed-0 runs of the 301M-analog row (`tiny`, as Figures 2, 3 and 6); paper: the
2.2B LM of Figure 4, the model the paper's Figure 1 was measured on. Both are the other sweeps'
own runs (same config, same overrides): they share their workdirs, so nothing is trained twice.
"""

from __future__ import annotations

from sweeps import table1
from sweeps.spec import ATTENTION, SEED, Sweep, Trial, c4_tokenizer

CONFIG = table1.CONFIG
PROFILES = ("tiny", "paper")
ATTENTIONS = ("laser", "softmax")
MODEL = {"tiny": table1.ROWS[1][1]["tiny"], "paper": "paper-2.2b"}


def sweep(profile: str) -> Sweep:
    model = MODEL[profile]
    shared = {  # the workdir of the run this trial is
        "tiny": lambda a: f"table1-tiny/{model}-{a}-seed0",
        "paper": lambda a: f"figure4-paper/{model}-{a}",
    }[profile]
    trials = tuple(
        Trial(
            f"{model}-{attention}",
            CONFIG,
            model,
            ((ATTENTION, attention), (SEED, 0), *c4_tokenizer(profile)),
            workdir=shared(attention),
        )
        for attention in ATTENTIONS
    )
    return Sweep("figure1", trials, metric="test/loss", description=__doc__)
