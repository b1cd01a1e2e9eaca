"""Table 7: one-shot downstream accuracy of the Differential Transformer with softmax attention
(DiffTransformer) and with LASER (Diff+LASER), 3 seeds each (the paper: one 2.2B run per column).

    make reproduce-table-7 [PROFILE=paper]

Models: experiments/diff_transformer/config.py (`tiny`, `paper-2.2b`). Evaluation
(analysis/lm_ablations.py) writes <workdir>/evals/<step>.json next to each run.
"""

from __future__ import annotations

from sweeps.spec import Sweep, attention_by_seed, c4_tokenizer

CONFIG = "experiments/diff_transformer/config.py"
PROFILES = ("tiny", "paper")
SEEDS = (0, 1, 2)
MODEL = {"tiny": "tiny", "paper": "paper-2.2b"}
# Table 7's columns (analysis/paper.py TABLE_7) -> attention kind of the differential attention.
COLUMNS = {"Diff+LASER": "laser", "DiffTransformer": "softmax"}


def sweep(profile: str) -> Sweep:
    model = MODEL[profile]
    trials = attention_by_seed(
        CONFIG, model, f"{model}-diff", COLUMNS.values(), SEEDS, c4_tokenizer(profile)
    )
    return Sweep(name="table7", trials=trials, metric="test/loss", description=__doc__)
