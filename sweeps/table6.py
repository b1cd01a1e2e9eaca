"""Table 6: one-shot downstream accuracy of the 7.7B LM (tiny: its analog) with LASER and with
standard attention, 3 seeds each (the paper: one run per column).

    make reproduce-table-6 [PROFILE=paper]

Models: experiments/scaling_7b/config.py (`tiny`, `paper-7.7b`). Evaluation
(analysis/lm_ablations.py) writes <workdir>/evals/<step>.json next to each run.
"""

from __future__ import annotations

from sweeps.spec import Sweep, attention_by_seed, c4_tokenizer

CONFIG = "experiments/scaling_7b/config.py"
PROFILES = ("tiny", "paper")
SEEDS = (0, 1, 2)
MODEL = {"tiny": "tiny", "paper": "paper-7.7b"}
# Table 6's columns (analysis/paper.py TABLE_6) -> attention kind.
COLUMNS = {"LASER": "laser", "Standard": "softmax"}


def sweep(profile: str) -> Sweep:
    model = MODEL[profile]
    trials = attention_by_seed(CONFIG, model, model, COLUMNS.values(), SEEDS, c4_tokenizer(profile))
    return Sweep(name="table6", trials=trials, metric="test/loss", description=__doc__)
