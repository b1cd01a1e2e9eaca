"""The sharpness sweep (beyond the paper): does LASER's advantage grow as attention gets sharper?

Tiny LMs (`tiny`, Table 1's 301M-analog row) at context lengths 128, 512 and 1024 tokens with
the tokens per step fixed at Table 1's 16 x 128 = 2048 (so batch 16, 4, 2 sequences) and the
same 500 steps, LASER vs standard x seeds 0, 1, 2. The 128-token trials are Table 1's own runs
(same config, same overrides): they share its workdirs. analysis/sharpness.py measures each
run's attention (laser.evals.sharpness) and plots the Figure-1 shares, the gradient ratio and
the test-loss difference against the length.

    make reproduce-sharpness            (tiny only; ~90 min of CPU here, see the README)
"""

from __future__ import annotations

from sweeps import table1
from sweeps.spec import ATTENTION, SEED, Sweep, Trial

CONFIG = table1.CONFIG
PROFILES = ("tiny",)
MODEL = "tiny"  # Table 1's 301M-analog row, as Figures 1-3
SEEDS = (0, 1, 2)
ATTENTIONS = ("laser", "softmax")
TOKENS_PER_STEP = 16 * 128  # Table 1's tiny batch x its context
LENGTHS = (128, 512, 1024)
SEQ_LEN, BATCH = "data.seq_len", "data.batch_size"


def length_overrides(length: int) -> tuple[tuple[str, int], ...]:
    """The overrides of one context length: none at Table 1's own 128 (so the trial is
    Table 1's), else the length and the batch that keeps TOKENS_PER_STEP."""
    if length == 128:
        return ()
    return ((SEQ_LEN, length), (BATCH, TOKENS_PER_STEP // length))


def sweep(profile: str) -> Sweep:
    trials = []
    for length in LENGTHS:
        for attention in ATTENTIONS:
            for seed in SEEDS:
                name = f"{MODEL}-{attention}-seed{seed}"
                shared = length == 128  # Table 1's trial: same command, same workdir
                trials.append(
                    Trial(
                        name=name if shared else f"seq{length}-{name}",
                        config=CONFIG,
                        profile=MODEL,
                        overrides=((ATTENTION, attention), (SEED, seed), *length_overrides(length)),
                        workdir=f"table1-{profile}/{name}" if shared else "",
                    )
                )
    return Sweep("sharpness", tuple(trials), metric="test/loss", description=__doc__)


def find(profile: str, length: int, attention: str, seed: int) -> Trial:
    """The trial of one (length, attention, seed)."""
    where = {ATTENTION: attention, SEED: seed, SEQ_LEN: None, BATCH: None}
    where |= dict(length_overrides(length))
    return sweep(profile).find(where, MODEL)
