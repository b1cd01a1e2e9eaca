"""The Appendix A.5 study end to end on small triples: records, resume, errors, the table."""

import json

import pytest

from analysis import appendix_a5 as render
from experiments.appendix_a5 import run
from laser import records

SMALL = ["seq_len=32", "num_heads=2", "head_dim=16", "samples=3"]


def test_run_writes_records_resumes_and_renders(tmp_path):
    workdir = tmp_path / "run"
    assert run.main(["--workdir", str(workdir), *SMALL]) == 0
    rows = records.read_metrics(workdir)
    assert len(rows) == 3 * len(run.METHODS)
    assert records.read_status(workdir)["status"] == "done"
    assert json.loads((workdir / "config.json").read_text())["samples"] == 3
    assert "jax" in records.read_json(workdir / "meta.json")["packages"]
    errs = {r["name"]: r["value"] for r in rows if r["step"] == 0}
    # float32-accumulating kinds sit at bfloat16's rounding level; vanilla is worse.
    assert 0 < errs["rel_err/softmax"] < 5e-3
    assert 0 < errs["rel_err/laser_exact"] < 5e-3
    assert errs["rel_err/vanilla_laser"] > errs["rel_err/laser_exact"]

    # Resume: a second call (more samples) adds only the missing triple.
    assert run.main(["--workdir", str(workdir), *SMALL[:-1], "samples=4"]) == 2  # other config
    assert run.main(["--workdir", str(workdir), *SMALL]) == 0
    assert len(records.read_metrics(workdir)) == 3 * len(run.METHODS)

    out = tmp_path / "tables"
    assert render.main(["--runs", str(workdir), "--out", str(out)]) == 0
    md = (out / "appendix_a5.md").read_text()
    assert "(0.0017, 0.0001)" in md and "(0.0019, 0.0002)" in md  # the paper's numbers
    mean = sum(r["value"] for r in records.read_metrics(workdir) if r["name"] == "rel_err/softmax")
    assert f"{mean / 3:.4f}" in md  # ours, from the records
    assert (out / "appendix_a5.csv").read_text().count("\n") == 1 + len(run.METHODS)


@pytest.mark.parametrize(
    "args,message",
    [
        (["--profile", "huge"], "profile 'huge' not in"),
        (["samples=many"], "config samples='many': accepted: an integer"),
        (["sample=3"], "config key 'sample' unknown; accepted: dtype, head_dim"),
        (["samples"], "override 'samples': accepted form key=value"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, args, message):
    workdir = tmp_path / "run"
    assert run.main(["--workdir", str(workdir), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not workdir.exists()


def test_render_without_records_is_an_error(tmp_path, capsys):
    assert render.main(["--runs", str(tmp_path / "none"), "--out", str(tmp_path / "t")]) == 2
    assert "no run records" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()


def test_the_float64_reference_is_laser_reference_and_numpy_only():
    import ast
    from pathlib import Path

    import numpy as np

    from laser import reference

    source = Path(reference.__file__).read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    assert imported <= {"__future__", "typing", "numpy", "laser.masks"}, imported

    config = run.configs.load(f"{run.CONFIG}:tiny", SMALL)
    q, k, v = run.sample(config, 0)
    refs = run.reference_outputs(q, k, v, config.is_causal)
    vis = reference.visible_mask(1, 2, 32, 32, is_causal=True)
    for kind in ("softmax", "laser"):
        expected = reference.attention(q, k, v, kind=kind, vis=vis)[0]
        assert refs[kind].dtype == np.float64 and refs[kind].shape == (32, 2, 16)
        np.testing.assert_array_equal(refs[kind], expected)
    # The LASER reference agrees with its overflow-free logsumexp form.
    lse = reference.laser_lse(q, k, v, vis=vis)[0]
    assert reference.rel_err(refs["laser"], lse) < 1e-12
