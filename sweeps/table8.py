"""Table 8: the NAdamW search space of the ViT and Conformer baselines (AlgoPerf's), searched
with 50 quasi-random trials; here a seeded scrambled Halton sequence (AlgoPerf's is unseeded).

Weight decay: ../shared/REFERENCE.md (AlgoPerf's space) gives 5e-3..1.0; the paper's OCR'd
Table 8 reads "5x 1072", which analysis/paper.py transcribes as 5e-2. We follow the reference
(the paper says it used AlgoPerf's search); the discrepancy is recorded in both places.

The ViT and Conformer sweeps (experiments/vit_imagenet, experiments/conformer_librispeech) draw
their trials from `trials(n, seed)`; `make reproduce-table-8` renders SPACE.
"""

from __future__ import annotations

from sweeps.spec import Choice, LogUniform, halton

SPACE = {
    "optim.learning_rate": LogUniform(1e-4, 1e-2),
    "optim.one_minus_beta1": LogUniform(1e-2, 0.15),
    "optim.b2": Choice((0.9, 0.99, 0.999)),
    "optim.weight_decay": LogUniform(5e-3, 1.0),
    "train.label_smoothing": Choice((0.1, 0.2)),
}
FIXED = {"optim.warmup_factor": 0.05, "model.dropout_rate": 0.1}
TRIALS = 50


def trials(n: int = TRIALS, seed: int = 0) -> list[dict]:
    """n points of the space (seeded, reproducible), each with the fixed settings added."""
    return [{**point, **FIXED} for point in halton(SPACE, n, seed)]
