"""Two ablations of the C4 LM as sweeps: the LAMB optimiser on the 301M model (§4.1) and
float32 vs bfloat16 on the 2.2B model (Table 11). `make reproduce-table-11`, `make reproduce-lamb`.

    python -m sweeps.run sweeps/ablations.py --profile tiny
"""

from __future__ import annotations

from sweeps.spec import ATTENTION, SEED, Sweep, Trial, c4_tokenizer

CONFIG = "experiments/c4_lm/config.py"
PROFILES = ("tiny", "paper")
ATTENTIONS = ("laser", "softmax")
LAMB_SEEDS = (0, 1, 2)
LAMB_MODEL = {"paper": "paper-301m", "tiny": "tiny"}
PRECISION_MODEL = {"paper": "paper-2.2b", "tiny": "tiny-2.2b"}
DTYPES = ("float32", "bfloat16")


def sweep(profile: str) -> Sweep:
    extra = c4_tokenizer(profile)
    # The paper profiles cap AdamW's updates as praxis's Adam (optim.update_clip); LAMB has its
    # own trust ratio and no such cap.
    no_cap = (("optim.update_clip", 0.0),) if profile == "paper" else ()
    lamb = tuple(
        Trial(
            f"lamb-{attention}-seed{seed}",
            CONFIG,
            LAMB_MODEL[profile],
            ((ATTENTION, attention), ("optim.name", "lamb"), (SEED, seed), *no_cap, *extra),
        )
        for attention in ATTENTIONS
        for seed in LAMB_SEEDS
    )
    precision = tuple(
        Trial(
            f"{dtype}-{attention}",
            CONFIG,
            PRECISION_MODEL[profile],
            ((ATTENTION, attention), ("model.dtype", dtype), *extra),
        )
        for dtype in DTYPES
        for attention in ATTENTIONS
    )
    return Sweep("ablations", lamb + precision, metric="test/loss", description=__doc__)
