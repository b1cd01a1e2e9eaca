"""Figure 1 and the gradients through attention, from trained LMs' checkpoints.

    python -m analysis.figure1 figure1|gradients [--profile tiny] [--runs results/runs]
        [--workdir DIR ...] [--tokens 8192] [--figures results/figures] [--tables results/tables]

figure1: the distribution of attention probabilities A = softmax(QK^T) on held-out data
(histogram of log10 A, overall and per layer; the shares below 1e-3 and 1e-7 beside the
paper's ~80% and ~20% for its 2.2B LM) -> figure1.png, figure1.md/.csv. gradients: per layer,
the norms of the held-out loss gradient with respect to the query and key projection kernels
and the attention logits, LASER vs standard -> figure1_gradients.png, figure1_gradients.md/.csv.

Which runs: sweeps/figure1.py's (tiny: Table 1's seed-0 `tiny` runs; paper: Figure 4's 2.2B
runs), or any LM runs' workdirs given with --workdir (each measured at its latest checkpoint).
Which positions: visible (query, key) pairs only; laser/evals/sharpness.py says why. The
measurements are kept in each run's sharpness.json (laser.evals.sharpness.cached).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analysis import paper  # noqa: E402
from analysis.plots import _save  # noqa: E402
from analysis.render import run_dir  # noqa: E402
from analysis.tables import markdown  # noqa: E402
from laser import records  # noqa: E402
from laser.configs import ConfigError  # noqa: E402
from laser.evals import sharpness  # noqa: E402
from sweeps import figure1 as figure1_sweep  # noqa: E402
from sweeps.run import ROOT  # noqa: E402
from sweeps.spec import ATTENTION  # noqa: E402

COLORS = {"laser": "tab:red", "softmax": "tab:blue"}
KIND_LABELS = {"laser": "LASER", "softmax": "standard"}
PAPER_SHARES = paper.TEXT_CLAIMS["attention_probs_below"]  # {1e-3: 0.80, 1e-7: 0.20}
GRADS = ("grad_query", "grad_key", "grad_logits")
GRAD_LABELS = {"grad_query": "query kernel", "grad_key": "key kernel", "grad_logits": "logits"}
MAX_LAYER_PANELS = 8
POSITIONS = (
    "Counted: visible (query, key) pairs only, every query position of the held-out windows. "
    "The causal mask sets the other entries to exactly 0: they are not probabilities the model "
    "chose, would add about half of all entries to the <1e-7 share at any sharpness, and carry "
    "no gradient."
)


def label(m: dict[str, Any]) -> str:
    """'LASER (tiny-laser-seed0)' for a measurement of measure_run."""
    kind = KIND_LABELS.get(m["attention"], m["attention"])
    return f"{kind} ({Path(m['workdir']).name})"


def default_workdirs(profile: str, runs: Path) -> list[Path]:
    """sweeps/figure1.py's runs, LASER first."""
    sweep = figure1_sweep.sweep(profile)
    return [run_dir(sweep, profile, runs, {ATTENTION: a}) for a in figure1_sweep.ATTENTIONS]


def measurements(workdirs: list[Path], tokens: int) -> list[dict[str, Any]]:
    """Every run checked first (ConfigError naming the first bad one), then measured."""
    for w in workdirs:
        sharpness.check_run(w)
    return [sharpness.cached(w, tokens) for w in workdirs]


def _color(m: dict, i: int) -> str:
    return COLORS.get(m["attention"], f"C{i + 2}")


def _fractions(hist: list[float]) -> np.ndarray:
    h = np.asarray(hist, np.float64)
    return h / max(h.sum(), 1.0)


def _hist_axes(ax, ms: list[dict], key: Any, title: str) -> None:
    edges = np.asarray(ms[0]["edges"])
    # Bin 0 holds A < 10^edges[0] (drawn one bin width left of it); bin i is [e_{i-1}, e_i).
    left = np.concatenate([[edges[0] - (edges[1] - edges[0])], edges[:-1]])
    for i, m in enumerate(ms):
        h = m["overall"]["hist"] if key is None else m["layers"][key]["hist"]
        ax.stairs(_fractions(h), np.append(left, edges[-1]), color=_color(m, i), label=label(m))
    for t in sharpness.THRESHOLDS:
        ax.axvline(np.log10(t), color="gray", ls="--", lw=0.8)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("log10 attention probability", fontsize=8)


def render_figure1(ms: list[dict], figures: Path, tables: Path, command: str) -> list[Path]:
    """figure1.png (overall + per-layer histograms) and figure1.md/.csv from measurements."""
    layers = list(ms[0]["layers"])
    shown = [
        layers[int(i)] for i in np.linspace(0, len(layers) - 1, min(len(layers), MAX_LAYER_PANELS))
    ]
    shown = list(dict.fromkeys(shown))
    fig = plt.figure(figsize=(max(8, 2.6 * len(shown)), 7))
    grid = fig.add_gridspec(2, len(shown))
    ax = fig.add_subplot(grid[0, :])
    _hist_axes(ax, ms, None, "All attention layers")
    ax.set_ylabel("share of visible pairs")
    notes = []
    for m in ms:
        ours = ", ".join(
            f"<{t:g}: {100 * s:.1f}%"
            for t, s in zip(sharpness.THRESHOLDS, m["overall"]["shares"], strict=True)
        )
        notes.append(f"{label(m)}: {ours}")
    theirs = ", ".join(f"<{t:g}: ~{100 * s:.0f}%" for t, s in PAPER_SHARES.items())
    notes.append(f"paper (2.2B LM, C4): {theirs}")
    ax.text(0.01, 0.97, "\n".join(notes), transform=ax.transAxes, va="top", fontsize=8)
    ax.legend(loc="upper right", fontsize=8)
    for j, layer in enumerate(shown):
        _hist_axes(fig.add_subplot(grid[1, j]), ms, layer, layer)
    fig.suptitle("Figure 1: attention probabilities of trained LMs on held-out data", fontsize=11)
    rows = []
    for m in ms:
        for layer, s in [("all layers", m["overall"]), *m["layers"].items()]:
            rows.append(
                {
                    "run": label(m),
                    "step": m["step"],
                    "seq": m["seq_len"],
                    "layer": layer,
                    "visible pairs": f"{s['total']:.0f}",
                    "share < 1e-3": f"{100 * s['shares'][0]:.2f}%",
                    "share < 1e-7": f"{100 * s['shares'][1]:.2f}%",
                    "paper < 1e-3": f"~{100 * PAPER_SHARES[1e-3]:.0f}%",
                    "paper < 1e-7": f"~{100 * PAPER_SHARES[1e-7]:.0f}%",
                }
            )
    df = pd.DataFrame(rows)
    text = [
        "# Figure 1: shares of small attention probabilities",
        "",
        f"Held-out data: the first {ms[0]['tokens']:.0f} target tokens of each run's test split; "
        "latest checkpoint. Paper: its 2.2B LM during pretraining on C4 (Figure 1, §3.2).",
        "",
        POSITIONS,
        "",
        markdown(df),
        "",
        f"Regenerate: `{command}`.",
    ]
    return [_save(fig, figures, "figure1"), *_table(tables, "figure1", text, df)]


def ratio_pairs(ms: list[dict]) -> tuple[dict, dict] | None:
    """(LASER, standard) measurements when there is exactly one of each, else None."""
    by = {m["attention"]: m for m in ms}
    if len(ms) == 2 and {"laser", "softmax"} <= set(by):
        return by["laser"], by["softmax"]
    return None


def render_gradients(ms: list[dict], figures: Path, tables: Path, command: str) -> list[Path]:
    """figure1_gradients.png and .md/.csv: per-layer gradient norms, LASER / standard."""
    grads = [g for g in GRADS if all(g in r for m in ms for r in m["layers"].values())]
    pair = ratio_pairs(ms)
    cols = len(grads) + (pair is not None)
    fig, axes = plt.subplots(1, cols, figsize=(3.6 * cols, 3.4), squeeze=False)
    layers = list(ms[0]["layers"])
    x = np.arange(len(layers))
    for ax, g in zip(axes[0], grads, strict=False):
        for i, m in enumerate(ms):
            ax.plot(
                x, [m["layers"][k][g] for k in layers], "o-", color=_color(m, i), label=label(m)
            )
        ax.set_yscale("log")
        ax.set_title(f"|dL/d {GRAD_LABELS[g]}|", fontsize=9)
        ax.set_xlabel("layer")
    axes[0][0].legend(fontsize=7)
    rows = []
    for k in layers:
        row = {"layer": k}
        for m in ms:
            for g in grads:
                row[f"{label(m)} {GRAD_LABELS[g]}"] = f"{m['layers'][k][g]:.4g}"
        if pair:
            for g in grads:
                row[f"LASER / standard {GRAD_LABELS[g]}"] = (
                    f"{pair[0]['layers'][k][g] / pair[1]['layers'][k][g]:.3f}"
                )
        rows.append(row)
    if pair:
        ax = axes[0][-1]
        for g, marker in zip(grads, "osd", strict=False):
            ratio = [pair[0]["layers"][k][g] / pair[1]["layers"][k][g] for k in layers]
            ax.plot(x, ratio, marker + "-", label=GRAD_LABELS[g])
        ax.axhline(1.0, color="gray", lw=0.8)
        ax.set_title("LASER / standard", fontsize=9)
        ax.set_xlabel("layer")
        ax.legend(fontsize=7)
    fig.suptitle("Gradients through attention: held-out loss, per layer", fontsize=10)
    df = pd.DataFrame(rows)
    text = [
        "# Gradients through attention, LASER vs standard",
        "",
        "Frobenius norms of the gradient of the mean held-out loss (the tokens of Figure 1's "
        "table) with respect to each layer's query and key projection kernels and its "
        "attention logits a = QK^T / sqrt(head_dim) (the quantity the softmax Jacobian "
        "dA/da = diag(A) - AA^T acts on, paper §3.2); logits gradients are measured through a "
        "zero perturbation added to the logits inside the model's attention module.",
        "",
        markdown(df),
        "",
        f"Regenerate: `{command}`.",
    ]
    return [
        _save(fig, figures, "figure1_gradients"),
        *_table(tables, "figure1_gradients", text, df),
    ]


def _table(tables: Path, name: str, text: list[str], df: pd.DataFrame) -> list[Path]:
    tables.mkdir(parents=True, exist_ok=True)
    records.write_text(tables / f"{name}.md", "\n".join(text) + "\n")
    records.write_text(tables / f"{name}.csv", df.to_csv(index=False))
    return [tables / f"{name}.md", tables / f"{name}.csv"]


RENDERERS = {"figure1": render_figure1, "gradients": render_gradients}
TARGETS = {"figure1": "make reproduce-figure-1", "gradients": "make reproduce-gradients"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what")
    parser.add_argument("--profile", default="tiny")
    parser.add_argument("--runs", type=Path, default=ROOT / "results" / "runs")
    parser.add_argument("--workdir", type=Path, action="append", default=None)
    parser.add_argument("--tokens", type=int, default=8192)
    parser.add_argument("--figures", type=Path, default=ROOT / "results" / "figures")
    parser.add_argument("--tables", type=Path, default=ROOT / "results" / "tables")
    args = parser.parse_args(argv)
    try:
        if args.what not in RENDERERS:
            raise ConfigError(f"{args.what!r}: accepted: {', '.join(RENDERERS)}")
        if args.profile not in figure1_sweep.PROFILES:
            accepted = ", ".join(figure1_sweep.PROFILES)
            raise ConfigError(f"--profile {args.profile!r}: accepted: {accepted}")
        if args.tokens < 1:
            raise ConfigError(f"--tokens {args.tokens}: accepted: an integer >= 1")
        workdirs = args.workdir or default_workdirs(args.profile, args.runs)
        ms = measurements(workdirs, args.tokens)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    command = TARGETS[args.what] + (f" PROFILE={args.profile}" if args.profile != "tiny" else "")
    if args.workdir:
        command = "python -m analysis.figure1 " + " ".join(argv or sys.argv[1:])
    for path in RENDERERS[args.what](ms, args.figures, args.tables, command):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
