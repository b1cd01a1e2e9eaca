"""`make test-cluster`: the Slurm launcher against a real single-node Slurm on this machine.

Installs Debian's slurmctld, slurmd, slurm-client and munge if missing (apt, as root), starts
munged (unless it runs already), slurmctld and slurmd with a private slurm.conf (SLURM_CONF in a
temp directory: /etc/slurm is not touched), and runs a 2-trial tiny sweep through
`python -m sweeps.run --launcher slurm --tasks-per-node 2`: each trial is one sbatch job whose
srun starts 2 tasks, each one JAX process with 2 CPU devices (gloo), on a (data 2, fsdp 2) mesh.
One trial's job is cancelled mid-run (scancel: SIGTERM to its tasks, which checkpoint and
stop); the next call resubmits it alone and waits; both trials must finish with a record of 2
processes, and best.json must rank both. Then every daemon it started is stopped by its PID and
the temp directory removed. Not root, or no apt-get and no Slurm: it says so and skips (exit 0).

Recipe: ../shared/REFERENCE.md, "Slurm on one machine". Prints how long each phase took.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge")
SWEEP = """
from sweeps.spec import Sweep, Trial
PROFILES = ("tiny",)
QUICK = (("train.steps", 12), ("train.log_every", 1), ("train.eval_every", 12),
         ("train.eval_batches", 1), ("data.batch_size", 8), ("data.seq_len", 32),
         ("train.checkpoint_every", 4), ("mesh.data", 2), ("mesh.fsdp", 2))
def sweep(profile):
    trials = tuple(Trial(f"t{i}", "experiments/c4_lm/config.py", "tiny",
                         QUICK + (("train.seed", i),)) for i in range(2))
    return Sweep("cluster", trials)
"""
T0 = time.time()


def log(text: str) -> None:
    print(f"[{time.time() - T0:6.1f} s] {text}", flush=True)


def sh(*cmd: str, env=None, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if check and out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {out.returncode}: {out.stderr.strip()[-2000:]}")
    return out


def skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "not root (it installs Slurm with apt and starts its daemons)"
    have = all(shutil.which(c) for c in ("slurmctld", "slurmd", "sbatch", "munged"))
    if not have and not shutil.which("apt-get"):
        return "Slurm is not installed and apt-get is missing"
    return None


def install() -> None:
    if all(shutil.which(c) for c in ("slurmctld", "slurmd", "sbatch", "munged")):
        log("Slurm and munge already installed")
        return
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(cmd, capture_output=True, env=env).returncode != 0:
        sh("apt-get", "update", env=env)
        sh(*cmd, env=env)
    log(f"installed {' '.join(PACKAGES)}")


def write_conf(base: Path) -> Path:
    host = sh("hostname", "-s").stdout.strip()
    probe = sh("slurmd", "-C").stdout
    memory = int(next(f for f in probe.split() if f.startswith("RealMemory=")).split("=")[1])
    cpus = os.cpu_count() or 1
    for sub in ("state", "spool", "pid", "log"):
        (base / sub).mkdir(parents=True)
        shutil.chown(base / sub, "slurm", "slurm")
    base.chmod(0o755)
    conf = base / "slurm.conf"
    conf.write_text(
        f"""ClusterName=local
SlurmctldHost={host}
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation={base}/state
SlurmdSpoolDir={base}/spool
SlurmctldPidFile={base}/pid/slurmctld.pid
SlurmdPidFile={base}/pid/slurmd.pid
SlurmctldLogFile={base}/log/slurmctld.log
SlurmdLogFile={base}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
NodeName={host} CPUs={cpus} RealMemory={max(memory - 512, 1024)} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""
    )
    return conf


def munge_running() -> bool:
    return subprocess.run(["munge", "-n"], capture_output=True).returncode == 0


def start(base: Path, env: dict) -> dict[str, Path]:
    """Start what is not running; {name: pid file} of the daemons started here."""
    started = {}
    if not munge_running():
        subprocess.run(["install", "-d", "-o", "munge", "-g", "munge", "/run/munge"], check=True)
        sh("runuser", "-u", "munge", "--", "/usr/sbin/munged")
        started["munged"] = Path("/run/munge/munged.pid")
    for daemon in ("slurmctld", "slurmd"):
        sh(f"/usr/sbin/{daemon}", env=env)
        started[daemon] = base / "pid" / f"{daemon}.pid"
    deadline = time.time() + 60
    while time.time() < deadline:
        state = sh("sinfo", "--noheader", "--format=%T", env=env, check=False).stdout.strip()
        if state in ("idle", "mixed"):
            log(f"Slurm up: node {state}")
            return started
        time.sleep(0.5)
    raise RuntimeError(f"the node did not come up; see {base}/log/")


def stop(started: dict[str, Path]) -> None:
    """SIGTERM each daemon started here by the PID in its pid file, then wait for it."""
    for name in ("slurmd", "slurmctld", "munged"):
        pid_file = started.get(name)
        if pid_file is None or not pid_file.exists():
            continue
        pid = int(pid_file.read_text().split()[0])
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            os.kill(pid, signal.SIGKILL)
        pid_file.unlink(missing_ok=True)
        log(f"stopped {name} (pid {pid})")


def sweep_cmd(file: Path, runs: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "sweeps.run", str(file), "--runs", str(runs), "--launcher",
            "slurm", "--tasks-per-node", "2", "--overcommit", *extra]  # fmt: skip


def read(path: Path):
    return json.loads(path.read_text()) if path.exists() else None


def steps_logged(workdir: Path) -> int:
    path = workdir / "metrics.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return max((r["step"] for r in rows if r["name"] == "loss"), default=0)


def job_state(job: str, env: dict) -> str:
    out = sh("squeue", "--noheader", "--states=all", f"--jobs={job}", "--format=%T", env=env)
    return out.stdout.strip()


def check_detection(base: Path, env: dict) -> None:
    """laser.main's launcher detection on real Slurm: a batch script outside srun is one
    process even in a 2-task allocation; each task of an srun step is one of 2."""
    probe = "from laser.train import distributed; print(distributed.detect_launcher())"
    script = base / "detect.sh"
    script.write_text(
        f"#!/bin/bash\ncd {ROOT}\n{sys.executable} -c '{probe}'\n"
        f"srun --overcommit {sys.executable} -c '{probe}'\n"
    )
    out = base / "detect.out"
    cmd = ["sbatch", "--parsable", "--ntasks=2", "--overcommit", f"--output={out}", str(script)]
    job = sh(*cmd, env=env).stdout.strip()
    while job_state(job, env) not in ("COMPLETED", "FAILED", "CANCELLED", ""):
        time.sleep(0.3)
    lines = out.read_text().split()
    assert lines == ["None", "slurm", "slurm"], lines
    log("detection under Slurm: batch script alone -> single process; srun tasks -> slurm")


def run_sweep(base: Path, env: dict) -> None:
    file, runs = base / "cluster.py", base / "runs"
    file.write_text(SWEEP)
    trials = runs / "cluster-tiny"
    out = subprocess.run(sweep_cmd(file, runs), cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    log("submitted:\n" + out.stdout.strip())
    job1 = read(trials / "t1" / "slurm.json")["jobs"][0]["id"]
    deadline = time.time() + 600
    while steps_logged(trials / "t1") < 2:
        assert time.time() < deadline, "t1 did not start training within 10 minutes"
        time.sleep(0.5)
    sh("scancel", job1, env=env)
    log(f"t1 at step {steps_logged(trials / 't1')}: scancel {job1}")
    while job_state(job1, env) in ("RUNNING", "COMPLETING", "PENDING"):
        time.sleep(0.5)
    status = read(trials / "t1" / "status.json")
    log(f"t1 after scancel: {status}")
    assert status["status"] == "failed" and status["error"] == "SIGTERM; resumable", status
    cmd = sweep_cmd(file, runs, "--wait")
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    log("second call:\n" + out.stdout.strip())
    assert out.returncode == 0, out.stdout + out.stderr
    assert "t1: submitted job" in out.stdout and "t0: submitted" not in out.stdout
    for name, jobs in (("t0", 1), ("t1", 2)):
        workdir = trials / name
        status, meta = read(workdir / "status.json"), read(workdir / "meta.json")
        assert status["status"] == "done", (name, status)
        assert meta["process_count"] == 2 and len(meta["devices"]) == 4, meta
        assert len(read(workdir / "slurm.json")["jobs"]) == jobs, name
        rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
        train = [r["step"] for r in rows if r["name"] == "loss" and r["split"] == "train"]
        assert sorted(train) == list(range(1, 13)), (name, train)  # each step once
        logs = list(workdir.glob("slurm-*.out"))
        assert len(logs) == jobs, (name, logs)
    best = read(trials / "best.json")
    assert {r["trial"] for r in best["ranking"]} == {"t0", "t1"} and best["best"] is not None
    assert all(r["status"] == "done" for r in best["ranking"])
    out = subprocess.run(sweep_cmd(file, runs), cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0 and "submitted" not in out.stdout, out.stdout  # all done: none
    log(f"both trials done as 2-process runs; best.json: {best['best']['trial']}")


def main() -> int:
    reason = skip_reason()
    if reason:
        print(f"make test-cluster: skipped: {reason}")
        return 0
    install()
    base = Path(tempfile.mkdtemp(prefix="laser-slurm-"))
    env = dict(os.environ, SLURM_CONF=str(write_conf(base)), PYTHONHASHSEED="0")
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"  # each task: 2 CPU devices
    started: dict[str, Path] = {}
    try:
        started = start(base, env)
        check_detection(base, env)
        run_sweep(base, env)
    except BaseException:
        print(f"make test-cluster: FAILED; Slurm logs and runs in {base}", file=sys.stderr)
        shutil.copytree(base, ROOT / "results" / "logs" / "test-cluster", dirs_exist_ok=True)
        raise
    finally:
        subprocess.run(["scancel", "--full", "--user=root"], env=env, capture_output=True)
        stop(started)
    shutil.rmtree(base)
    log("make test-cluster: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
