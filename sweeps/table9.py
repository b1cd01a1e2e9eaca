"""Table 9: the language-model hyperparameter grid (15 points: 5 learning rates x 3 weight
decays; beta1 0.9, beta2 0.99, epsilon 1e-24, dropout 0), run on the 16-layer model as the paper
did, with standard attention (the baseline being tuned; the paper reuses the winner for LASER).

    python -m sweeps.run sweeps/table9.py [--profile tiny|paper]     # runs the grid
    make reproduce-table-9                                           # renders the search space
"""

from __future__ import annotations

from sweeps.spec import Sweep, Trial, c4_tokenizer, grid, trial_name

CONFIG = "experiments/c4_lm/config.py"
PROFILES = ("tiny", "paper")
GRID = {
    "optim.learning_rate": (1e-1, 1e-2, 1e-3, 1e-4, 1e-5),
    "optim.weight_decay": (1e-2, 1e-1, 1.0),
}
FIXED = {"optim.b1": 0.9, "optim.b2": 0.99, "optim.eps": 1e-24}
MODEL = {"paper": "paper-234m", "tiny": "tiny-shallow"}  # Table 1's 16-layer row


def sweep(profile: str) -> Sweep:
    extra = dict(c4_tokenizer(profile))
    trials = tuple(
        Trial(trial_name(point), CONFIG, MODEL[profile], tuple({**point, **FIXED, **extra}.items()))
        for point in grid(GRID)
    )
    space = {**{k: list(v) for k, v in GRID.items()}, **FIXED, "model.dropout": 0.0}
    return Sweep("table9", trials, metric="test/loss", space=space, description=__doc__)
