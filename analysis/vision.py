"""Table 4 (ViT error rates) from run records: `render_table4(profile, runs, out)`.

    python -m analysis.render table4 [--profile tiny]      (analysis.render's TABLES entry)

Reads the final valid/test/train error of every sweeps/table4.py trial (status.json) and writes
<out>/table4.md and .csv: per variant the paper's value and ours (mean ± std over seeds, n),
then per variant pair the relative LASER-vs-standard difference, paper and ours. Missing,
running or diverged runs are named in their cell, never dropped.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis import paper
from analysis.render import _cell, _diff, _values, _write, seed_dirs
from analysis.tables import markdown
from laser import records
from sweeps import table4
from sweeps.spec import Sweep

METRICS = {"valid": "valid/error", "test": "test/error", "train": "train/error"}


def _row_values(sweep: Sweep, profile: str, runs: Path, row: str, metric: str):
    """Error rates in percent (the shared 3-decimal cells then keep 5 significant digits)."""
    dirs = seed_dirs(sweep, profile, runs, table4.where(row), table4.SEEDS)
    values, notes = _values(dirs, metric)
    return [100 * v for v in values], notes


def table4_frames(profile: str, runs: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per variant: paper and ours per split, one row per pair: the differences)."""
    sweep = table4.sweep(profile)  # "table4" or, with $VIT_HPARAMS, "table4-tuned"
    rows, ours = [], {}
    for row in table4.ROWS:
        p = dict(zip(METRICS, paper.TABLE_4["rows"][row], strict=True))
        out = {"variant": row}
        for split, metric in METRICS.items():
            ours[row, split] = _row_values(sweep, profile, runs, row, metric)
            out[f"{split} error % paper"] = f"{100 * p[split]:.2f}"
            out[f"{split} error % ours"] = _cell(*ours[row, split])
        rows.append(out)
    pairs = []
    for suffix in table4.OPTIONS:
        std, las = f"Standard{suffix}", f"LASER{suffix}"
        out = {"variant": suffix.removeprefix(" + ") or "(none)"}
        for i, split in enumerate(METRICS):
            p_las, p_std = paper.TABLE_4["rows"][las][i], paper.TABLE_4["rows"][std][i]
            out[f"{split} paper"] = f"{100 * (p_las / p_std - 1):+.2f}%"
            out[f"{split} ours"] = _diff(ours[las, split][0], ours[std, split][0])
        pairs.append(out)
    return pd.DataFrame(rows), pd.DataFrame(pairs)


def render_table4(profile: str, runs: Path, out: Path) -> Path:
    variants, pairs = table4_frames(profile, runs)
    name = table4.sweep(profile).name
    notes = [
        f"Profile `{profile}`; ours = mean ± std over seeds {list(table4.SEEDS)} of the final "
        f"error rates in percent (run records in `results/runs/{name}-{profile}/`); the paper "
        "reports "
        f"{paper.TABLE_4['model']} on ImageNet with {paper.TABLE_4['seeds']} seeds at the best of "
        f"{paper.TABLE_4['trials']} standard-attention trials.",
        "",
        "## LASER vs standard, relative difference of the error (negative: LASER better)",
        "",
        markdown(pairs),
        "",
    ]
    if profile == "tiny":
        notes += [
            "Tiny scale: ViT-xs on Fashion-MNIST 28x28 (valid: 5k images carved from train; "
            "test: the official 10k; train: 5k train images without augmentation). Error "
            "rates are not comparable in value with the paper's ImageNet ones; only the "
            "direction and size of the differences are.",
            "",
        ]
    if name != "table4":
        notes += ["Hyperparameters: the best trial of `sweeps/vit_search.py` (SWEEP=1).", ""]
    notes.append(f"Regenerate: `make reproduce-table-4 PROFILE={profile}`.")
    path = _write(out, "table4", "Table 4: ViT error rates, LASER vs standard", variants, notes)
    csv = pd.concat([variants, pairs]).reset_index(drop=True)
    csv.insert(0, "table", ["variants"] * len(variants) + ["pairs"] * len(pairs))
    records.write_text(out / "table4.csv", csv.to_csv(index=False))  # both tables
    return path
