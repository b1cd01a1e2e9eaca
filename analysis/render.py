"""Render a results table from run records.

    python -m analysis.render table1 [--profile tiny] [--runs results/runs] [--out results/tables]

Each table reads the final metrics (status.json) of its sweep's trials and writes
<out>/<name>.md and .csv: the paper's numbers, our mean ± std over seeds with the number of seeds,
and the relative LASER-vs-standard difference. Missing, running or diverged runs are shown as such.
Runs are found through the sweep's own Trial objects (selected by their overrides and profile,
located by sweeps.run.trial_dir), never by rebuilding trial names here.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from analysis import paper
from analysis.tables import markdown
from laser import records
from sweeps import ablations, table1, table8, table9
from sweeps.run import ROOT, trial_dir
from sweeps.spec import ATTENTION, SEED, Sweep


def run_dir(
    sweep: Sweep, profile: str, runs: Path, where: Mapping[str, Any], model: str | None = None
) -> Path:
    """The workdir of the one trial of `sweep` (run at `profile`) whose overrides match `where`
    and, if given, whose config profile is `model` (Sweep.find)."""
    return trial_dir(sweep, profile, runs, sweep.find(where, model))


def seed_dirs(
    sweep: Sweep,
    profile: str,
    runs: Path,
    where: Mapping[str, Any],
    seeds: Iterable[int],
    model: str | None = None,
) -> dict[str, Path]:
    """{"seed s": workdir} of the trials matching `where` with train.seed s."""
    return {f"seed {s}": run_dir(sweep, profile, runs, {**where, SEED: s}, model) for s in seeds}


def _values(dirs: Mapping[str, Path], metric: str):
    """Final `metric` of the runs {label: workdir} that are done; notes for the others."""
    values, notes = [], []
    for label, workdir in dirs.items():
        status = records.read_status(workdir)
        state = status["status"] if status else "missing"
        if state == "done":
            values.append(status["final"][metric])
        else:
            notes.append(f"{label} {state}")
    return values, notes


def _cell(values: list[float], notes: list[str]) -> str:
    if not values:
        return "; ".join(notes) or "missing"
    text = f"{statistics.mean(values):.3f}"
    if len(values) > 1:
        text += f" ± {statistics.stdev(values):.3f}"
    text += f" (n={len(values)})"
    return text + (f" [{'; '.join(notes)}]" if notes else "")


def _diff(laser: list[float], standard: list[float]) -> str:
    if not (laser and standard):
        return "n/a"
    return f"{100 * (statistics.mean(laser) / statistics.mean(standard) - 1):+.2f}%"


def _comparison(p_laser: float, p_std: float, laser, standard) -> dict:
    """The paper's pair and ours: laser/standard = (values, notes) from _values."""
    return {
        "paper LASER": p_laser,
        "paper standard": p_std,
        "paper LASER vs standard": f"{100 * (p_laser / p_std - 1):+.2f}%",
        "ours LASER": _cell(*laser),
        "ours standard": _cell(*standard),
        "ours LASER vs standard": _diff(laser[0], standard[0]),
    }


def table1_frame(profile: str, runs: Path) -> pd.DataFrame:
    sweep = table1.sweep(profile)
    out = []
    for label, profiles in table1.ROWS:
        laser, standard = (
            _values(
                seed_dirs(sweep, profile, runs, {ATTENTION: a}, table1.SEEDS, profiles[profile]),
                "test/loss",
            )
            for a in ("laser", "softmax")
        )
        row = {"row (paper scale)": label, "profile": profiles[profile]}
        out.append(row | _comparison(*paper.TABLE_1["rows"][label], laser, standard))
    return pd.DataFrame(out)


def render_table1(profile: str, runs: Path, out: Path) -> Path:
    df = table1_frame(profile, runs)
    lines = [
        "# Table 1: test loss, LASER vs standard attention",
        "",
        f"Profile `{profile}`; ours = mean ± std over seeds {list(table1.SEEDS)} of the final "
        "test loss (run records in "
        f"`results/runs/table1-{profile}/`); the paper reports one run per cell at 234M-435M "
        "parameters on C4. Negative differences mean LASER is lower (better).",
        "",
        markdown(df),
        "",
    ]
    if profile == "tiny":
        lines += [
            "Tiny scale: Shakespeare's plays (test: Hamlet, Macbeth, The Tempest), 1-1.3M "
            "parameters, 4096-piece vocabulary; losses are not comparable in value with the "
            "paper's C4 losses, only the direction and size of the LASER-vs-standard "
            "difference is.",
            "",
        ]
    lines.append(f"Regenerate: `make reproduce-table-1 PROFILE={profile}`.")
    out.mkdir(parents=True, exist_ok=True)
    records.write_text(out / "table1.md", "\n".join(lines) + "\n")
    records.write_text(out / "table1.csv", df.to_csv(index=False))
    return out / "table1.md"


def _write(out: Path, name: str, title: str, df: pd.DataFrame, notes: list[str]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    text = "\n".join([f"# {title}", "", markdown(df), "", *notes]) + "\n"
    records.write_text(out / f"{name}.md", text)
    records.write_text(out / f"{name}.csv", df.to_csv(index=False))
    return out / f"{name}.md"


def render_table8(profile: str, runs: Path, out: Path) -> Path:
    """The NAdamW search space, straight from sweeps/table8.py."""
    del profile, runs
    rows = [
        dict(
            zip(
                ("parameter", "min", "max", "scaling / feasible points"),
                (k, *p.describe()),
                strict=True,
            )
        )
        for k, p in table8.SPACE.items()
    ]
    notes = [
        f"{table8.TRIALS} trials: AlgoPerf's Halton points (algoperf/halton.py: largest primes "
        "below 1000, permuted digits, shifted, first 100 skipped) in a seeded order "
        "(`sweeps/table8.py`, `sweeps/spec.py`); the paper's Table 8 is in analysis/paper.py.",
        "Regenerate: `make reproduce-table-8`.",
    ]
    return _write(
        out, "table8", "Table 8: NAdamW search space (ViT, Conformer)", pd.DataFrame(rows), notes
    )


def render_table9(profile: str, runs: Path, out: Path) -> Path:
    """The LM grid, straight from sweeps/table9.py."""
    del runs
    space = table9.sweep(profile).space
    rows = [
        {
            "parameter": k,
            "value": ", ".join(f"{x:g}" for x in v) if isinstance(v, list) else f"{v:g}",
        }
        for k, v in space.items()
    ]
    notes = [
        f"{len(table9.sweep(profile).trials)} trials on `{table9.MODEL[profile]}` "
        "(`python -m sweeps.run sweeps/table9.py`).",
        "Regenerate: `make reproduce-table-9`.",
    ]
    return _write(
        out, "table9", "Table 9: language-model hyperparameter grid", pd.DataFrame(rows), notes
    )


def render_ablations(profile: str, runs: Path, out: Path) -> list[Path]:
    """LAMB (301M analog, 3 seeds; train and test loss) and Table 11 (float32 vs bfloat16)."""
    sweep = ablations.sweep(profile)
    lamb_rows = []
    for split in ("train", "test"):
        cells = {}
        for attention in ablations.ATTENTIONS:
            lamb = {ATTENTION: attention, "optim.name": "lamb"}
            dirs = seed_dirs(sweep, profile, runs, lamb, ablations.LAMB_SEEDS)
            cells[attention] = _values(dirs, f"{split}/loss")
        p = paper.LAMB[split]
        comparison = _comparison(p["laser"], p["standard"], cells["laser"], cells["softmax"])
        lamb_rows.append({"loss": split} | comparison)
    precision_rows = []
    for dtype, label in (("float32", "FP32"), ("bfloat16", "BF16")):
        cells = {
            a: _values(
                {"run": run_dir(sweep, profile, runs, {ATTENTION: a, "model.dtype": dtype})},
                "test/loss",
            )
            for a in ("laser", "softmax")
        }
        comparison = _comparison(*paper.TABLE_11["rows"][label], cells["laser"], cells["softmax"])
        precision_rows.append({"precision": label} | comparison)
    where = f"run records in `results/runs/ablations-{profile}/`"
    lamb = _write(
        out,
        "lamb",
        "LAMB ablation (301M model): LASER vs standard attention",
        pd.DataFrame(lamb_rows),
        [
            f"Model `{ablations.LAMB_MODEL[profile]}`, optimizer LAMB, seeds "
            f"{list(ablations.LAMB_SEEDS)}; {where}.",
            "Regenerate: `make reproduce-lamb`.",
        ],
    )
    t11 = _write(
        out,
        "table11",
        "Table 11: float32 vs bfloat16, LASER vs standard attention",
        pd.DataFrame(precision_rows),
        [
            f"Model `{ablations.PRECISION_MODEL[profile]}`, one seed per cell; {where}.",
            "Regenerate: `make reproduce-table-11`.",
        ],
    )
    return [lamb, t11]


def _elsewhere(module: str, name: str):
    """A renderer defined in another analysis module (which imports this one's helpers)."""

    def render(profile: str, runs: Path, out: Path):
        return getattr(importlib.import_module(module), name)(profile, runs, out)

    return render


TABLES = {
    "table1": render_table1,
    "table2": _elsewhere("analysis.downstream", "render_table2"),
    "table3": _elsewhere("analysis.downstream", "render_table3"),
    "table4": _elsewhere("analysis.vision", "render_table4"),
    "table5": _elsewhere("analysis.speech", "render_table5"),
    "table6": _elsewhere("analysis.lm_ablations", "render_table6"),
    "table7": _elsewhere("analysis.lm_ablations", "render_table7"),
    "table8": render_table8,
    "table9": render_table9,
    "table10": _elsewhere("analysis.downstream", "render_table10"),
    "table11": render_ablations,
    "lamb": render_ablations,
    "bert": _elsewhere("analysis.bert", "render_bert"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table")
    parser.add_argument("--profile", default="tiny", choices=table1.PROFILES)
    parser.add_argument("--runs", type=Path, default=ROOT / "results" / "runs")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "tables")
    args = parser.parse_args(argv)
    if args.table not in TABLES:
        print(f"error: table {args.table!r}: accepted: {', '.join(TABLES)}", file=sys.stderr)
        return 2
    written = TABLES[args.table](args.profile, args.runs, args.out)
    for path in written if isinstance(written, list) else [written]:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
