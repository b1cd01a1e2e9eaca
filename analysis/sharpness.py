"""The sharpness sweep (beyond the paper): does LASER's advantage grow as attention gets sharper?

    python -m analysis.sharpness [--profile tiny] [--runs results/runs] [--tokens 8192]
        [--figures results/figures] [--tables results/tables]

For each context length of sweeps/sharpness.py and each of its seeds: the Figure-1 shares of
the LASER and standard runs (laser.evals.sharpness, visible pairs, all layers), the LASER /
standard ratio of the gradient norms through attention (all layers: the root of the sum of the
layers' squared norms) and the relative test-loss difference, each paired by seed, as mean ±
std over the seeds whose two runs are done -> sharpness.png, sharpness.md/.csv.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analysis.figure1 import COLORS, KIND_LABELS, PAPER_SHARES, _save, _table  # noqa: E402
from analysis.tables import markdown  # noqa: E402
from laser import records  # noqa: E402
from laser.configs import ConfigError  # noqa: E402
from laser.evals import sharpness as measure  # noqa: E402
from sweeps import sharpness as sweep_file  # noqa: E402
from sweeps.run import ROOT, trial_dir  # noqa: E402

GRADS = ("grad_logits", "grad_query", "grad_key")


def total_norm(m: dict[str, Any], grad: str) -> float | None:
    """All layers' gradient norm of one kind: sqrt(sum of the layers' squares)."""
    values = [r.get(grad) for r in m["layers"].values()]
    return None if None in values else float(np.sqrt(np.sum(np.square(values))))


def collect(profile: str, runs: Path, tokens: int) -> dict[tuple[int, str, int], Any]:
    """{(length, attention, seed): measurement, or the run's state ("missing", "running")}."""
    sweep = sweep_file.sweep(profile)
    out = {}
    for length in sweep_file.LENGTHS:
        for attention in sweep_file.ATTENTIONS:
            for seed in sweep_file.SEEDS:
                trial = sweep_file.find(profile, length, attention, seed)
                workdir = trial_dir(sweep, profile, runs, trial)
                status = records.read_status(workdir)
                state = status["status"] if status else "missing"
                out[length, attention, seed] = (
                    measure.cached(workdir, tokens) if state == "done" else state
                )
    return out


def _stat(values: list[float], fmt: str = "{:.3f}") -> str:
    if not values:
        return "n/a"
    text = fmt.format(statistics.mean(values))
    if len(values) > 1:
        text += " ± " + fmt.replace("+", "").format(statistics.stdev(values))
    return f"{text} (n={len(values)})"


def summarise(data: dict) -> tuple[pd.DataFrame, dict]:
    """The table (one row per length) and, per length, the per-seed values it summarises."""
    rows, series = [], {}
    for length in sweep_file.LENGTHS:
        s: dict[str, list[float]] = {}
        notes = []
        for seed in sweep_file.SEEDS:
            pair = {a: data[length, a, seed] for a in sweep_file.ATTENTIONS}
            for a, m in pair.items():
                if isinstance(m, str):
                    notes.append(f"{KIND_LABELS[a]} seed {seed} {m}")
                    continue
                for t, share in zip(measure.THRESHOLDS, m["overall"]["shares"], strict=True):
                    s.setdefault(f"{a} <{t:g}", []).append(100 * share)
            if any(isinstance(m, str) for m in pair.values()):
                continue
            laser, std = pair["laser"], pair["softmax"]
            for g in GRADS:
                a, b = total_norm(laser, g), total_norm(std, g)
                if a is not None and b:
                    s.setdefault(f"ratio {g}", []).append(a / b)
            la, st = laser["final"]["test/loss"], std["final"]["test/loss"]
            s.setdefault("loss diff %", []).append(100 * (la / st - 1))
        series[length] = s
        row = {"context": length, "tokens/step": sweep_file.TOKENS_PER_STEP}
        for a in sweep_file.ATTENTIONS:
            for t in measure.THRESHOLDS:
                row[f"{KIND_LABELS[a]} <{t:g} (%)"] = _stat(s.get(f"{a} <{t:g}", []), "{:.2f}")
        for g in GRADS:
            row[f"LASER/std |dL/d {g[5:]}|"] = _stat(s.get(f"ratio {g}", []))
        row["test loss LASER vs std (%)"] = _stat(s.get("loss diff %", []), "{:+.2f}")
        row["not done"] = "; ".join(notes)
        rows.append(row)
    return pd.DataFrame(rows), series


def _errorbar(ax, lengths, series, key, **kw):
    pts = [(n, series[n][key]) for n in lengths if series[n].get(key)]
    if not pts:
        return
    x = [n for n, _ in pts]
    y = [statistics.mean(v) for _, v in pts]
    e = [statistics.stdev(v) if len(v) > 1 else 0.0 for _, v in pts]
    ax.errorbar(x, y, yerr=e, capsize=3, marker="o", **kw)


def render(data: dict, figures: Path, tables: Path) -> list[Path]:
    df, series = summarise(data)
    lengths = list(sweep_file.LENGTHS)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for a in sweep_file.ATTENTIONS:
        for t, ls in zip(measure.THRESHOLDS, ("-", "--"), strict=True):
            key = f"{a} <{t:g}"
            _errorbar(axes[0], lengths, series, key, color=COLORS[a], ls=ls, label=key)
    for share in PAPER_SHARES.values():
        axes[0].axhline(100 * share, color="gray", lw=0.8, ls=":")
    axes[0].set_ylabel("% of visible attention probabilities")
    axes[0].set_title("Figure-1 shares (paper 2.2B: dotted)", fontsize=9)
    for g in GRADS:
        _errorbar(axes[1], lengths, series, f"ratio {g}", label=g[5:])
    axes[1].axhline(1.0, color="gray", lw=0.8)
    axes[1].set_title("LASER / standard gradient norm", fontsize=9)
    _errorbar(axes[2], lengths, series, "loss diff %", color="k")
    axes[2].axhline(0.0, color="gray", lw=0.8)
    axes[2].set_ylabel("test loss, LASER vs standard (%)")
    axes[2].set_title("LASER's test-loss difference (< 0: LASER better)", fontsize=9)
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xticks(lengths, [str(n) for n in lengths])
        ax.set_xlabel("context length (tokens; tokens per step fixed)")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.suptitle("Does LASER's advantage grow as attention gets sharper? (tiny LMs)", fontsize=10)
    text = [
        "# Sharpness sweep: context length vs attention sharpness and LASER's advantage",
        "",
        f"Tiny LMs (`{sweep_file.MODEL}`), {sweep_file.TOKENS_PER_STEP} tokens per step at every "
        f"length, seeds {list(sweep_file.SEEDS)}; mean ± std over seeds (ratios and loss "
        "differences paired by seed). Shares: visible pairs of all layers on the first "
        "held-out tokens of the test split (Figure 1's measurement); gradient norms: all "
        "layers' root sum of squares. The 128-token runs are Table 1's.",
        "",
        markdown(df),
        "",
        "Regenerate: `make reproduce-sharpness`.",
    ]
    return [_save(fig, figures, "sharpness"), *_table(tables, "sharpness", text, df)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="tiny")
    parser.add_argument("--runs", type=Path, default=ROOT / "results" / "runs")
    parser.add_argument("--tokens", type=int, default=8192)
    parser.add_argument("--figures", type=Path, default=ROOT / "results" / "figures")
    parser.add_argument("--tables", type=Path, default=ROOT / "results" / "tables")
    args = parser.parse_args(argv)
    try:
        if args.profile not in sweep_file.PROFILES:
            accepted = ", ".join(sweep_file.PROFILES)
            raise ConfigError(f"--profile {args.profile!r}: accepted: {accepted}")
        data = collect(args.profile, args.runs, args.tokens)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for path in render(data, args.figures, args.tables):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
