"""Run a sweep: every trial in its own workdir, skipping finished ones, resuming the rest.

    python -m sweeps.run sweeps/table1.py [--profile tiny] [--jobs N] [--dry-run] [--runs DIR]

Trials run as `python -m laser.main` subprocesses under <runs>/<sweep>-<profile>/<trial>/ (or the
workdir they share with another sweep, Trial.workdir); the runs a trial reads (Trial.inputs, e.g.
a pretrained LM) are found under the same <runs>. A trial
whose status.json says done is skipped; any other is (re)started and resumes from its own
checkpoint. The runner can be killed at any moment: its children get SIGTERM when it dies
(Linux PR_SET_PDEATHSIG), checkpoint and stop, and the trainer's lock on the workdir keeps a
restarted runner from running a trial twice at once. At the end, best.json ranks the trials by
the sweep's metric (diverged and failed trials last).
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from tqdm import tqdm

from laser import records
from laser.configs import ConfigError
from sweeps.spec import Sweep, Trial

ROOT = Path(__file__).resolve().parents[1]


def load_sweep(path: str, profile: str) -> Sweep:
    """`sweep(profile)` of a sweep file; a bad path or profile is a ConfigError."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"sweep file {path!r} not found; accepted: a path like sweeps/table1.py")
    spec = importlib.util.spec_from_file_location(f"sweep_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    profiles = getattr(module, "PROFILES", ("tiny", "paper"))
    if profile not in profiles:
        raise ConfigError(f"--profile {profile!r}: accepted: {', '.join(profiles)}")
    return module.sweep(profile)


def sweep_dir(sweep: Sweep, profile: str, runs: Path) -> Path:
    return runs / f"{sweep.name}-{profile}"


def trial_dir(sweep: Sweep, profile: str, runs: Path, trial: Trial) -> Path:
    """A trial's workdir: its own, or one it shares with another sweep (Trial.workdir)."""
    return runs / sweep.path(trial, profile)


def _die_with_parent():  # runs in the child between fork and exec
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _launch(trial: Trial, workdir: Path, runs: Path) -> subprocess.Popen:
    workdir.mkdir(parents=True, exist_ok=True)
    log = open(workdir / "train.log", "a")
    # Absolute paths: the child runs in ROOT, which need not be the directory --runs is relative to.
    cmd = trial.command(str(workdir.resolve()), sys.executable, runs=runs.resolve())
    cmd += ["--config.train.progress=false"]
    preexec = _die_with_parent if sys.platform.startswith("linux") else None
    return subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, preexec_fn=preexec)


def run(sweep: Sweep, profile: str, runs: Path, jobs: int = 1) -> dict:
    base = sweep_dir(sweep, profile, runs)
    todo = []
    for trial in sweep.trials:
        status = records.read_status(trial_dir(sweep, profile, runs, trial))
        if not (status and status["status"] == "done"):
            todo.append(trial)
    bar = tqdm(total=len(sweep.trials), initial=len(sweep.trials) - len(todo), desc=sweep.name)
    active: dict[str, subprocess.Popen] = {}
    failed = []
    while todo or active:
        while todo and len(active) < jobs:
            trial = todo.pop(0)
            active[trial.name] = _launch(trial, trial_dir(sweep, profile, runs, trial), runs)
        time.sleep(0.2)
        for name, proc in list(active.items()):
            if proc.poll() is not None:
                del active[name]
                bar.update(1)
                if proc.returncode != 0:
                    failed.append(name)
    bar.close()
    best = rank(sweep, base, profile, runs)
    records.write_json(base / "best.json", best)
    if failed:
        print(f"{len(failed)} trial(s) did not finish: {', '.join(failed)} (see train.log)")
    return best


def rank(sweep: Sweep, base: Path, profile: str = "", runs: Path | None = None) -> dict:
    """Trials ordered by the sweep's metric (lower first); diverged/failed/missing last."""
    rows = []
    for trial in sweep.trials:
        where = trial_dir(sweep, profile, runs, trial) if runs else base / trial.name
        status = records.read_status(where) or {"status": "missing"}
        value = status.get("final", {}).get(sweep.metric) if status["status"] == "done" else None
        rows.append(
            {
                "trial": trial.name,
                "status": status["status"],
                "value": value,
                "overrides": dict(trial.overrides),
                "profile": trial.profile,
            }
        )
    rows.sort(key=lambda r: (r["value"] is None, r["value"] if r["value"] is not None else 0))
    best = rows[0] if rows and rows[0]["value"] is not None else None
    return {"sweep": sweep.name, "metric": sweep.metric, "best": best, "ranking": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep")
    parser.add_argument("--profile", default="tiny")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--runs", type=Path, default=ROOT / "results" / "runs")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.jobs < 1:
            raise ConfigError(f"--jobs {args.jobs}: accepted: an integer >= 1")
        sweep = load_sweep(args.sweep, args.profile)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    base = sweep_dir(sweep, args.profile, args.runs)
    if args.dry_run:
        for trial in sweep.trials:
            workdir = str(trial_dir(sweep, args.profile, args.runs, trial))
            print(shlex.join(trial.command(workdir, runs=args.runs)))
        return 0
    best = run(sweep, args.profile, args.runs, args.jobs)
    done = sum(r["status"] == "done" for r in best["ranking"])
    print(f"{sweep.name}: {done}/{len(sweep.trials)} trials done; best.json in {base}")
    return 0 if done == len(sweep.trials) else 1


if __name__ == "__main__":
    sys.exit(main())
