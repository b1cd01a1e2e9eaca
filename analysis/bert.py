"""BERT masked-LM error and accuracy (paper §4.2) from the run records of sweeps/bert.py.

    python -m analysis.render bert [--profile tiny]      (analysis.render's TABLES entry)

Writes <out>/bert.md and .csv: per metric (held-out masked-LM error, accuracy) the paper's
LASER and standard numbers and their relative difference, ours (mean ± std over seeds, n, with
missing, running or diverged runs named in the cell), our relative difference, and whether the
direction (LASER lower error / higher accuracy) agrees with the paper's.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import pandas as pd

from analysis import paper
from analysis.render import _comparison, _values, _write, seed_dirs
from experiments.bert_mlm import config as bert_config
from sweeps import bert
from sweeps.spec import ATTENTION

METRICS = {"error %": "valid/error", "accuracy %": "valid/accuracy"}


def _percent(cell: tuple[list[float], list[str]]) -> tuple[list[float], list[str]]:
    """Values in percent, so the shared 3-decimal cells keep 5 significant digits."""
    return [100 * v for v in cell[0]], cell[1]


def _direction(p_laser: float, p_std: float, laser: list[float], standard: list[float]) -> str:
    """'yes'/'no': does our LASER-minus-standard sign match the paper's; ', within seed spread'
    when our difference is smaller than the larger of the two seed standard deviations."""
    if not (laser and standard):
        return "n/a"
    ours = statistics.mean(laser) - statistics.mean(standard)
    answer = "yes" if (ours > 0) == (p_laser - p_std > 0) and ours != 0 else "no"
    if len(laser) > 1 and len(standard) > 1:
        if abs(ours) < max(statistics.stdev(laser), statistics.stdev(standard)):
            answer += ", within seed spread"
    return answer


def bert_frame(profile: str, runs: Path) -> pd.DataFrame:
    sweep = bert.sweep(profile)
    rows = []
    for name, metric in METRICS.items():
        cells = {
            row: _percent(
                _values(seed_dirs(sweep, profile, runs, {ATTENTION: kind}, bert.SEEDS), metric)
            )
            for row, kind in bert.KINDS.items()
        }
        # The paper gives the error; its accuracy is 1 - error.
        p = {r: 100 * paper.BERT[r] for r in bert.KINDS}
        if name.startswith("accuracy"):
            p = {r: 100 - v for r, v in p.items()}
        p = {r: round(v, 2) for r, v in p.items()}
        row = {"masked-LM": name}
        row |= _comparison(p["laser"], p["standard"], cells["laser"], cells["standard"])
        row["direction agrees"] = _direction(
            p["laser"], p["standard"], cells["laser"][0], cells["standard"][0]
        )
        rows.append(row)
    return pd.DataFrame(rows)


def render_bert(profile: str, runs: Path, out: Path) -> Path:
    df = bert_frame(profile, runs)
    notes = [
        f"Profile `{profile}`; ours = mean ± std over seeds {list(bert.SEEDS)} of the final "
        "held-out masked-LM error and accuracy in percent (MLPerf's metric: argmax over the "
        "vocabulary vs the original token, weighted by masked_lm_weights; run records in "
        f"`results/runs/bert-{profile}/`). The paper ({paper.BERT['source']}) reports one "
        "2.2B BERT per attention kind on MLPerf's Wikipedia data, no seeds or spread. "
        "Negative 'vs' = LASER lower.",
        "",
    ]
    if profile == "tiny":
        layers, dim, heads, head_dim, mlp, vocab = bert_config.SIZES[profile]
        notes += [
            f"Tiny scale: a {layers}-layer, d={dim} BERT ({heads} x {head_dim} heads, MLP {mlp}, "
            f"a {vocab:,}-piece SentencePiece vocabulary) trained for minutes on a CPU on "
            "the train articles of gensim's Wikipedia test file, evaluated on its held-out "
            "articles (fixed masks, seed 12345); errors are not comparable in value with the "
            "paper's, only the direction of the LASER-vs-standard difference is.",
            "",
        ]
    notes.append(f"Regenerate: `make reproduce-bert PROFILE={profile}`.")
    return _write(out, "bert", "BERT masked-LM error (§4.2): LASER vs standard", df, notes)
