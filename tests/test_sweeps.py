"""Sweep declarations, the resumable runner (killed, restarted), ranking, Table 1 rendering."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from analysis import render
from laser import records
from sweeps import run as runner
from sweeps import spec, table1

ROOT = Path(__file__).resolve().parents[1]


def test_grid_is_every_combination_in_order():
    points = spec.grid({"optim.learning_rate": [1e-3, 1e-2], "optim.weight_decay": [0.1, 1.0]})
    assert points[0] == {"optim.learning_rate": 1e-3, "optim.weight_decay": 0.1}
    assert len(points) == 4 and len({spec.trial_name(p) for p in points}) == 4
    assert spec.trial_name(points[1]) == "learning_rate=0.001,weight_decay=1"


def test_halton_is_seeded_reproducible_and_follows_algoperf_scaling():
    space = {
        "lr": spec.LogUniform(1e-4, 1e-2),
        "beta2": spec.Choice((0.9, 0.99, 0.999)),
    }
    a, b = spec.halton(space, 50, seed=0), spec.halton(space, 50, seed=0)
    assert a == b and spec.halton(space, 50, seed=1) != a
    assert all(1e-4 <= p["lr"] <= 1e-2 and p["beta2"] in (0.9, 0.99, 0.999) for p in a)
    assert {p["beta2"] for p in a} == {0.9, 0.99, 0.999}
    assert spec.LogUniform(1e-4, 1e-2).at(0.5) == pytest.approx(1e-3)
    assert spec.Choice((1, 2, 3)).at(0.99) == 3
    # The seed orders AlgoPerf's points; it does not change which points they are.
    key = lambda p: (p["lr"], p["beta2"])  # noqa: E731
    assert sorted(a, key=key) == sorted(spec.halton(space, 50, seed=1), key=key)


def test_table1_sweep_has_3_rows_x_2_attentions_x_3_seeds():
    for profile in table1.PROFILES:
        sweep = table1.sweep(profile)
        assert len(sweep.trials) == 18 and len({t.profile for t in sweep.trials}) == 3


SWEEP_FILE = """
from sweeps.spec import Sweep, Trial
PROFILES = ("tiny",)
QUICK = (("train.steps", 8), ("train.log_every", 1), ("train.eval_every", 8),
         ("train.eval_batches", 1), ("data.batch_size", 4), ("data.seq_len", 32),
         ("train.checkpoint_every", 2))
def sweep(profile):
    trials = tuple(
        Trial(f"t{i}", "experiments/c4_lm/config.py", "tiny", QUICK + (("train.seed", i),))
        for i in range(3))
    return Sweep("toy", trials)
"""


def _rows(workdir: Path):
    return [(r["step"], r["split"], r["name"]) for r in records.read_metrics(workdir)]


def test_runner_killed_and_restarted_finishes_every_trial_once(tmp_path):
    file = tmp_path / "toy.py"
    file.write_text(SWEEP_FILE)
    runs = tmp_path / "runs"
    cmd = [sys.executable, "-m", "sweeps.run", str(file), "--runs", str(runs)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    first = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = runs / "toy-tiny"
    deadline = time.time() + 180
    # Kill once the first trial is done and the second has started training.
    while time.time() < deadline:
        s0 = records.read_status(base / "t0")
        if s0 and s0["status"] == "done" and records.read_metrics(base / "t1"):
            break
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    t0_metrics = (base / "t0" / "metrics.jsonl").read_text()
    assert subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True).returncode == 0
    assert (base / "t0" / "metrics.jsonl").read_text() == t0_metrics  # finished: not rerun
    for name in ("t0", "t1", "t2"):
        assert records.read_status(base / name)["status"] == "done"
        rows = _rows(base / name)
        assert len(rows) == len(set(rows)), f"{name} logged a step twice"
        assert {s for s, split, n in rows if n == "loss" and split == "train"} == set(range(1, 9))
    best = json.loads((base / "best.json").read_text())
    assert best["best"]["trial"] in ("t0", "t1", "t2") and len(best["ranking"]) == 3
    dry = subprocess.run(cmd + ["--dry-run"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert dry.stdout.count("-m laser.main") == 3 and "--config.train.seed=2" in dry.stdout


def test_rank_puts_diverged_and_missing_last(tmp_path):
    sweep = spec.Sweep("s", tuple(spec.Trial(n, "c.py", "tiny") for n in ("a", "b", "c", "d")))
    records.set_status(tmp_path / "a", "done", final={"test/loss": 3.0})
    records.set_status(tmp_path / "b", "diverged", step=4)
    records.set_status(tmp_path / "c", "done", final={"test/loss": 2.0})
    ranking = runner.rank(sweep, tmp_path)
    assert [r["trial"] for r in ranking["ranking"]] == ["c", "a", "b", "d"]
    assert ranking["best"]["trial"] == "c"


def test_bad_sweep_input_is_one_line_exit_2(tmp_path, capsys):
    assert runner.main(["missing.py"]) == 2
    assert runner.main([str(ROOT / "sweeps/table1.py"), "--profile", "huge"]) == 2
    assert runner.main([str(ROOT / "sweeps/table1.py"), "--jobs", "0"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and "accepted" in err[1]
    assert render.main(["table99", "--out", str(tmp_path)]) == 2
    assert "table 'table99': accepted: table1" in capsys.readouterr().err


def test_table1_renders_from_run_records_with_missing_and_diverged_cells(tmp_path):
    fixtures = ROOT / "tests/fixtures/runs"
    out = tmp_path / "tables"
    assert render.main(["table1", "--runs", str(fixtures), "--out", str(out)]) == 0
    md = (out / "table1.md").read_text()
    assert "| 32 layers, MLP 2048 | tiny | 2.595 | 2.641 | -1.74% |" in md
    assert "5.000 ± 0.100 (n=3)" in md  # tiny-laser seeds 4.9, 5.0, 5.1
    assert "5.100 ± 0.000 (n=2) [seed 2 diverged]" in md
    assert "seed 0 missing; seed 1 missing; seed 2 missing" in md  # tiny-wide: no runs
    assert "-1.96%" in md  # 5.0 / 5.1 - 1
    assert (out / "table1.csv").read_text().count("\n") == 4


def test_tables_8_and_9_render_the_sweep_files_search_spaces(tmp_path):
    from sweeps import table8, table9

    assert render.main(["table9", "--out", str(tmp_path)]) == 0
    assert render.main(["table8", "--out", str(tmp_path)]) == 0
    t9, t8 = (tmp_path / "table9.md").read_text(), (tmp_path / "table8.md").read_text()
    assert "| optim.learning_rate | 0.1, 0.01, 0.001, 0.0001, 1e-05 |" in t9
    assert "| optim.eps | 1e-24 |" in t9 and "15 trials" in t9
    assert len(table9.sweep("tiny").trials) == 15
    assert "| optim.one_minus_beta1 | 0.01 | 0.15 | log |" in t8
    assert "| optim.b2 | - | - | 0.9, 0.99, 0.999 |" in t8
    assert table8.trials(5, seed=3) == table8.trials(5, seed=3)
    assert all(p["optim.warmup_factor"] == 0.05 for p in table8.trials(5))


def test_figures_render_from_run_records(tmp_path):
    from analysis import plots

    fixtures = ROOT / "tests/fixtures/runs"
    for figure in ("figure2", "figure3", "figure6"):
        assert plots.main([figure, "--runs", str(fixtures), "--out", str(tmp_path)]) == 0
        assert (tmp_path / f"{figure}.png").stat().st_size > 10_000
    spikes = (tmp_path / "figure6_spikes.md").read_text()
    assert "| 32 layers, MLP 2048 | tiny | softmax | 1, 1, 1 | 1.0 |" in spikes
    assert "| 32 layers, MLP 2048 | tiny | laser | 0, 0, 0 | 0.0 |" in spikes
    assert "| 32 layers, MLP 4096 | tiny-wide | laser | no runs | n/a |" in spikes
    assert plots.spikes(np.array([1.0] * 25 + [2.0])) == 1
    assert plots.main(["figure99", "--out", str(tmp_path)]) == 2


def test_power_law_fit_recovers_exact_laws_and_the_saving():
    from analysis import scaling_law

    n = np.array([1e6, 2e6, 4e6, 8e6])
    laser, std = scaling_law.fit(n, 20 * n**-0.1), scaling_law.fit(n, 21 * n**-0.1)
    assert laser.a == pytest.approx(20) and laser.b == pytest.approx(-0.1)
    assert laser.b_err < 1e-6
    # Same exponent: LASER reaches any loss with (20/21)^(1/0.1) of the parameters.
    saving = scaling_law.parameter_saving(laser, std, 10.0)
    assert saving == pytest.approx(1 - (20 / 21) ** 10)
    with pytest.raises(ValueError, match="fit: got 1 points"):
        scaling_law.fit([1e6], [3.0])


def test_figures_4_and_5_render_the_fit_from_run_records(tmp_path):
    from analysis import plots
    from sweeps import figure4
    from sweeps.run import trial_dir

    # Records whose losses follow exact power laws: LASER 20 n^-0.1, standard 21 n^-0.1.
    runs, sweep = tmp_path / "runs", figure4.sweep("tiny")
    for trial in sweep.trials:
        n = plots._param_count(trial.profile)
        a = 20.0 if trial.name.endswith("laser") else 21.0
        where = trial_dir(sweep, "tiny", runs, trial)
        records.set_status(where, "done", final={"test/loss": a * n**-0.1})
    assert sum(bool(t.workdir) for t in sweep.trials) == 6  # shared with Table 1's seed-0 runs
    out = tmp_path / "figs"
    assert plots.main(["figure4", "--runs", str(runs), "--out", str(out)]) == 0
    assert plots.main(["figure5", "--runs", str(runs), "--out", str(out)]) == 0
    tmp_path = out
    fit = (tmp_path / "figure4_fit.md").read_text()
    assert "- laser: a = 20 ±" in fit and "b = -0.1000" in fit
    assert f"needs {100 * (1 - (20 / 21) ** 10):.1f}% fewer parameters" in fit
    assert (tmp_path / "figure4.png").exists() and (tmp_path / "figure5.png").exists()


def test_lamb_and_table11_render_from_run_records(tmp_path):
    from sweeps import ablations

    assert len(ablations.sweep("tiny").trials) == 10
    fixtures = ROOT / "tests/fixtures/runs"
    assert render.main(["table11", "--runs", str(fixtures), "--out", str(tmp_path)]) == 0
    lamb, t11 = (tmp_path / "lamb.md").read_text(), (tmp_path / "table11.md").read_text()
    assert "| test | 2.741 | 2.758 | -0.62% | 5.000 ± 0.100 (n=3) | 5.200 ± 0.100 (n=3) |" in lamb
    assert "| FP32 | 2.326 | 2.344 | -0.77% | 4.800 (n=1) | 4.900 (n=1) | -2.04% |" in t11
    assert "| BF16 | 2.333 | 2.35 | -0.72% | run diverged | run missing | n/a |" in t11


# ------------------------------------------------------------- one source of trials and paths

SWEEP_FILES = sorted(p for p in (ROOT / "sweeps").glob("*.py") if p.stem not in ("spec", "run"))


def _sweeps(profile: str = "tiny"):
    for file in SWEEP_FILES:
        if "def sweep(" in file.read_text():
            yield runner.load_sweep(str(file), profile)


def test_sweeps_set_attention_options_in_the_model_attention_section(monkeypatch):
    monkeypatch.delenv("VIT_HPARAMS", raising=False)
    old = {"model.attention", "model.temperature", "model.per_dim_scale", "model.qk_norm"}
    seen = set()
    for sweep in _sweeps():
        for trial in sweep.trials:
            keys = {k for k, _ in trial.overrides}
            assert not keys & old, (sweep.name, trial.name)
            seen |= {k for k in keys if k.startswith("model.attention.")}
    assert seen == {spec.ATTENTION, spec.TEMPERATURE, spec.PER_DIM_SCALE, spec.QK_NORM}


def test_trial_names_and_workdirs_stay_where_existing_runs_are(monkeypatch):
    from sweeps import ablations, figure4, table2, table3, table4, table5

    monkeypatch.delenv("VIT_HPARAMS", raising=False)

    def paths(module, profile="tiny"):
        sweep = module.sweep(profile)
        return {sweep.path(t, profile) for t in sweep.trials}

    assert "table1-tiny/tiny-wide-softmax-seed2" in paths(table1)
    assert "table1-paper/paper-234m-laser-seed0" in paths(table1, "paper")
    assert {"table1-tiny/tiny-laser-seed0", "table2-tiny/tiny-softmax-temp-seed1"} <= paths(table2)
    assert {"table2-tiny/tiny-laser-pdt-seed2"} <= paths(table2)
    assert "table2-paper/paper-2.2b-laser-seed0" in paths(table2, "paper")
    assert {"table3-tiny/copa-laser-seed0", "table3-tiny/cb-softmax-seed2"} <= paths(table3)
    assert {"table4-tiny/laser-perdim-seed0", "table4-tiny/softmax-qknorm-seed1"} <= paths(table4)
    assert {"table5-tiny/standard-qknorm-seed2", "table5-tiny/laser-temp-seed0"} <= paths(table5)
    assert {"table1-tiny/tiny-laser-seed0", "figure4-tiny/tiny-2.2b-softmax"} <= paths(figure4)
    assert {"ablations-tiny/lamb-laser-seed1", "ablations-tiny/float32-laser"} <= paths(ablations)


def test_find_selects_one_trial_by_overrides_and_profile():
    trials = (
        spec.Trial("a", "c.py", "small", ((spec.ATTENTION, "laser"), (spec.SEED, 0))),
        spec.Trial("b", "c.py", "small", ((spec.ATTENTION, "laser"), (spec.QK_NORM, True))),
        spec.Trial("c", "c.py", "big", ((spec.ATTENTION, "laser"), (spec.SEED, 0))),
    )
    sweep = spec.Sweep("s", trials)
    assert sweep.find({spec.SEED: 0}, "big").name == "c"
    assert sweep.find({spec.ATTENTION: "laser", spec.QK_NORM: None}, "small").name == "a"
    assert [t.name for t in sweep.select({spec.ATTENTION: "laser"})] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="matches a, c"):
        sweep.find({spec.SEED: 0})
    with pytest.raises(ValueError, match="matches none"):
        sweep.find({spec.SEED: 1})
    among = [{spec.ATTENTION: "laser"}, {spec.ATTENTION: "laser", spec.QK_NORM: True}]
    assert spec.only({spec.ATTENTION: "laser"}, among) == {
        spec.ATTENTION: "laser",
        spec.QK_NORM: None,
    }


def test_table3_reads_its_pretrained_lms_under_the_runners_runs_root(tmp_path, capsys):
    from sweeps import table3

    runs = tmp_path / "elsewhere"
    assert runner.main([str(ROOT / "sweeps/table3.py"), "--runs", str(runs), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("-m laser.main") == len(table3.sweep("tiny").trials)
    assert f"--config.finetune.checkpoint={runs}/table1-tiny/tiny-laser-seed0" in out
    assert f"--workdir {runs}/table3-tiny/copa-laser-seed0" in out
    assert "results/runs" not in out
    with pytest.raises(ValueError, match="runs root"):
        table3.sweep("tiny").trials[0].command("w")


def test_table4_and_hparams_from_share_one_best_json_parser(tmp_path, monkeypatch):
    from laser import main
    from laser.configs import ConfigError
    from sweeps import table4

    best = tmp_path / "best.json"
    overrides = {"optim.learning_rate": 0.0012345678, "train.seed": 4, "optim.b2": 0.99}
    best.write_text(json.dumps({"best": {"trial": "03", "overrides": overrides}}))
    monkeypatch.setenv(table4.HPARAMS_ENV, str(best))
    expected = (("optim.learning_rate", 0.0012345678), ("optim.b2", 0.99))
    assert table4.tuned_overrides() == expected
    assert main.best_overrides(str(best)) == ["optim.learning_rate=0.0012345678", "optim.b2=0.99"]
    trial = table4.sweep("tiny").trials[0]
    assert "--config.optim.learning_rate=0.00123457" in trial.command("w")  # as searched
    best.write_text(json.dumps({"best": None, "ranking": []}))  # no finished trial
    for call, named in (
        (table4.tuned_overrides, f"VIT_HPARAMS={str(best)!r}: accepted: a vit_search best.json"),
        (lambda: main.best_overrides(str(best)), f"--hparams-from {str(best)!r}: accepted"),
    ):
        with pytest.raises(ConfigError) as e:
            call()
        assert str(e.value).startswith(named) and "\n" not in str(e.value)


def test_analysis_finds_runs_through_the_sweeps_trials(tmp_path, monkeypatch):
    """Records where sweeps.run puts them (trial_dir), one variant done: only its row has them."""
    from analysis import vision
    from sweeps import table4

    monkeypatch.delenv(table4.HPARAMS_ENV, raising=False)
    runs, sweep = tmp_path / "runs", table4.sweep("tiny")
    final = {f"{s}/error": 0.25 for s in ("valid", "test", "train")}
    for trial in sweep.select(table4.where("LASER + temp")):
        records.set_status(runner.trial_dir(sweep, "tiny", runs, trial), "done", final=final)
    vision.render_table4("tiny", runs, tmp_path / "out")
    rows = {r.split(" | ")[0]: r for r in (tmp_path / "out/table4.md").read_text().splitlines()}
    assert "25.000 ± 0.000 (n=3)" in rows["| LASER + temp"]
    assert "n=" not in rows["| LASER"] and "n=" not in rows["| Standard + temp"]
