"""Workdirs anywhere (a fake gs:// filesystem through etils.epath) and the Slurm launcher of the
sweep runner against fake sbatch/squeue/scontrol (the real Slurm test: `make test-cluster`)."""

import json
import os
import stat
import sys
from pathlib import Path

import fsspec
import pytest
from etils.epath import backend, gpath

from laser import records
from sweeps import run as runner
from sweeps import slurm

ROOT = Path(__file__).resolve().parents[1]

SWEEP_FILE = """
from sweeps.spec import Sweep, Trial
PROFILES = ("tiny",)
def sweep(profile):
    trials = tuple(
        Trial(f"t{i}", "experiments/c4_lm/config.py", "tiny", (("train.seed", i),))
        for i in range(3))
    return Sweep("toy", trials)
"""


@pytest.fixture
def fake_gcs(monkeypatch):
    """gs:// paths served by an in-memory fsspec filesystem instead of Google Cloud Storage."""
    memory = fsspec.filesystem("memory", skip_instance_cache=True)
    memory.store.clear()

    class Memory(backend._FileSystemSpecBackend):
        def fs(self, path):
            return memory

    fake, real = Memory(), gpath._GPath._backend
    monkeypatch.setattr(
        gpath._GPath,
        "_backend",
        property(lambda self: fake if self._uri_scheme == "gs" else real.fget(self)),
    )
    return memory


@pytest.mark.parametrize("where", ["local", "gs"])
def test_run_records_on_a_local_path_and_on_gs(tmp_path, fake_gcs, where):
    workdir = str(tmp_path / "run") if where == "local" else "gs://bucket/runs/run"
    records.prepare_workdir(workdir, {"a": 1})
    records.prepare_workdir(workdir, {"a": 1})  # the same config: resumable
    with pytest.raises(ValueError, match="holds a run of another config"):
        records.prepare_workdir(workdir, {"a": 2})
    records.append_metrics(workdir, [{"step": 1, "value": 2.0}])
    records.append_metrics(workdir, [{"step": 2, "value": 3.0}, {"step": 3, "value": 4.0}])
    records.set_status(workdir, "done", final={"test/loss": 1.5})
    assert [r["step"] for r in records.read_metrics(workdir)] == [1, 2, 3]
    assert records.read_status(workdir)["final"] == {"test/loss": 1.5}
    names = sorted(p.name for p in records.as_path(workdir).iterdir())
    assert names == ["config.json", "meta.json", "metrics.jsonl", "status.json"]  # no temp files
    assert records.is_local(workdir) == (where == "local")
    if where == "gs":
        assert "gs://bucket/runs/run/status.json" in fake_gcs.store  # in memory, not on disk
        assert not Path("gs:").exists() and not (ROOT / "gs:").exists()


def _fake_slurm(tmp_path: Path, monkeypatch) -> Path:
    """sbatch/squeue/scontrol that keep job states in files (state/<id>); returns state dir."""
    bin_dir, state = tmp_path / "bin", tmp_path / "slurm-state"
    bin_dir.mkdir()
    state.mkdir()
    scripts = {
        "sbatch": f"""
import sys, pathlib
state = pathlib.Path({str(state)!r})
n = len(list(state.glob("*.state"))) + 1
(state / f"{{n}}.state").write_text("PENDING")
(state / f"{{n}}.script").write_text(pathlib.Path(sys.argv[-1]).read_text())
print(n)
""",
        "squeue": f"""
import sys, pathlib
job = [a.split("=")[1] for a in sys.argv if a.startswith("--jobs=")][0]
f = pathlib.Path({str(state)!r}) / f"{{job}}.state"
if f.exists() and f.read_text() != "PURGED":
    print(f.read_text())
""",
        "scontrol": f"""
import sys, pathlib
f = pathlib.Path({str(state)!r}) / f"{{sys.argv[-1]}}.state"
if not f.exists() or f.read_text() == "PURGED":
    sys.exit("slurm_load_jobs error: Invalid job id specified")
print(f"JobId={{sys.argv[-1]}} JobState={{f.read_text()}} Reason=None")
""",
    }
    for name, text in scripts.items():
        path = bin_dir / name
        path.write_text(f"#!{sys.executable}\n{text}")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return state


def test_slurm_launcher_submits_skips_done_and_resubmits_failed(tmp_path, monkeypatch, capsys):
    state = _fake_slurm(tmp_path, monkeypatch)
    file = tmp_path / "toy.py"
    file.write_text(SWEEP_FILE)
    runs = tmp_path / "runs"
    flags = ["--runs", str(runs), "--launcher", "slurm", "--nodes", "2", "--gpus-per-node", "4"]
    flags += ["--partition", "gpu", "--time", "48:00:00", "--sbatch-arg=--account=proj"]
    records.set_status(runs / "toy-tiny" / "t2", "done", final={"test/loss": 1.0})
    assert runner.main([str(file), *flags]) == 0
    assert sorted(p.name for p in state.glob("*.state")) == ["1.state", "2.state"]  # t2 done
    text = (state / "1.script").read_text()
    for line in (
        "#SBATCH --nodes=2",
        "#SBATCH --ntasks-per-node=4",
        "#SBATCH --gpus-per-node=4",
        "#SBATCH --partition=gpu",
        "#SBATCH --time=48:00:00",
        "#SBATCH --account=proj",
        "#SBATCH --signal=TERM@120",
        f"#SBATCH --output={runs}/toy-tiny/t0/slurm-%j.out",
    ):
        assert line in text.splitlines(), line
    srun = text.splitlines()[-1]
    assert srun.startswith("srun --kill-on-bad-exit=1 ") and "-m laser.main" in srun
    assert f"--workdir {runs.resolve()}/toy-tiny/t0" in srun and "--config.train.seed=0" in srun
    best = json.loads((runs / "toy-tiny" / "best.json").read_text())
    assert best["best"]["trial"] == "t2" and len(best["ranking"]) == 3
    # Queued or running: left alone. Failed or forgotten by Slurm: resubmitted.
    (state / "1.state").write_text("RUNNING")
    (state / "2.state").write_text("PENDING")
    assert runner.main([str(file), *flags]) == 0
    assert len(list(state.glob("*.state"))) == 2
    (state / "1.state").write_text("PREEMPTED")
    (state / "2.state").write_text("PURGED")
    capsys.readouterr()
    assert runner.main([str(file), *flags]) == 0
    out = capsys.readouterr().out
    assert "t0: submitted job 3 (job 1 ended PREEMPTED)" in out
    assert "t1: submitted job 4 (job 2 ended and was forgotten)" in out
    jobs = records.read_json(runs / "toy-tiny" / "t0" / "slurm.json")["jobs"]
    assert [j["id"] for j in jobs] == ["1", "3"]
    # Dry run: the scripts of unfinished trials, nothing submitted.
    assert runner.main([str(file), *flags, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("#!/bin/bash") == 2 and len(list(state.glob("*.state"))) == 4


def test_slurm_sweep_with_runs_on_gs(tmp_path, monkeypatch, fake_gcs):
    state = _fake_slurm(tmp_path, monkeypatch)
    monkeypatch.setattr(runner, "LOGS", tmp_path / "logs")
    file = tmp_path / "toy.py"
    file.write_text(SWEEP_FILE)
    records.set_status("gs://bucket/runs/toy-tiny/t1", "done", final={"test/loss": 2.0})
    args = [str(file), "--runs", "gs://bucket/runs", "--launcher", "slurm", "--overcommit"]
    assert runner.main(args) == 0
    assert len(list(state.glob("*.state"))) == 2
    script = (tmp_path / "logs" / "toy-tiny" / "t0" / "slurm.sbatch").read_text()
    assert (
        "--workdir gs://bucket/runs/toy-tiny/t0" in script
        and "srun --kill-on-bad-exit=1 --overcommit" in script
    )
    best = records.read_json("gs://bucket/runs/toy-tiny/best.json")
    assert best["best"]["trial"] == "t1"


@pytest.mark.parametrize(
    "args,message",
    [
        (["--launcher", "pbs"], "--launcher 'pbs': accepted: local, slurm"),
        (["--nodes", "2"], "--nodes: accepted only with --launcher slurm"),
        (
            ["--launcher", "slurm", "--nodes", "0", "--dry-run"],
            "--nodes 0: accepted: an integer >= 1",
        ),
        (["--launcher", "slurm", "--nodes", "x", "--dry-run"], "--nodes 'x': accepted: an integer"),
    ],
)
def test_bad_launcher_options_are_one_line_exit_2(tmp_path, capsys, args, message):
    runs = tmp_path / "runs"
    assert runner.main([str(ROOT / "sweeps/table1.py"), "--runs", str(runs), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not runs.exists()


def test_slurm_without_its_commands_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert runner.main([str(ROOT / "sweeps/table1.py"), "--launcher", "slurm"]) == 2
    assert "sbatch, squeue, scontrol not found on PATH" in capsys.readouterr().err


def test_slurm_script_tasks_default_to_gpus():
    opts = slurm.SlurmOptions(nodes=4, gpus_per_node=8)
    text = slurm.script(["python", "-m", "laser.main"], "s/t", "/logs", opts)
    assert "#SBATCH --ntasks-per-node=8" in text and "#SBATCH --nodes=4" in text
    assert "#SBATCH --ntasks-per-node=1" in slurm.script([], "s/t", "/l", slurm.SlurmOptions())
