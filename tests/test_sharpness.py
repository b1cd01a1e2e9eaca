"""Figure 1's measurements (laser.evals.sharpness), their renderers and the sharpness sweep."""

from __future__ import annotations

import subprocess
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from laser.attention import attention_weights, dot_product_attention
from laser.evals import sharpness
from laser.nn.attention import AttentionConfig
from laser.nn.transformer_lm import TransformerLM
from sweeps.run import ROOT


def test_shares_of_a_hand_built_causal_pattern_count_visible_pairs_only():
    # 4 queries, causal: 1 + 2 + 3 + 4 = 10 visible pairs, 6 masked (exactly 0).
    w = np.zeros((1, 1, 4, 4), np.float32)
    w[0, 0, 0, :1] = [1.0]
    w[0, 0, 1, :2] = [1 - 1e-4, 1e-4]  # 1e-4: below 1e-3, not below 1e-7
    w[0, 0, 2, :3] = [0.5, 0.5 - 1e-8, 1e-8]  # 1e-8: below both
    w[0, 0, 3, :4] = [0.25, 0.25, 0.5 - 2e-2, 2e-2]  # none below
    visible = np.tril(np.ones((4, 4), bool))[None, None]
    s = jax.device_get(sharpness.probability_stats(jnp.asarray(w), jnp.asarray(visible)))
    assert s["total"] == 10
    assert s["below"].tolist() == [2, 1]
    assert s["hist"].sum() == 10
    # Histogram bins: 1e-8 in [1e-8, 10^-7.75), 1e-4 in [1e-4, 10^-3.75); the last bin,
    # [10^-0.25, 1], holds A = 1 and 1 - 1e-4.
    edges = sharpness.EDGES
    assert s["hist"][np.searchsorted(edges, -8.0, side="right")] == 1
    assert s["hist"][np.searchsorted(edges, -4.0, side="right")] == 1
    assert s["hist"][-1] == 2
    # Counting the masked zeros as well would put 7 of 16 below 1e-7.
    every = jax.device_get(sharpness.probability_stats(jnp.asarray(w), None))
    assert every["total"] == 16 and every["below"].tolist() == [8, 7]


@pytest.mark.parametrize("kind", ["softmax", "laser"])
def test_attention_weights_are_the_ones_each_kind_weights_its_values_by(kind):
    q, k, v = jax.random.normal(jax.random.key(0), (3, 2, 5, 3, 4))
    p = jnp.array([0.3, -0.2, 0.1, 0.0])
    options = dict(is_causal=True, temperature=1.7, per_dim_scale=p)
    w, visible = attention_weights(q, k, **options)
    assert w.shape == (2, 3, 5, 5) and visible is not None
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-6)
    assert float(jnp.abs(jnp.where(visible, 0.0, w)).max()) == 0.0
    out = dot_product_attention(q, k, v, kind=kind, **options)
    mixed = jnp.einsum("bnts,bsnh->btnh", w, v if kind == "softmax" else jnp.exp(v))
    np.testing.assert_allclose(out, mixed if kind == "softmax" else jnp.log(mixed), atol=1e-5)


def _tiny_lm(kind: str):
    model = TransformerLM(
        vocab_size=13,
        num_layers=2,
        model_dim=8,
        num_heads=2,
        head_dim=4,
        mlp_dim=16,
        attention=AttentionConfig(kind=kind),
    )
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 13, (2, 7), dtype=np.int32)
    batch = {
        "inputs": tokens[:, :-1],
        "targets": tokens[:, 1:],
        "weights": np.array([[1, 1, 1, 1, 1, 0], [1] * 6], np.float32),
    }
    params = nn.unbox(model.init(jax.random.key(1), batch["inputs"])["params"])
    return model, params, batch


def _mean_loss(model, params, batch, perturb):
    logits = model.apply({"params": params, "perturbations": perturb}, batch["inputs"])
    losses = optax.softmax_cross_entropy_with_integer_labels(logits, batch["targets"])
    return jnp.sum(losses * batch["weights"]) / jnp.sum(batch["weights"])


def _directional(f, x, u, eps=1e-2):
    """Central finite difference of f along u (float32: a largish step on a smooth loss)."""
    add = lambda s: jax.tree.map(lambda a, b: a + s * b, x, u)  # noqa: E731
    return (float(f(add(eps))) - float(f(add(-eps)))) / (2 * eps)


def _unit(tree, path, g):
    """Zeros like `tree` but g / |g| at `path`."""
    u = jax.tree.map(jnp.zeros_like, tree)
    node = u
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = g / jnp.linalg.norm(g)
    return u


@pytest.mark.parametrize("kind", ["softmax", "laser"])
def test_gradient_norms_match_finite_differences(kind):
    model, params, batch = _tiny_lm(kind)
    half = {k: v[:1] for k, v in batch.items()}, {k: v[1:] for k, v in batch.items()}
    m = sharpness.measure(model, params, half)  # two batches: the mean over both
    assert m["tokens"] == 11 and set(m["layers"]) == {"block_0/attention", "block_1/attention"}
    # The norm of a gradient is the derivative along its own direction: probed by finite
    # differences of the mean loss, for one layer's query kernel and another's logits (through
    # the zero perturbation the attention module adds to its logits).
    zeros = sharpness._logit_perturbations(model, params, jnp.asarray(batch["inputs"]))
    loss = jax.jit(lambda p, z: _mean_loss(model, p, batch, z))
    gp, gz = jax.jit(jax.grad(lambda p, z: _mean_loss(model, p, batch, z), (0, 1)))(params, zeros)
    q = ("block_1", "attention", "query", "kernel")
    fd = _directional(
        lambda p: loss(p, zeros), params, _unit(params, q, gp[q[0]][q[1]][q[2]][q[3]])
    )
    assert m["layers"]["block_1/attention"]["grad_query"] == pytest.approx(fd, rel=2e-2)
    a = ("block_0", "attention", sharpness.LOGITS)
    gl = gz[a[0]][a[1]][a[2]]
    assert float(jnp.abs(gl).max()) > 0  # the perturbation does reach the logits
    fd = _directional(lambda z: loss(params, z), zeros, _unit(zeros, a, gl))
    assert m["layers"]["block_0/attention"]["grad_logits"] == pytest.approx(fd, rel=2e-2)
    # And the zero perturbation leaves the loss unchanged.
    plain = _mean_loss(model, params, batch, {})
    np.testing.assert_allclose(loss(params, zeros), plain, rtol=1e-6)


def test_logit_gradient_is_the_softmax_jacobian_applied_to_the_weights_gradient():
    # Lemma 3.1 (explicit Jacobian): dL/da = A * (dL/dA - sum_j A_j dL/dA_j), row by row.
    q, k, v, c = jax.random.normal(jax.random.key(2), (4, 1, 4, 2, 3))
    zero = jnp.zeros((1, 2, 4, 4))

    def loss_of_bias(b):
        return jnp.sum(c * dot_product_attention(q, k, v, b, is_causal=True))

    w, _ = attention_weights(q, k, is_causal=True)
    dA = jax.jit(jax.grad(lambda a: jnp.sum(c * jnp.einsum("bnts,bsnh->btnh", a, v))))(w)
    expected = w * (dA - jnp.sum(w * dA, axis=-1, keepdims=True))
    np.testing.assert_allclose(jax.jit(jax.grad(loss_of_bias))(zero), expected, atol=1e-5)


def _fake_measurement(kind: str, workdir: str, scale: float) -> dict:
    hist = np.zeros(len(sharpness.EDGES), int)
    hist[[10, 30, 40]] = [1, 3, 6]
    layer = {
        "hist": hist.tolist(),
        "below": [4, 1],
        "total": 10,
        "shares": [0.4, 0.1],
        "grad_query": 0.2 * scale,
        "grad_key": 0.1 * scale,
        "grad_logits": 0.01 * scale,
    }
    return {
        "layers": {"block_0/attention": layer, "block_1/attention": dict(layer)},
        "overall": {k: layer[k] for k in ("hist", "below", "total", "shares")},
        "loss": 5.0,
        "tokens": 10.0,
        "edges": sharpness.EDGES.tolist(),
        "thresholds": list(sharpness.THRESHOLDS),
        "workdir": workdir,
        "step": 500,
        "attention": kind,
        "seq_len": 128,
        "seed": 0,
        "final": {"test/loss": 5.0 * scale},
    }


def test_renderers_write_figures_and_tables_from_measurements(tmp_path):
    from analysis import figure1
    from analysis import sharpness as sweep_analysis
    from sweeps import sharpness as sweep_file

    ms = [_fake_measurement("laser", "a/x", 2.0), _fake_measurement("softmax", "a/y", 1.0)]
    paths = figure1.render_figure1(ms, tmp_path / "f", tmp_path / "t", "make x")
    paths += figure1.render_gradients(ms, tmp_path / "f", tmp_path / "t", "make y")
    assert all(p.is_file() for p in paths)
    table = (tmp_path / "t" / "figure1.md").read_text()
    assert "| LASER (x) | 500 | 128 | all layers | 10 | 40.00% | 10.00% | ~80% | ~20% |" in table
    grads = (tmp_path / "t" / "figure1_gradients.csv").read_text()
    assert "2.000,2.000,2.000" in grads  # LASER / standard for query, key, logits
    # The sweep's table: one seed done at 128 tokens, the rest missing.
    data = {
        (n, a, s): "missing"
        for n in sweep_file.LENGTHS
        for a in sweep_file.ATTENTIONS
        for s in sweep_file.SEEDS
    }
    data[128, "laser", 0], data[128, "softmax", 0] = ms
    df, _ = sweep_analysis.summarise(data)
    row = df.iloc[0]
    assert row["LASER/std |dL/d logits|"] == "2.000 (n=1)"
    assert row["test loss LASER vs std (%)"] == "+100.00 (n=1)"
    assert "seed 1 missing" in row["not done"] and df.iloc[2]["LASER <0.001 (%)"] == "n/a"
    assert all(p.is_file() for p in sweep_analysis.render(data, tmp_path / "f", tmp_path / "t"))


def test_sweep_dry_run_lists_18_trials_sharing_table_1s_at_128_tokens():
    from sweeps import figure1, table1
    from sweeps import sharpness as sweep_file

    out = subprocess.run(
        [sys.executable, "-m", "sweeps.run", "sweeps/sharpness.py", "--dry-run", "--runs", "R"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert len(out) == 18
    t1 = {tuple(t.command("")) for t in table1.sweep("tiny").trials}
    for length, batch in ((128, 16), (512, 4), (1024, 2)):
        lines = [line for line in out if (f"seq_len={length}" in line) == (length != 128)]
        lines = lines if length != 128 else [line for line in lines if "seq_len" not in line]
        assert len(lines) == 6, length
        assert all(length == 128 or f"batch_size={batch}" in line for line in lines)
        assert length * batch == sweep_file.TOKENS_PER_STEP
    sweep = sweep_file.sweep("tiny")
    for a in sweep_file.ATTENTIONS:
        for s in sweep_file.SEEDS:
            trial = sweep_file.find("tiny", 128, a, s)
            assert sweep.path(trial, "tiny") == f"table1-tiny/tiny-{a}-seed{s}"
            assert tuple(trial.command("")) in t1  # the very command Table 1 runs there
    for trial in figure1.sweep("tiny").trials:  # Figure 1's runs are Table 1's seed-0 runs
        assert tuple(trial.command("")) in t1 and trial.workdir.startswith("table1-tiny/")
    assert figure1.sweep("paper").trials[0].workdir == "figure4-paper/paper-2.2b-laser"


def test_bad_workdirs_fail_with_one_line_and_write_nothing(tmp_path, capsys):
    from analysis import figure1

    out = tmp_path / "out"
    args = ["figure1", "--figures", str(out), "--tables", str(out)]
    assert figure1.main(args + ["--workdir", str(tmp_path / "nope")]) == 2
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text('{"task": "masked_lm"}')
    assert figure1.main(args + ["--workdir", str(tmp_path / "bert")]) == 2
    (tmp_path / "lm").mkdir()
    (tmp_path / "lm" / "config.json").write_text('{"task": "causal_lm"}')
    assert figure1.main(args + ["--workdir", str(tmp_path / "lm")]) == 2
    assert figure1.main(["table1", "--figures", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("error: ") for line in err)
    assert "not a directory" in err[0] and "masked_lm" in err[1] and "no checkpoint" in err[2]
    assert not out.exists() and not (tmp_path / "lm" / "sharpness.json").exists()


def test_measurements_trace_at_paper_scale_through_the_models_own_module():
    # Shapes only (jax.eval_shape allocates nothing): the 2.2B LM of the paper's Figure 1, two
    # of its 32 layers (the rest are the same layer again; tracing all of them takes seconds).
    from laser import configs
    from laser.nn import transformer_lm

    c = configs.load(f"{ROOT}/experiments/c4_lm/config.py:paper-2.2b")
    c.model.num_layers = 2
    model = transformer_lm.from_config(c.model)
    tokens = jax.ShapeDtypeStruct((1, c.data.seq_len), jnp.int32)
    params = jax.eval_shape(lambda x: nn.unbox(model.init(jax.random.key(0), x)["params"]), tokens)
    batch = {
        "inputs": tokens,
        "targets": tokens,
        "weights": jax.ShapeDtypeStruct(tokens.shape, jnp.float32),
    }
    out = jax.eval_shape(lambda p, b: sharpness.batch_measurements(model, p, b), params, batch)
    assert len(out["stats"]) == len(out["logits_sq"]) == 2
    assert out["qk"]["block_1/attention"]["key"].shape == (2048, 8, 512)
