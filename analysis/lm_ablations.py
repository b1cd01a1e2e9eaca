"""Tables 6 and 7 from run records: one-shot accuracy of the LM ablations, the 7.7B LM (Table 6,
LASER vs standard) and the 2.2B Differential Transformer (Table 7, Diff+LASER vs Diff).

    python -m analysis.lm_ablations evaluate table6|table7 [--profile tiny] [--runs results/runs]
    python -m analysis.render table6|table7 [--profile tiny]

`evaluate` writes the missing <workdir>/evals/<step>.json records of the finished runs of the
table's sweep (sweeps/table6.py, sweeps/table7.py), on the table's tasks that install offline
plus the Shakespeare cloze (existing records are kept); the renderers only read records.
Accuracy as in Table 2 (analysis/downstream.py): the summed-log-likelihood choice, in percent,
mean ± std over seeds. The difference column pairs the two columns' runs of the same seed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import pandas as pd

from analysis import paper
from analysis.downstream import _accuracy, _chance, _finished_step, _fmt
from analysis.render import _write, run_dir
from laser import records
from laser.evals import evaluate, tasks
from sweeps import table6, table7
from sweeps.run import ROOT
from sweeps.spec import ATTENTION, SEED

# table -> (the paper's numbers, the sweep module whose COLUMNS map paper columns to kinds)
SPECS = {"table6": (paper.TABLE_6, table6), "table7": (paper.TABLE_7, table7)}
TITLES = {
    "table6": "Table 6: one-shot downstream accuracy (%) of the 7.7B LM (tiny: its analog)",
    "table7": "Table 7: one-shot downstream accuracy (%) of the 2.2B Diff Transformer",
}
# Row names of Tables 6 and 7 -> our task (laser.evals.tasks). The other rows (MultiRC, RaceM,
# StoryCloze, WiC) are not available offline; tasks.UNAVAILABLE says why.
OURS = {
    "ArcE": "arc_easy",
    "BoolQ": "boolq",
    "CB": "cb",
    "HellaSwag": "hellaswag",
    "OpenbookQA": "openbookqa",
    "RTE": "rte",
    "Winogrande": "winogrande",
}


def task_names(table: str) -> tuple[str, ...]:
    """The tasks a table's runs are evaluated on: its rows available offline, and the cloze."""
    rows = SPECS[table][0]["rows"]
    return (*(OURS[r] for r in rows if r in OURS), tasks.CLOZE)


def _runs(table: str, profile: str, runs: Path) -> dict[str, dict[int, Path]]:
    """{paper column: {seed: workdir}} through the sweep's own trials."""
    _, module = SPECS[table]
    sweep = module.sweep(profile)
    return {
        column: {s: run_dir(sweep, profile, runs, {ATTENTION: kind, SEED: s}) for s in module.SEEDS}
        for column, kind in module.COLUMNS.items()
    }


def evaluate_table(table: str, profile: str, runs: Path) -> list[Path]:
    """Write the evaluation records (final step of every finished run) the table needs."""
    limit = evaluate.TINY_LIMIT if profile == "tiny" else 0
    written = []
    for dirs in _runs(table, profile, runs).values():
        for wd in dirs.values():
            if (step := _finished_step(wd)) is not None:
                written += evaluate.evaluate_run(wd, [step], task_names(table), limit=limit)
    return written


def _scores(dirs: dict[int, Path], names: tuple[str, ...]) -> dict[int, dict[str, float]]:
    """{seed: {task: accuracy %}} of the finished runs that have records."""
    out = {}
    for seed, wd in dirs.items():
        step = _finished_step(wd)
        if step is None:
            continue
        found = {t: v for t in names if (v := _accuracy(wd, step, t)) is not None}
        if found:
            out[seed] = found
    return out


def _delta(a: dict[int, float], b: dict[int, float]) -> str:
    """Mean ± std over seeds of the paired difference a - b (points)."""
    d = [a[s] - b[s] for s in a if s in b]
    if not d:
        return "n/a"
    text = f"{statistics.mean(d):+.1f}"
    return text + (f" ± {statistics.stdev(d):.1f}" if len(d) > 1 else "") + f" (n={len(d)})"


def table_frame(table: str, profile: str, runs: Path) -> pd.DataFrame:
    spec, _ = SPECS[table]
    (col_a, col_b), rows = spec["columns"], spec["rows"]
    names = task_names(table)
    dirs = _runs(table, profile, runs)
    scores = {c: _scores(dirs[c], names) for c in (col_a, col_b)}

    def per_seed(column: str, task: str) -> dict[int, float]:
        return {s: v[task] for s, v in scores[column].items() if task in v}

    def chance(task: str) -> str:
        for wd in (*dirs[col_a].values(), *dirs[col_b].values()):
            if (step := _finished_step(wd)) is not None and (c := _chance(wd, step, task)) != "-":
                return c
        return "-"

    def row(label, task, p_a, p_b, a: dict[int, float], b: dict[int, float]) -> dict:
        paper_diff = "-" if p_a is None else f"{p_a - p_b:+.2f}"
        return {
            "task": label,
            "chance": "-" if task is None else chance(task),
            f"paper {col_a}": "-" if p_a is None else f"{p_a:.2f}",
            f"ours {col_a}": _fmt(list(a.values())),
            f"paper {col_b}": "-" if p_b is None else f"{p_b:.2f}",
            f"ours {col_b}": _fmt(list(b.values())),
            f"paper {col_a} − {col_b}": paper_diff,
            f"ours {col_a} − {col_b}": _delta(a, b),
        }

    out = []
    for label, (p_a, p_b) in rows.items():
        task = OURS.get(label)
        if task is None:  # the reason in the first "ours" cell, the others empty (as Table 2)
            r = row(label, None, p_a, p_b, {}, {})
            r |= {k: "" for k in r if k.startswith("ours")}
            out.append(r | {f"ours {col_a}": f"unavailable offline: {tasks.UNAVAILABLE[label]}"})
        else:
            out.append(row(label, task, p_a, p_b, per_seed(col_a, task), per_seed(col_b, task)))
    offline = [label for label in rows if label in OURS]
    p_mean = [statistics.mean(rows[label][i] for label in offline) for i in (0, 1)]

    def mean_over_offline(column: str) -> dict[int, float]:
        tasks_ = [OURS[label] for label in offline]
        return {
            s: statistics.mean(v[t] for t in tasks_)
            for s, v in scores[column].items()
            if all(t in v for t in tasks_)
        }

    mean_label = f"Mean of the {len(offline)} offline tasks"
    means = (mean_over_offline(col_a), mean_over_offline(col_b))
    out.append(row(mean_label, None, *p_mean, *means))
    average = row(f"Average (paper, all {len(rows)} tasks)", None, *spec["average"], {}, {})
    out.append(average | {k: "-" for k in average if k.startswith("ours")})
    cloze = tasks.CLOZE
    out.append(
        row(
            f"{cloze} (not in paper)",
            cloze,
            None,
            None,
            per_seed(col_a, cloze),
            per_seed(col_b, cloze),
        )
    )
    out.append(_loss_row(dirs, col_a, col_b))
    return pd.DataFrame(out)


def _loss_row(dirs: dict[str, dict[int, Path]], col_a: str, col_b: str) -> dict:
    """The runs' own final test loss (status.json; not in the paper's table), lower is better."""
    loss = {}
    for column in (col_a, col_b):
        loss[column] = {}
        for seed, wd in dirs[column].items():
            status = records.read_status(wd)
            if status and status["status"] == "done":
                loss[column][seed] = status["final"]["test/loss"]

    def cell(values: list[float], sign: str = "") -> str:
        if not values:
            return "n/a"
        spread = f" ± {statistics.stdev(values):.4f}" if len(values) > 1 else ""
        return f"{statistics.mean(values):{sign}.4f}{spread} (n={len(values)})"

    a, b = loss[col_a], loss[col_b]
    return {
        "task": "test loss of the LM (not in paper; lower is better)",
        "chance": "-",
        f"paper {col_a}": "-",
        f"ours {col_a}": cell(list(a.values())),
        f"paper {col_b}": "-",
        f"ours {col_b}": cell(list(b.values())),
        f"paper {col_a} − {col_b}": "-",
        f"ours {col_a} − {col_b}": cell([a[s] - b[s] for s in a if s in b], "+"),
    }


def render(table: str, profile: str, runs: Path, out: Path) -> Path:
    spec, module = SPECS[table]
    model = module.MODEL[profile]
    config = module.CONFIG
    notes = [
        f"Profile `{profile}` (`{config}:{model}`): ours = one-shot accuracy (%) by summed "
        f"log-likelihood, mean ± std over seeds {list(module.SEEDS)} of the final checkpoint, at "
        f"most {evaluate.TINY_LIMIT if profile == 'tiny' else 'all'} seeded examples per task "
        f"(records `<run>/evals/<step>.json`; runs in `results/runs/{table}-{profile}/`); "
        "differences are paired by seed, in points. Paper: one "
        f"{spec['model']} model per column, {spec['tokens']} tokens of C4 "
        f"({spec['source']}). Chance = uniform guess.",
        "",
        "The mean of the offline tasks compares like with like (the paper's numbers averaged over "
        "the same rows); the paper's own average is over all its tasks, ours has no such cell. "
        "The last row is the LMs' own final test loss (status.json; held-out Shakespeare plays "
        "on the tiny profile), not part of the paper's table.",
        "",
        f"Regenerate: `make reproduce-{table.replace('table', 'table-')} PROFILE={profile}`.",
    ]
    unfinished = [
        f"{column} seed {seed}: {status['status'] if status else 'missing'}"
        for column, dirs in _runs(table, profile, runs).items()
        for seed, wd in dirs.items()
        if not ((status := records.read_status(wd)) and status["status"] == "done")
    ]
    if unfinished:  # named here, left out of the cells (their n says how many seeds count)
        notes[1:1] = ["", "Runs not in the cells: " + "; ".join(unfinished) + "."]
    df = table_frame(table, profile, runs)
    return _write(out, table, TITLES[table], df, notes)


def render_table6(profile: str, runs: Path, out: Path) -> Path:
    return render("table6", profile, runs, out)


def render_table7(profile: str, runs: Path, out: Path) -> Path:
    return render("table7", profile, runs, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("evaluate",))
    parser.add_argument("table")
    parser.add_argument("--profile", default="tiny", choices=table7.PROFILES)
    parser.add_argument("--runs", type=Path, default=ROOT / "results" / "runs")
    args = parser.parse_args(argv)
    if args.table not in SPECS:
        print(f"error: table {args.table!r}: accepted: {', '.join(SPECS)}", file=sys.stderr)
        return 2
    for path in evaluate_table(args.table, args.profile, args.runs):
        print(f"record {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
