"""Figures from run records (matplotlib, Agg): loss curves (Figure 2), gradient norm (Figure 3)
and loss spikes (Figure 6), for LASER vs standard attention over seeds.

    python -m analysis.plots figure2 [--profile tiny] [--runs results/runs] [--out results/figures]

Figures 2, 3 and 6 read Table 1's runs of the 301M-analog row (`tiny` / `paper-301m`); every
run is found through its sweep's Trial objects (analysis.render.run_dir).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analysis import scaling_law  # noqa: E402
from analysis.render import run_dir  # noqa: E402
from analysis.tables import markdown  # noqa: E402
from laser import records  # noqa: E402
from sweeps import figure4 as figure4_sweep  # noqa: E402
from sweeps import table1  # noqa: E402
from sweeps.run import ROOT  # noqa: E402
from sweeps.spec import ATTENTION, SEED  # noqa: E402

COLORS = {"laser": "tab:red", "softmax": "tab:blue"}
LABELS = {"laser": "LASER attention", "softmax": "Standard attention"}
SPIKE_WINDOW, SPIKE_RATIO = 20, 1.05  # a spike: loss above 1.05 x the median of the last 20 logs


def curves(profile: str, runs: Path, model: str, attention: str, split: str, name: str):
    """{seed: (steps, values)} for one metric of Table 1's runs of (model, attention) that have
    records; `profile` is the sweep's (tiny, paper), `model` the row's config profile."""
    sweep, out = table1.sweep(profile), {}
    for seed in table1.SEEDS:
        workdir = run_dir(sweep, profile, runs, {ATTENTION: attention, SEED: seed}, model)
        rows = [
            r for r in records.read_metrics(workdir) if r["split"] == split and r["name"] == name
        ]
        if rows:
            out[seed] = (np.array([r["step"] for r in rows]), np.array([r["value"] for r in rows]))
    return out


def _plot(ax, data, attention):
    if not data:
        return
    steps = min((s for s, _ in data.values()), key=len)
    values = np.stack([v[: len(steps)] for _, v in data.values()])
    mean = values.mean(0)
    ax.plot(steps, mean, color=COLORS[attention], label=f"{LABELS[attention]} (n={len(data)})")
    if len(data) > 1:
        ax.fill_between(steps, values.min(0), values.max(0), color=COLORS[attention], alpha=0.2)


def _row_profile(profile: str) -> str:
    return table1.ROWS[1][1][profile]  # the 301M model's row


def figure2(profile: str, runs: Path, out: Path) -> list[Path]:
    row = _row_profile(profile)
    fig, axes = plt.subplots(2, 1, figsize=(6, 6), sharex=True)
    for ax, split in zip(axes, ("train", "test"), strict=True):
        for attention in ("laser", "softmax"):
            _plot(ax, curves(profile, runs, row, attention, split, "loss"), attention)
        ax.set_ylabel(f"{split.capitalize()} Loss")
        ax.legend()
    axes[-1].set_xlabel("Step")
    fig.suptitle(f"Figure 2 ({row}): mean over seeds, band = min..max")
    return [_save(fig, out, "figure2")]


def figure3(profile: str, runs: Path, out: Path) -> list[Path]:
    row = _row_profile(profile)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for attention in ("laser", "softmax"):
        _plot(ax, curves(profile, runs, row, attention, "train", "grad_norm"), attention)
    ax.set_xlabel("Step")
    ax.set_ylabel("grad_norm")
    ax.legend()
    ax.set_title(f"Figure 3 ({row}): global gradient norm")
    return [_save(fig, out, "figure3")]


def spikes(values: np.ndarray) -> int:
    """Logged steps whose train loss exceeds SPIKE_RATIO x the median of the previous window."""
    count = 0
    for i in range(SPIKE_WINDOW, len(values)):
        if values[i] > SPIKE_RATIO * statistics.median(values[i - SPIKE_WINDOW : i]):
            count += 1
    return count


def figure6(profile: str, runs: Path, out: Path) -> list[Path]:
    fig, axes = plt.subplots(1, len(table1.ROWS), figsize=(4 * len(table1.ROWS), 3.5))
    rows = []
    for ax, (label, profiles) in zip(axes, table1.ROWS, strict=True):
        for attention in ("laser", "softmax"):
            data = curves(profile, runs, profiles[profile], attention, "train", "loss")
            _plot(ax, data, attention)
            counts = [spikes(v) for _, v in data.values()]
            rows.append(
                {
                    "row": label,
                    "profile": profiles[profile],
                    "attention": attention,
                    "spikes per run": ", ".join(map(str, counts)) or "no runs",
                    "mean": f"{np.mean(counts):.1f}" if counts else "n/a",
                }
            )
        ax.set_title(profiles[profile])
        ax.set_xlabel("Step")
        ax.set_ylabel("Train Loss")
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    paths = [_save(fig, out, "figure6")]
    text = "\n".join(
        [
            "# Figure 6: loss spikes, LASER vs standard attention",
            "",
            f"A spike: a logged train loss above {SPIKE_RATIO} x the median of the previous "
            f"{SPIKE_WINDOW} logged values. Counts per seed, from Table 1's runs ({profile}).",
            "",
            markdown(pd.DataFrame(rows)),
            "",
            "Regenerate: `make reproduce-figure-6`.",
            "",
        ]
    )
    records.write_text(out / "figure6_spikes.md", text)
    return paths + [out / "figure6_spikes.md"]


def _param_count(profile: str) -> int:
    from laser import configs
    from laser.nn import transformer_lm

    config = configs.load(f"{ROOT / figure4_sweep.CONFIG}:{profile}")
    return transformer_lm.param_count(transformer_lm.from_config(config.model))


def _figure4_dir(profile: str, runs: Path, size: str, attention: str) -> Path:
    return run_dir(figure4_sweep.sweep(profile), profile, runs, {ATTENTION: attention}, size)


def figure4(profile: str, runs: Path, out: Path) -> list[Path]:
    """Final test loss vs parameters with a power-law fit per attention kind."""
    fig, ax = plt.subplots(figsize=(6, 4))
    fits, rows = {}, []
    for attention in ("laser", "softmax"):
        points = []
        for size in figure4_sweep.SIZES[profile]:
            status = records.read_status(_figure4_dir(profile, runs, size, attention))
            state = status["status"] if status else "missing"
            loss = status["final"]["test/loss"] if state == "done" else None
            n = _param_count(size)
            rows.append(
                {
                    "size": size,
                    "params": f"{n:,}",
                    "attention": attention,
                    "test loss": f"{loss:.4f}" if loss is not None else state,
                }
            )
            if loss is not None:
                points.append((n, loss))
        if not points:
            continue
        n, y = np.array(points).T
        ax.scatter(n, y, color=COLORS[attention], label=LABELS[attention])
        if len(points) >= 2:
            fits[attention] = law = scaling_law.fit(n, y)
            grid = np.geomspace(n.min(), n.max(), 50)
            ax.plot(
                grid,
                law(grid),
                color=COLORS[attention],
                alpha=0.7,
                label=f"fit {law.a:.3g} n^{law.b:.3f}",
            )
    ax.set_xscale("log")
    ax.set_xlabel("Parameters")
    ax.set_ylabel("Test Loss")
    ax.legend()
    ax.set_title(f"Figure 4 ({profile}): final test loss vs size")
    lines = [
        "# Figure 4: power-law fit f(n) = a n^b of final test loss",
        "",
        markdown(pd.DataFrame(rows)),
        "",
    ]
    for attention, law in fits.items():
        lines.append(
            f"- {attention}: a = {law.a:.4g} ± {law.a_err:.2g}, "
            f"b = {law.b:.4f} ± {law.b_err:.2g} ({law.points} points)"
        )
    if len(fits) == 2:
        largest = max(_param_count(s) for s in figure4_sweep.SIZES[profile])
        target = float(fits["softmax"](largest))
        saving = scaling_law.parameter_saving(fits["laser"], fits["softmax"], target)
        lines.append(
            f"- To reach the standard fit's loss at the largest size ({target:.4f}), LASER's fit "
            f"needs {100 * abs(saving):.1f}% {'fewer' if saving >= 0 else 'more'} parameters. "
            "Paper: 15.65% fewer to reach 2.347 on C4."
        )
    lines += ["", "Regenerate: `make reproduce-figure-4`.", ""]
    records.write_text(out / "figure4_fit.md", "\n".join(lines))
    return [_save(fig, out, "figure4"), out / "figure4_fit.md"]


def figure5(profile: str, runs: Path, out: Path) -> list[Path]:
    """Train and test loss curves of the two largest sizes."""
    sizes = figure4_sweep.SIZES[profile][-2:]
    fig, axes = plt.subplots(2, 2, figsize=(10, 6), sharex=True)
    for col, size in enumerate(sizes):
        for row, split in enumerate(("train", "test")):
            ax = axes[row][col]
            for attention in ("laser", "softmax"):
                rows = [
                    r
                    for r in records.read_metrics(_figure4_dir(profile, runs, size, attention))
                    if r["split"] == split and r["name"] == "loss"
                ]
                if rows:
                    ax.plot(
                        [r["step"] for r in rows],
                        [r["value"] for r in rows],
                        color=COLORS[attention],
                        label=LABELS[attention],
                    )
            ax.set_title(f"{size}: {split} loss")
            if ax.get_legend_handles_labels()[0]:
                ax.legend()
    return [_save(fig, out, "figure5")]


def _save(fig, out: Path, name: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


FIGURES = {
    "figure2": figure2,
    "figure3": figure3,
    "figure4": figure4,
    "figure5": figure5,
    "figure6": figure6,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("figure")
    parser.add_argument("--profile", default="tiny", choices=table1.PROFILES)
    parser.add_argument("--runs", type=Path, default=ROOT / "results" / "runs")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "figures")
    args = parser.parse_args(argv)
    if args.figure not in FIGURES:
        print(f"error: figure {args.figure!r}: accepted: {', '.join(FIGURES)}", file=sys.stderr)
        return 2
    for path in FIGURES[args.figure](args.profile, args.runs, args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
