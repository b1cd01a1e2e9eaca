"""The Slurm launcher of the sweep runner: one sbatch job per unfinished trial.

    python -m sweeps.run <sweep> --launcher slurm [--nodes N] [--tasks-per-node T]
        [--gpus-per-node G] [--cpus-per-task C] [--partition P] [--time T] [--sbatch-arg A ...]
        [--overcommit] [--wait] [--dry-run]

Each trial's job runs `srun python -m laser.main ...` over its allocation, so each of its
nodes x tasks-per-node tasks is one JAX process and laser.main starts jax.distributed from
srun's environment (laser/train/distributed.py; on GPUs JAX's convention is one task per GPU:
tasks-per-node defaults to gpus-per-node). The job's script, its log (slurm-<job id>.out) and
a record of its job ids (slurm.json) live in the trial's log directory (its workdir, or
results/logs/... when the workdir is a URI: Slurm writes logs to a filesystem). The repository,
the Python environment and a local workdir must be on a filesystem the nodes share.

A call submits every trial that is not done, not waiting for an input run, and has no job
queued or running (squeue; scontrol for jobs that just left the queue; accounting may be off):
a trial whose last job failed, timed out or was preempted is resubmitted and resumes from its
checkpoint. Jobs get SIGTERM two minutes before their time limit (`--signal=TERM@120`): the
trainer checkpoints and stops, and the next call resubmits them. Without --wait a call returns
once its jobs are submitted; with --wait it returns when none of them is queued or running.
"""

from __future__ import annotations

import dataclasses
import datetime
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from laser import records
from laser.configs import ConfigError

# Job states in which a job may still finish its trial: leave the trial alone. Any other state
# (COMPLETED without a done status, FAILED, TIMEOUT, PREEMPTED, CANCELLED, NODE_FAIL,
# OUT_OF_MEMORY, BOOT_FAIL, DEADLINE) or an unknown job (purged from the controller) resubmits.
ACTIVE = frozenset(
    (
        "PENDING",
        "CONFIGURING",
        "RUNNING",
        "COMPLETING",
        "SUSPENDED",
        "REQUEUED",
        "REQUEUE_FED",
        "REQUEUE_HOLD",
        "RESIZING",
        "SIGNALING",
        "STAGE_OUT",
        "RESV_DEL_HOLD",
    )
)
RECORD = "slurm.json"
SCRIPT = "slurm.sbatch"
STOP_SIGNAL = "TERM@120"  # seconds before the time limit: enough for a paper checkpoint


@dataclasses.dataclass(frozen=True)
class SlurmOptions:
    """What each trial's job asks for; empty strings and zeros leave Slurm's defaults."""

    nodes: int = 1
    tasks_per_node: int = 0  # 0: gpus_per_node, or 1 without GPUs
    gpus_per_node: int = 0
    cpus_per_task: int = 0
    partition: str = ""
    time: str = ""
    overcommit: bool = False  # more tasks than CPUs (a CPU-only test machine)
    sbatch_args: tuple[str, ...] = ()  # more sbatch options, e.g. --account=proj

    def __post_init__(self):
        for name, low in (("nodes", 1), ("tasks_per_node", 0), ("gpus_per_node", 0)):
            value = getattr(self, name)
            if value < low:
                flag = "--" + name.replace("_", "-")
                raise ConfigError(f"{flag} {value}: accepted: an integer >= {max(low, 1)}")
        if self.cpus_per_task < 0:
            raise ConfigError(f"--cpus-per-task {self.cpus_per_task}: accepted: an integer >= 1")

    @property
    def tasks(self) -> int:
        return self.tasks_per_node or self.gpus_per_node or 1


def script(command: list[str], job_name: str, log_dir: str, opts: SlurmOptions) -> str:
    """The sbatch script of one trial: `command` (laser.main's) under srun, one task per JAX
    process, run from the repository root with the submitting shell's environment."""
    root = Path(__file__).resolve().parents[1]
    header = [
        f"--job-name={job_name}",
        f"--nodes={opts.nodes}",
        f"--ntasks-per-node={opts.tasks}",
        f"--output={log_dir}/slurm-%j.out",
        "--open-mode=append",
        f"--signal={STOP_SIGNAL}",
    ]
    if opts.gpus_per_node:
        header.append(f"--gpus-per-node={opts.gpus_per_node}")
    if opts.cpus_per_task:
        header.append(f"--cpus-per-task={opts.cpus_per_task}")
    if opts.partition:
        header.append(f"--partition={opts.partition}")
    if opts.time:
        header.append(f"--time={opts.time}")
    if opts.overcommit:
        header.append("--overcommit")
    header += list(opts.sbatch_args)
    # One failed task ends the step (the others would wait in a collective for it forever).
    srun = ["srun", "--kill-on-bad-exit=1"] + (["--overcommit"] if opts.overcommit else [])
    lines = ["#!/bin/bash", *(f"#SBATCH {h}" for h in header)]
    lines += [
        "# Written by sweeps/run.py --launcher slurm (sweeps/slurm.py); resubmitted until done.",
        "set -euo pipefail",
        f"cd {shlex.quote(str(root))}",
        "export PYTHONHASHSEED=0",
        shlex.join(srun + command),
        "",
    ]
    return "\n".join(lines)


def check_available() -> None:
    """ConfigError unless Slurm's client commands are on PATH."""
    missing = [c for c in ("sbatch", "squeue", "scontrol") if shutil.which(c) is None]
    if missing:
        raise ConfigError(
            f"--launcher slurm: {', '.join(missing)} not found on PATH; accepted: a machine "
            "with Slurm's client commands (or --dry-run to print the scripts)"
        )


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def job_state(job_id: str) -> str | None:
    """The job's state (PENDING, RUNNING, COMPLETED, FAILED, ...) or None once Slurm has
    forgotten it. squeue first (it lists finished jobs for MinJobAge, 300 s by default, with
    --states=all), then scontrol; neither needs accounting."""
    out = _run(["squeue", "--noheader", "--states=all", f"--jobs={job_id}", "--format=%T"])
    state = out.stdout.strip().split()[:1] if out.returncode == 0 else []
    if state:
        return state[0]
    out = _run(["scontrol", "show", "job", "--oneliner", job_id])
    for field in out.stdout.split() if out.returncode == 0 else []:
        if field.startswith("JobState="):
            return field.split("=", 1)[1]
    return None


def submit(path: Path) -> str:
    """sbatch the script; its job id (RuntimeError with sbatch's message if refused)."""
    out = _run(["sbatch", "--parsable", str(path)])
    if out.returncode != 0:
        raise RuntimeError(f"sbatch {path}: {out.stderr.strip() or out.stdout.strip()}")
    return out.stdout.strip().split(";")[0]  # "<id>[;cluster]"


def last_job(log_dir: Path) -> str | None:
    record = log_dir / RECORD
    return records.read_json(record)["jobs"][-1]["id"] if record.exists() else None


def launch(command: list[str], job_name: str, log_dir: Path, opts: SlurmOptions) -> str:
    """Write the trial's script, submit it, append the job to its record; the job id."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / SCRIPT
    path.write_text(script(command, job_name, str(log_dir), opts))
    job = submit(path)
    record = log_dir / RECORD
    jobs = records.read_json(record)["jobs"] if record.exists() else []
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    records.write_json(record, {"jobs": [*jobs, {"id": job, "submitted": now}]})
    return job


def wait(jobs: list[str], poll: float = 5.0) -> None:
    """Until none of `jobs` is queued or running."""
    while any(job_state(j) in ACTIVE for j in jobs):
        time.sleep(poll)


def say(text: str) -> None:
    print(text, file=sys.stdout, flush=True)
