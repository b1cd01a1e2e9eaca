"""The generic trainer on the C4-LM tiny profiles: records, resume, sharding, errors."""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from laser import configs, main, records

ROOT = Path(__file__).resolve().parents[1]
CONFIG = str(ROOT / "experiments/c4_lm/config.py")
QUICK = [
    "--config.train.steps=3",
    "--config.train.log_every=1",
    "--config.train.eval_every=3",
    "--config.train.eval_batches=1",
    "--config.data.batch_size=4",
    "--config.data.seq_len=32",
    "--config.train.checkpoint_every=3",
    "--config.train.progress=false",
]


def _train_losses(workdir: Path) -> dict[int, float]:
    return {
        r["step"]: r["value"]
        for r in records.read_metrics(workdir)
        if r["split"] == "train" and r["name"] == "loss"
    }


@pytest.mark.parametrize("profile", ["tiny-shallow", "tiny", "tiny-wide"])
def test_tiny_profile_runs_3_steps_and_writes_complete_records(tmp_path, profile):
    attention = "softmax" if profile == "tiny" else "laser"
    args = ["--config", f"{CONFIG}:{profile},attention={attention}", "--workdir", str(tmp_path)]
    assert main.main(args + QUICK) == 0
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model"]["attention"]["kind"] == attention
    meta = records.read_json(tmp_path / "meta.json")
    assert meta["backend"] == "cpu" and "jax" in meta["packages"]
    status = records.read_status(tmp_path)
    assert status["status"] == "done" and status["step"] == 3
    rows = records.read_metrics(tmp_path)
    names = {(r["split"], r["name"]) for r in rows}
    assert {
        ("train", "loss"),
        ("train", "grad_norm"),
        ("train", "learning_rate"),
        ("train", "items_per_second"),
        ("valid", "loss"),
        ("test", "loss"),
    } <= names
    assert sorted(_train_losses(tmp_path)) == [1, 2, 3]
    assert all(np.isfinite(r["value"]) for r in rows)
    assert set(status["final"]) == {"train/loss", "valid/loss", "test/loss"}
    if profile == "tiny":
        # SIGTERM during the final checkpoint leaves a finished checkpoint and a "failed" status:
        # a restart must mark it done with the same final metrics, not empty ones.
        records.set_status(tmp_path, "failed", step=3, error="SIGTERM; resumable")
        assert main.main(args + QUICK) == 0
        again = records.read_status(tmp_path)
        assert again["status"] == "done" and again["final"] == status["final"]


def _launch(workdir: Path, extra: list[str], env=None) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "laser.main",
        "--config",
        f"{CONFIG}:tiny",
        "--workdir",
        str(workdir),
        *extra,
    ]
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def test_sigkill_and_resume_writes_the_uninterrupted_metrics(tmp_path):
    run = [
        "--config.train.steps=12",
        "--config.train.log_every=1",
        "--config.train.eval_every=6",
        "--config.train.eval_batches=1",
        "--config.data.batch_size=4",
        "--config.data.seq_len=32",
        "--config.train.checkpoint_every=4",
        "--config.train.progress=false",
    ]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    first = _launch(straight, run)
    victim = _launch(killed, run)
    deadline = time.time() + 240
    while max(_train_losses(killed), default=0) < 6 and time.time() < deadline:
        assert victim.poll() is None, victim.stderr.read()
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert records.read_status(killed)["status"] == "running"  # killed mid-run
    assert first.wait() == 0, first.stderr.read()
    resumed = _launch(killed, run)
    assert resumed.wait() == 0, resumed.stderr.read()
    strip = lambda d: sorted(  # noqa: E731
        (r["step"], r["split"], r["name"], r["value"])
        for r in records.read_metrics(d)
        if r["name"] in ("loss", "grad_norm")
    )
    assert strip(killed) == strip(straight)
    assert records.read_status(killed)["status"] == "done"


def test_eight_simulated_devices_give_the_single_device_loss(tmp_path):
    losses = {}
    for devices, mesh in ((1, []), (8, ["--config.mesh.data=4", "--config.mesh.fsdp=2"])):
        env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
        workdir = tmp_path / f"d{devices}"
        proc = _launch(workdir, [*QUICK, "--config.data.batch_size=8", *mesh], env=env)
        assert proc.wait() == 0, proc.stderr.read()
        assert len(records.read_json(workdir / "meta.json")["devices"]) == devices
        losses[devices] = _train_losses(workdir)
    np.testing.assert_allclose(list(losses[8].values()), list(losses[1].values()), rtol=1e-5)


def test_a_nan_loss_stops_the_run_as_diverged(tmp_path):
    args = [
        "--config",
        f"{CONFIG}:tiny",
        "--workdir",
        str(tmp_path),
        *QUICK,
        "--config.train.steps=6",
        "--config.optim.learning_rate=1e12",
        "--config.optim.warmup_steps=0",
        "--config.optim.grad_clip=0.0",
    ]
    assert main.main(args) == 1
    status = records.read_status(tmp_path)
    assert status["status"] == "diverged"
    losses = _train_losses(tmp_path)
    assert not np.isfinite(losses[status["step"]])
    assert all(np.isfinite(v) for s, v in losses.items() if s < status["step"])


@pytest.mark.parametrize(
    "args,message",
    [
        ([f"{CONFIG}:huge"], "profile 'huge' not in"),
        (
            [f"{CONFIG}:tiny,attention=flash"],
            "config model.attention.kind='flash': accepted: softmax",
        ),
        ([f"{CONFIG}:tiny", "--config.train.stepz=3"], "config key 'train.stepz' unknown"),
        ([f"{CONFIG}:tiny", "--config.train.steps=many"], "accepted: an integer"),
        ([f"{CONFIG}:tiny", "--config.optim.name=sgd"], "config optim.name='sgd': accepted"),
        ([f"{CONFIG}:tiny", "--lr=3"], "argument '--lr=3': accepted: --config.<key>=<value>"),
        (["missing.py:tiny"], "--config: file 'missing.py' not found"),
        ([f"{CONFIG}:paper-301m"], "config data.tokenizer_path='': accepted: the path of a"),
    ],
)
def test_bad_config_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, args, message):
    workdir = tmp_path / "run"
    assert main.main(["--config", args[0], "--workdir", str(workdir), *args[1:]]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not workdir.exists()


def test_paper_profiles_have_the_stated_parameter_counts():
    from laser.nn.transformer_lm import from_config, param_count

    spec = importlib.util.spec_from_file_location("c4_lm_config", CONFIG)
    cfg = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cfg)
    for profile, stated in cfg.STATED_PARAMS.items():
        model = from_config(configs.load(f"{CONFIG}:{profile}").model)
        assert abs(param_count(model) / stated - 1) < 0.05, profile


def test_paper_profile_trains_3_steps_on_mocked_c4(tmp_path):
    """The paper profile's code path (c4 task, tfds pipeline, remat, fsdp rules) at toy size."""
    import random

    tfds = pytest.importorskip("tensorflow_datasets")
    from laser.data import tokenizer

    text = ["".join(random.Random(i).choices("abcdefghij ", k=40)) for i in range(300)]
    tokenizer.train_or_load("c4_toy", lambda: text, 64, cache_dir=tmp_path)
    small = [
        "--config.model.num_layers=1",
        "--config.model.model_dim=32",
        "--config.model.num_heads=2",
        "--config.model.head_dim=16",
        "--config.model.mlp_dim=64",
        "--config.model.vocab_size=64",
        "--config.data.vocab_size=64",
        f"--config.data.tokenizer_path={tmp_path / 'c4_toy.model'}",
        "--config.mesh.fsdp=1",
        "--config.optim.warmup_steps=1",
    ]
    workdir = tmp_path / "run"
    with tfds.testing.mock_data(num_examples=40):
        args = ["--config", f"{CONFIG}:paper-301m,attention=laser", "--workdir", str(workdir)]
        assert main.main(args + QUICK + small) == 0
    assert records.read_status(workdir)["status"] == "done"
    assert sorted(_train_losses(workdir)) == [1, 2, 3]
    assert {r["split"] for r in records.read_metrics(workdir)} == {"train", "test"}


def test_hparams_from_a_sweeps_best_trial(tmp_path):
    best = tmp_path / "best.json"
    best.write_text(
        json.dumps(
            {
                "best": {
                    "overrides": {
                        "optim.learning_rate": 0.01,
                        "optim.weight_decay": 1.0,
                        "train.seed": 7,
                    }
                }
            }
        )
    )
    args, overrides = main.parse(
        [
            "--config",
            f"{CONFIG}:tiny",
            "--workdir",
            "w",
            "--hparams-from",
            str(best),
            "--config.optim.weight_decay=0.5",
        ]
    )
    config = configs.load(args.config, overrides)
    assert config.optim.learning_rate == 0.01 and config.optim.weight_decay == 0.5
    assert config.train.seed == 0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"best": None}))
    with pytest.raises(configs.ConfigError, match="--hparams-from"):
        main.parse(["--config", "c", "--workdir", "w", "--hparams-from", str(bad)])
