"""Run a sweep: every trial in its own workdir, skipping finished ones, resuming the rest.

    python -m sweeps.run sweeps/table1.py [--profile tiny] [--jobs N] [--dry-run] [--runs DIR]
        [--launcher local|slurm [Slurm options, sweeps/slurm.py]]

Trials run as `python -m laser.main` subprocesses under <runs>/<sweep>-<profile>/<trial>/ (or the
workdir they share with another sweep, Trial.workdir); the runs a trial reads (Trial.inputs, e.g.
a pretrained LM) are found under the same <runs>. A trial
whose status.json says done is skipped; any other is (re)started and resumes from its own
checkpoint. The runner can be killed at any moment: its children get SIGTERM when it dies
(Linux PR_SET_PDEATHSIG), checkpoint and stop, and the trainer's lock on the workdir keeps a
restarted runner from running a trial twice at once. At the end, best.json ranks the trials by
the sweep's metric (diverged and failed trials last).

`--launcher slurm` submits each unfinished trial as a Slurm job instead (sweeps/slurm.py);
`--dry-run` then prints the sbatch scripts. `--runs` may be a URI (gs://bucket/runs): records,
checkpoints and best.json go there through etils.epath, the trials' logs to results/logs/.
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
from sweeps import slurm
from sweeps.spec import Sweep, Trial

ROOT = Path(__file__).resolve().parents[1]
LAUNCHERS = ("local", "slurm")
LOGS = ROOT / "results" / "logs"  # logs of trials whose workdirs are URIs


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


def sweep_dir(sweep: Sweep, profile: str, runs) -> Path:
    return records.as_path(runs) / f"{sweep.name}-{profile}"


def trial_dir(sweep: Sweep, profile: str, runs, trial: Trial) -> Path:
    """A trial's workdir: its own, or one it shares with another sweep (Trial.workdir)."""
    return records.as_path(runs) / sweep.path(trial, profile)


def log_dir(sweep: Sweep, profile: str, runs, trial: Trial) -> Path:
    """Where a trial's log (and Slurm script) goes: its workdir when local; for a URI workdir
    (gs://, which cannot be appended to) the same relative path under results/logs/."""
    if records.is_local(runs):
        return trial_dir(sweep, profile, runs, trial)
    return LOGS / sweep.path(trial, profile)


def _command(sweep: Sweep, profile: str, runs, trial: Trial, python: str) -> list[str]:
    """The trial's laser.main command with absolute paths (jobs run in ROOT, which need not be
    the directory --runs is relative to)."""
    workdir = str(records.resolved(trial_dir(sweep, profile, runs, trial)))
    cmd = trial.command(workdir, python, runs=records.resolved(runs))
    return cmd + ["--config.train.progress=false"]


def _die_with_parent():  # runs in the child between fork and exec
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _launch(sweep: Sweep, profile: str, runs, trial: Trial) -> subprocess.Popen:
    logs = log_dir(sweep, profile, runs, trial)
    logs.mkdir(parents=True, exist_ok=True)
    log = open(logs / "train.log", "a")
    cmd = _command(sweep, profile, runs, trial, sys.executable)
    preexec = _die_with_parent if sys.platform.startswith("linux") else None
    return subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, preexec_fn=preexec)


def _done(sweep: Sweep, profile: str, runs, trial: Trial) -> bool:
    status = records.read_status(trial_dir(sweep, profile, runs, trial))
    return bool(status and status["status"] == "done")


def run(sweep: Sweep, profile: str, runs, jobs: int = 1) -> dict:
    """Run the unfinished trials here, `jobs` at a time; best.json."""
    base = sweep_dir(sweep, profile, runs)
    todo = [t for t in sweep.trials if not _done(sweep, profile, runs, t)]
    bar = tqdm(total=len(sweep.trials), initial=len(sweep.trials) - len(todo), desc=sweep.name)
    active: dict[str, subprocess.Popen] = {}
    failed = []
    while todo or active:
        while todo and len(active) < jobs:
            trial = todo.pop(0)
            active[trial.name] = _launch(sweep, profile, runs, trial)
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


def _inputs_done(trial: Trial, runs) -> bool:
    return all(
        (records.read_status(records.as_path(runs) / path) or {}).get("status") == "done"
        for _, path in trial.inputs
    )


def run_slurm(
    sweep: Sweep, profile: str, runs, opts: slurm.SlurmOptions, wait: bool = False
) -> tuple[dict, bool]:
    """Submit each unfinished trial without a queued or running job (sweeps/slurm.py); with
    `wait`, return when none is queued or running. (best.json, every submission accepted)."""
    name = f"{sweep.name}-{profile}"
    submitted, ok = [], True
    for trial in sweep.trials:
        logs = log_dir(sweep, profile, runs, trial)
        if _done(sweep, profile, runs, trial):
            continue
        if not _inputs_done(trial, runs):  # e.g. fine-tuning before its LM has finished
            slurm.say(f"{trial.name}: waiting for its input runs; submitted on a later call")
            continue
        job = slurm.last_job(logs)
        state = slurm.job_state(job) if job else None
        if state in slurm.ACTIVE:
            slurm.say(f"{trial.name}: job {job} {state}")
            submitted.append(job)
            continue
        command = _command(sweep, profile, runs, trial, sys.executable)
        try:
            new = slurm.launch(command, f"{name}/{trial.name}", logs, opts)
        except RuntimeError as e:
            slurm.say(f"{trial.name}: not submitted: {e}")
            ok = False
            continue
        again = f" (job {job} ended {state or 'and was forgotten'})" if job else ""
        slurm.say(f"{trial.name}: submitted job {new}{again}")
        submitted.append(new)
    if wait:
        slurm.wait(submitted)
    base = sweep_dir(sweep, profile, runs)
    best = rank(sweep, base, profile, runs)
    records.write_json(base / "best.json", best)
    return best, ok


def rank(sweep: Sweep, base: Path, profile: str = "", runs=None) -> dict:
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


SLURM_FLAGS = {  # flag: (SlurmOptions field, type)
    "--nodes": ("nodes", int),
    "--tasks-per-node": ("tasks_per_node", int),
    "--gpus-per-node": ("gpus_per_node", int),
    "--cpus-per-task": ("cpus_per_task", int),
    "--partition": ("partition", str),
    "--time": ("time", str),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep")
    parser.add_argument("--profile", default="tiny")
    parser.add_argument("--jobs", type=int, default=1, help="local: trials at once")
    parser.add_argument("--runs", default=str(ROOT / "results" / "runs"), help="dir or URI")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--launcher", default="local", help="local (default) or slurm")
    slurm_flags = parser.add_argument_group("Slurm (--launcher slurm)")
    for flag in SLURM_FLAGS:
        slurm_flags.add_argument(flag, default=None)
    slurm_flags.add_argument("--sbatch-arg", action="append", default=None, help="repeatable")
    slurm_flags.add_argument("--overcommit", action="store_true", default=None)
    slurm_flags.add_argument("--wait", action="store_true", default=None)
    return parser


def _slurm_options(args: argparse.Namespace) -> slurm.SlurmOptions | None:
    """The Slurm options given (ConfigError for a bad value, or for any of them without
    --launcher slurm); None for the local launcher."""
    if args.launcher not in LAUNCHERS:
        raise ConfigError(f"--launcher {args.launcher!r}: accepted: {', '.join(LAUNCHERS)}")
    given = {f: getattr(args, f[2:].replace("-", "_")) for f in [*SLURM_FLAGS, "--sbatch-arg"]}
    given |= {"--overcommit": args.overcommit, "--wait": args.wait}
    given = {f: v for f, v in given.items() if v is not None}
    if args.launcher == "local":
        if given:
            raise ConfigError(f"{', '.join(given)}: accepted only with --launcher slurm")
        return None
    fields = {}
    for flag, (field, kind) in SLURM_FLAGS.items():
        if flag in given:
            try:
                fields[field] = kind(given[flag])
            except ValueError:
                raise ConfigError(f"{flag} {given[flag]!r}: accepted: an integer") from None
    return slurm.SlurmOptions(
        **fields,
        overcommit=bool(args.overcommit),
        sbatch_args=tuple(args.sbatch_arg or ()),
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.jobs < 1:
            raise ConfigError(f"--jobs {args.jobs}: accepted: an integer >= 1")
        opts = _slurm_options(args)
        sweep = load_sweep(args.sweep, args.profile)
        if opts is not None and not args.dry_run:
            slurm.check_available()
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    runs = records.as_path(args.runs)
    base = sweep_dir(sweep, args.profile, runs)
    if args.dry_run:
        for trial in sweep.trials:
            if opts is None:
                workdir = str(trial_dir(sweep, args.profile, runs, trial))
                print(shlex.join(trial.command(workdir, runs=runs)))
            elif not _done(sweep, args.profile, runs, trial):
                command = _command(sweep, args.profile, runs, trial, sys.executable)
                logs = str(log_dir(sweep, args.profile, runs, trial))
                name = f"{sweep.name}-{args.profile}/{trial.name}"
                print(f"# {trial.name}: {logs}/{slurm.SCRIPT}")
                print(slurm.script(command, name, logs, opts))
        return 0
    if opts is None:
        best, ok = run(sweep, args.profile, runs, args.jobs), True
    else:
        best, ok = run_slurm(sweep, args.profile, runs, opts, wait=bool(args.wait))
    done = sum(r["status"] == "done" for r in best["ranking"])
    print(f"{sweep.name}: {done}/{len(sweep.trials)} trials done; best.json in {base}")
    if opts is not None and not args.wait:
        return 0 if ok else 1  # submitted: the jobs finish later; call again to resubmit
    return 0 if done == len(sweep.trials) else 1


if __name__ == "__main__":
    sys.exit(main())
