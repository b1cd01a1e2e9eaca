"""Table rendering shared by the analysis scripts."""

from __future__ import annotations

import pandas as pd


def markdown(df: pd.DataFrame) -> str:
    """A GitHub markdown table of `df` (no index), without optional dependencies."""
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines)
