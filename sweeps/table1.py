"""Table 1: test loss of LASER vs standard attention for three splits of parameters between the
attention and MLP blocks, 3 seeds each (the paper reports one run per cell).

    make reproduce-table-1 [PROFILE=paper]

Paper profiles need the C4 SentencePiece model: set C4_TOKENIZER=/path/to/spm.model (it becomes
--config.data.tokenizer_path for every trial).
"""

from __future__ import annotations

from sweeps.spec import ATTENTION, SEED, Sweep, Trial, c4_tokenizer

CONFIG = "experiments/c4_lm/config.py"
PROFILES = ("tiny", "paper")
SEEDS = (0, 1, 2)
ATTENTIONS = ("laser", "softmax")
# Table 1's rows (layers, MLP hidden) and the profile that runs each at either scale.
ROWS = (
    ("16 layers, MLP 4096", {"paper": "paper-234m", "tiny": "tiny-shallow"}),
    ("32 layers, MLP 2048", {"paper": "paper-301m", "tiny": "tiny"}),
    ("32 layers, MLP 4096", {"paper": "paper-435m", "tiny": "tiny-wide"}),
)


def sweep(profile: str) -> Sweep:
    extra = c4_tokenizer(profile)
    trials = tuple(
        Trial(
            name=f"{profiles[profile]}-{attention}-seed{seed}",
            config=CONFIG,
            profile=profiles[profile],
            overrides=((ATTENTION, attention), (SEED, seed), *extra),
        )
        for _, profiles in ROWS
        for attention in ATTENTIONS
        for seed in SEEDS
    )
    return Sweep(name="table1", trials=trials, metric="test/loss", description=__doc__)
