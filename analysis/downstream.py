"""Downstream tables from run records: Table 2 (one-shot accuracy), Table 10 (the same over the
last 5 checkpoints) and Table 3 (fine-tuning accuracy).

    python -m analysis.downstream evaluate table2|table10 [--profile tiny] [--runs results/runs]
    python -m analysis.render table2|table10|table3 [--profile tiny]

`evaluate` writes the missing <workdir>/evals/<step>.json records of the finished Table 2 runs
(laser/evals/evaluate.py; existing records are kept); the renderers only read records. Accuracy
is the summed-log-likelihood choice ("sum"; the per-token normalised one is in the records), in
percent, mean ± std over seeds (Table 2, 3) or over checkpoints (Table 10).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import pandas as pd

from analysis import paper
from analysis.render import _values, _write, run_dir, seed_dirs
from laser import records
from laser.evals import checkpoint, evaluate, tasks
from sweeps import table2, table3
from sweeps.run import ROOT
from sweeps.spec import ATTENTION, SEED

# Table 10 follows one run per attention (the paper's: one model, 5 checkpoints).
TABLE10_COLUMNS = ("LASER", "Standard")
TABLE10_SEED = 0
CHECKPOINTS = 5


def _workdir(profile: str, runs: Path, column: str, seed: int) -> Path:
    """The run of a Table 2 column and seed (shared with Table 1 where the sweep says so)."""
    return run_dir(table2.sweep(profile), profile, runs, {**table2.where(column), SEED: seed})


def _finished_step(workdir: Path) -> int | None:
    status = records.read_status(workdir)
    return status["step"] if status and status["status"] == "done" else None


def evaluate_table(table: str, profile: str, runs: Path) -> list[Path]:
    """Write the evaluation records Table 2 (final step of every run) or Table 10 (last 5
    checkpoints of the seed-0 LASER and standard runs) needs; skip unfinished runs."""
    jobs = []
    if table == "table2":
        for column in table2.COLUMNS:
            for seed in table2.SEEDS:
                wd = _workdir(profile, runs, column, seed)
                if (step := _finished_step(wd)) is not None:
                    jobs.append((wd, [step]))
    else:
        for column in TABLE10_COLUMNS:
            wd = _workdir(profile, runs, column, TABLE10_SEED)
            if _finished_step(wd) is not None:
                jobs.append((wd, checkpoint.steps(wd)[-CHECKPOINTS:]))
    limit = evaluate.TINY_LIMIT if profile == "tiny" else 0
    written = []
    for wd, steps in jobs:
        written += evaluate.evaluate_run(wd, steps, tasks.TASKS, limit=limit)
    return written


def _accuracy(workdir: Path, step: int, task: str) -> float | None:
    path = workdir / "evals" / f"{step}.json"
    if not path.exists():
        return None
    result = records.read_json(path)["tasks"].get(task)
    return None if result is None else 100 * result["sum"]["accuracy"]


def _chance(workdir: Path, step: int, task: str) -> str:
    path = workdir / "evals" / f"{step}.json"
    if not path.exists() or task not in records.read_json(path)["tasks"]:
        return "-"
    return f"{100 * records.read_json(path)['tasks'][task]['chance']['uniform']:.1f}"


def _fmt(values: list[float], unit: str = "n") -> str:
    if not values:
        return "missing"
    text = f"{statistics.mean(values):.1f}"
    if len(values) > 1:
        text += f" ± {statistics.stdev(values):.1f}"
    return text + f" ({unit}={len(values)})"


def _task_rows() -> list[tuple[str, str | None]]:
    """(row label, our task or None if unavailable): the paper's rows, then our extra tasks."""
    ours = {v: k for k, v in tasks.PAPER_NAMES.items()}
    rows = [(name, ours.get(name)) for name in paper.TABLE_2["rows"]]
    extra = [t for t in tasks.TASKS if t not in tasks.PAPER_NAMES]
    return rows + [(f"{t} (not in paper)", t) for t in extra]


def table2_frame(profile: str, runs: Path) -> pd.DataFrame:
    cols = paper.TABLE_2["columns"]
    dirs = {c: [_workdir(profile, runs, c, s) for s in table2.SEEDS] for c in cols}
    out = []
    for label, task in _task_rows():
        p = paper.TABLE_2["rows"].get(label)
        row = {"task": label, "chance": "-"}
        for i, column in enumerate(cols):
            values = []
            for wd in dirs[column]:
                step = _finished_step(wd)
                v = None if task is None or step is None else _accuracy(wd, step, task)
                if v is not None:
                    values.append(v)
                    row["chance"] = _chance(wd, step, task)
            row[f"paper {column}"] = "-" if p is None else f"{p[i]:.2f}"
            row[f"ours {column}"] = (
                f"unavailable offline: {tasks.UNAVAILABLE[label]}"
                if task is None and i == 0
                else ("" if task is None else _fmt(values))
            )
        out.append(row)
    return pd.DataFrame(out)


def render_table2(profile: str, runs: Path, out: Path) -> Path:
    notes = [
        f"Profile `{profile}`: ours = one-shot accuracy (%) by summed log-likelihood, mean ± std "
        f"over seeds {list(table2.SEEDS)} of the final checkpoint, at most "
        f"{evaluate.TINY_LIMIT if profile == 'tiny' else 'all'} seeded examples per task "
        "(records `<run>/evals/<step>.json`; runs in `results/runs/table1-<profile>/` and "
        "`table2-<profile>/`). Paper: one 2.2B model per column on C4. Chance = uniform guess.",
        "",
        "Scale: the tiny LMs have ~1M parameters trained on ~1M tokens of Shakespeare, and the "
        "real tasks are modern English: expect chance level on them, so LASER-vs-standard "
        "differences there are noise (one example of 100 is 1 point; the binomial standard "
        "error is ~5 points per seed). The paper's differences come from 2.2B models trained "
        "on ~168B tokens of C4; the in-domain Shakespeare cloze is the tiny scale's signal.",
        "",
        f"Regenerate: `make reproduce-table-2 PROFILE={profile}`.",
    ]
    df = table2_frame(profile, runs)
    return _write(out, "table2", "Table 2: one-shot downstream accuracy (%)", df, notes)


def table10_frame(profile: str, runs: Path) -> pd.DataFrame:
    out = []
    for label, task in _task_rows():
        p = paper.TABLE_10["rows"].get(label)
        row = {"task": label}
        for i, column in enumerate(TABLE10_COLUMNS):
            wd = _workdir(profile, runs, column, TABLE10_SEED)
            steps = checkpoint.steps(wd)[-CHECKPOINTS:] if task else []
            values = [v for s in steps if (v := _accuracy(wd, s, task)) is not None]
            row[f"paper {column}"] = "-" if p is None else f"{p[i][0]:.2f} ± {p[i][1]:.2f}"
            row[f"ours {column}"] = "unavailable offline" if task is None else _fmt(values, "ckpts")
        out.append(row)
    return pd.DataFrame(out)


def render_table10(profile: str, runs: Path, out: Path) -> Path:
    notes = [
        f"Profile `{profile}`: ours = one-shot accuracy (%), mean ± std over the last "
        f"{CHECKPOINTS} checkpoints of the seed-{TABLE10_SEED} LASER and standard runs (tiny: "
        "steps 100-500, every 100), same examples and scorer as Table 2. Paper: 2.2B, 5 "
        "checkpoints.",
        "",
        f"Regenerate: `make reproduce-table-10 PROFILE={profile}`.",
    ]
    df = table10_frame(profile, runs)
    return _write(out, "table10", "Table 10: one-shot accuracy over checkpoints (%)", df, notes)


def table3_frame(profile: str, runs: Path) -> pd.DataFrame:
    sweep = table3.sweep(profile)
    names = {"COPA": "copa", "WiC": "wic", "WSC": "wsc", "RTE": "rte", "CB": "cb"}
    out = []
    for label, task in names.items():
        p = paper.TABLE_3["rows"].get(label)
        row = {"task": label}
        for i, attention in enumerate(table3.ATTENTIONS):
            column = paper.TABLE_3["columns"][i]
            row[f"paper {column}"] = "-" if p is None else f"{p[i]:.2f}"
            if task not in table3.TASKS[profile]:
                row[f"ours {column}"] = "unavailable offline" if profile == "tiny" else "-"
                continue
            where = {ATTENTION: attention, "finetune.task": task}
            dirs = seed_dirs(sweep, profile, runs, where, table3.SEEDS[profile])
            values, notes = _values(dirs, "test/accuracy")
            cell = _fmt([100 * v for v in values])
            row[f"ours {column}"] = cell + (f" [{'; '.join(notes)}]" if notes else "")
        out.append(row)
    return pd.DataFrame(out)


def render_table3(profile: str, runs: Path, out: Path) -> Path:
    notes = [
        f"Profile `{profile}`: ours = held-out decoding accuracy (%) after fine-tuning for "
        f"{paper.TABLE_3['epochs']} epochs, mean ± std over seeds (run records in "
        f"`results/runs/table3-{profile}/`). Tiny protocol: each offline validation set is split "
        "60/40 by a seeded permutation into fine-tuning and held-out examples "
        "(experiments/downstream/config.py); CB is not in the paper's Table 3 but is the third "
        "SuperGLUE task shipped offline. Paper: 2.2B, SuperGLUE train/validation.",
        "",
        f"Regenerate: `make reproduce-table-3 PROFILE={profile}`.",
    ]
    df = table3_frame(profile, runs)
    return _write(out, "table3", "Table 3: SuperGLUE fine-tuning accuracy (%)", df, notes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("evaluate",))
    parser.add_argument("table")
    parser.add_argument("--profile", default="tiny", choices=table2.PROFILES)
    parser.add_argument("--runs", type=Path, default=ROOT / "results" / "runs")
    args = parser.parse_args(argv)
    if args.table not in ("table2", "table10"):
        print(f"error: table {args.table!r}: accepted: table2, table10", file=sys.stderr)
        return 2
    for path in evaluate_table(args.table, args.profile, args.runs):
        print(f"record {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
