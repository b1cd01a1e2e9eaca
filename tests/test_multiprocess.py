"""Two JAX processes on this machine (gloo CPU collectives, two CPU devices each) train the tiny
LM on a (data 2, fsdp 2) mesh over all four devices: the metrics of one process with four
devices; a SIGTERM to one process stops both at the same step with a checkpoint; SIGKILL of
both and a restart resume to the same metrics. Also the launcher flags' errors and detection.

The two-process run takes about 3 minutes on a loaded 2-core CPU (~110 s of CPU time in all),
too long for `make test`: it runs under `make test-multiprocess` (LASER_MULTIPROCESS=1).
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from laser import main, records
from laser.train import distributed

ROOT = Path(__file__).resolve().parents[1]
CONFIG = str(ROOT / "experiments/c4_lm/config.py")
RUN = [
    "--config.train.steps=20",
    "--config.train.log_every=1",
    "--config.train.eval_every=10",
    "--config.train.eval_batches=1",
    "--config.data.batch_size=8",
    "--config.data.seq_len=32",
    "--config.train.checkpoint_every=5",
    "--config.train.progress=false",
    "--config.mesh.data=2",
    "--config.mesh.fsdp=2",
]
COMPARED = ("loss", "grad_norm", "learning_rate")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(devices: int) -> dict:
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
    for k in [k for k in env if k.startswith(("SLURM_", "OMPI_"))]:
        del env[k]  # no launcher detection from the environment the tests run in
    return env


def _launch(workdir: Path, processes: int) -> list[subprocess.Popen]:
    """`processes` laser.main processes of one run; 4 CPU devices in all."""
    cmd = [sys.executable, "-m", "laser.main", "--config", f"{CONFIG}:tiny"]
    cmd += ["--workdir", str(workdir), *RUN]
    if processes > 1:
        port = _free_port()
        flags = lambda i: (
            ["--coordinator", f"127.0.0.1:{port}", "--num-processes", "2"]
            + [  # noqa: E731
                "--process-id",
                str(i),
            ]
        )
    else:
        flags = lambda i: []  # noqa: E731
    return [
        subprocess.Popen(
            cmd + flags(i),
            cwd=ROOT,
            env=_env(4 // processes),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(processes)
    ]


def _wait(procs: list[subprocess.Popen], timeout: float = 300) -> list[int]:
    codes = []
    for p in procs:
        try:
            codes.append(p.wait(timeout=timeout))
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail(f"a process did not finish within {timeout} s")
    return codes


def _last_step(workdir: Path) -> int:
    return max((r["step"] for r in records.read_metrics(workdir) if r["name"] == "loss"), default=0)


def _until_step(workdir: Path, step: int, procs: list[subprocess.Popen]) -> None:
    deadline = time.time() + 300
    while _last_step(workdir) < step and time.time() < deadline:
        for p in procs:
            assert p.poll() is None, p.stderr.read()
        time.sleep(0.05)


def _metrics(workdir: Path) -> dict:
    return {
        (r["step"], r["split"], r["name"]): r["value"]
        for r in records.read_metrics(workdir)
        if r["name"] in COMPARED
    }


@pytest.mark.skipif(
    os.environ.get("LASER_MULTIPROCESS") != "1",
    reason="two JAX processes take minutes; run with `make test-multiprocess`",
)
def test_two_processes_match_one_and_resume_after_sigterm_and_sigkill(tmp_path):
    single, multi = tmp_path / "single", tmp_path / "multi"
    reference = _launch(single, 1)
    group = _launch(multi, 2)
    # SIGTERM to process 1 alone: both must checkpoint at the same step and stop.
    _until_step(multi, 4, group)
    group[1].send_signal(signal.SIGTERM)
    assert _wait(group) == [1, 1], [p.stderr.read() for p in group]
    status = records.read_status(multi)
    assert status["status"] == "failed" and status["error"] == "SIGTERM; resumable"
    stopped = status["step"]
    assert 4 < stopped < 20 and (multi / "checkpoints" / str(stopped)).is_dir()
    assert _last_step(multi) == stopped  # both left at the checkpointed step
    # Restart, SIGKILL both mid-run, restart again: the run finishes.
    group = _launch(multi, 2)
    _until_step(multi, stopped + 4, group)
    for p in group:
        p.send_signal(signal.SIGKILL)
    _wait(group)
    assert records.read_status(multi)["status"] == "running"
    group = _launch(multi, 2)
    assert _wait(group) == [0, 0], [p.stderr.read() for p in group]
    assert _wait(reference) == [0], reference[0].stderr.read()

    assert records.read_status(multi)["status"] == "done"
    assert records.read_json(multi / "meta.json")["process_count"] == 2
    assert len(records.read_json(single / "meta.json")["devices"]) == 4
    got, want = _metrics(multi), _metrics(single)
    assert sorted(got) == sorted(want) and len(want) == 20 * 3 + 2 * 2 * 1
    keys = sorted(want)
    np.testing.assert_allclose([got[k] for k in keys], [want[k] for k in keys], rtol=1e-5)
    rows = records.read_metrics(multi)
    steps = [r["step"] for r in rows if r["name"] == "loss" and r["split"] == "train"]
    assert len(steps) == len(set(steps))  # each logged once across the interruptions


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--num-processes", "2"], "--num-processes 2: accepted only together with --coordinator"),
        (["--coordinator", "h:1", "--num-processes", "2"], "together with --process-id"),
        (["--coordinator", "h", "--num-processes", "2", "--process-id", "0"], "HOST:PORT"),
        (["--coordinator", "h:1", "--num-processes", "2", "--process-id", "2"], "0 .. 1"),
        (["--coordinator", "h:1", "--num-processes", "two", "--process-id", "0"], "an integer"),
    ],
)
def test_bad_process_flags_are_one_line_exit_2(tmp_path, capsys, flags, message):
    workdir = tmp_path / "run"
    args = ["--config", f"{CONFIG}:tiny", "--workdir", str(workdir), *flags]
    assert main.main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not workdir.exists()


def test_launcher_detection(monkeypatch):
    for k in [k for k in os.environ if k.startswith(("SLURM_", "OMPI_"))]:
        monkeypatch.delenv(k)
    monkeypatch.setattr(distributed, "_cloud_tpu_vm", lambda: False)
    assert distributed.detect_launcher() is None
    slurm = dict(SLURM_JOB_ID="7", SLURM_STEP_NODELIST="n1", SLURM_NTASKS="2", SLURM_PROCID="1")
    for k, v in slurm.items():
        monkeypatch.setenv(k, v)
    assert distributed.detect_launcher() is None  # a batch script outside srun: one process
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "1")
    assert distributed.detect_launcher() is None
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "2")
    assert distributed.detect_launcher() == "slurm"
    for k in slurm:
        monkeypatch.delenv(k)
    monkeypatch.setenv("OMPI_MCA_orte_hnp_uri", "1.0;tcp://10.0.0.1:1")
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
    assert distributed.detect_launcher() == "openmpi"
