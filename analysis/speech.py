"""Table 5 (Conformer WER, six attention variants) from the run records of sweeps/table5.py.

python -m analysis.render table5 [--profile tiny]   (analysis.render's TABLES entry)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis import paper
from analysis.render import _cell, _diff, _values, _write, seed_dirs
from laser import records
from sweeps import table5

SPLITS = (("valid", "Valid WER"), ("test", "Test WER"), ("train", "Train WER"))


def _dirs(profile: str, runs: Path, variant: str) -> dict[str, Path]:
    """{"seed s": workdir} of one variant's trials of sweeps/table5.py."""
    return seed_dirs(table5.sweep(profile), profile, runs, table5.where(variant), table5.SEEDS)


def table5_frame(profile: str, runs: Path) -> pd.DataFrame:
    """One row per variant: per split, the paper's WER, ours (mean ± std (n)) and, for the
    LASER rows, the relative difference to the matching standard row (ours)."""
    cells = {}
    for label in table5.VARIANTS:
        dirs = _dirs(profile, runs, label)
        cells[label] = {split: _values(dirs, f"{split}/wer") for split, _ in SPLITS}
    rows = []
    for label in table5.VARIANTS:
        row = {"variant": label}
        standard = label.replace("LASER", "Standard") if label.startswith("LASER") else None
        for i, (split, column) in enumerate(SPLITS):
            row[f"paper {column}"] = paper.TABLE_5["rows"][label][i]
            row[f"ours {column}"] = _cell(*cells[label][split])
            if standard:
                row[f"ours {column} vs standard"] = _diff(
                    cells[label][split][0], cells[standard][split][0]
                )
            else:
                row[f"ours {column} vs standard"] = "-"
        rows.append(row)
    return pd.DataFrame(rows)


def real_wer_note(profile: str, runs: Path) -> list[str]:
    """The out-of-domain "real" split (tiny profile, where pocketsphinx-testdata is installed)."""
    parts = []
    for label in table5.VARIANTS:
        statuses = [records.read_status(wd) for wd in _dirs(profile, runs, label).values()]
        values = [
            st["final"]["real/wer"]
            for st in statuses
            if st and st["status"] == "done" and "real/wer" in st["final"]
        ]
        if values:
            parts.append(f"{label} {_cell(values, [])}")
    if not parts:
        return []
    return [
        "WER on the 10 real recordings of pocketsphinx-testdata (out of domain): "
        + "; ".join(parts)
        + ".",
        "",
    ]


def render_table5(profile: str, runs: Path, out: Path) -> Path:
    df = table5_frame(profile, runs)
    notes = [
        f"Profile `{profile}`; ours = mean ± std over seeds {list(table5.SEEDS)} of the final "
        f"WER (run records in `results/runs/table5-{profile}/`); the paper reports the best of "
        "50 Table 8 trials rerun over 5 seeds on Librispeech. Per-dim query scaling is on in "
        f"every variant; +temp divides the logits by {table5.TAU}. The 'vs standard' columns "
        "compare each LASER row with the matching standard row (negative = LASER lower, better).",
        "",
    ]
    if profile == "tiny":
        notes += [
            "Tiny scale: synthetic espeak-ng speech of 2-4-word Shakespeare lines (test texts "
            "from unseen plays), character CTC, a 4-layer d=96 Conformer trained for minutes "
            "on a CPU; WERs are not comparable in value with the paper's, only the direction "
            "of the LASER-vs-standard differences is, and at this scale seed noise dominates.",
            "",
        ]
        notes += real_wer_note(profile, runs)
    notes.append(f"Regenerate: `make reproduce-table-5 PROFILE={profile}`.")
    return _write(out, "table5", "Table 5: Conformer WER, six attention variants", df, notes)
