"""The Differential Transformer (Table 7) and the 7.7B LM (Table 6): the value-width change in the
attention core, the Diff module (lambda, lambda_init, RMSNorm), both experiments' profiles and
runs, their sweeps and their tables."""

import importlib.util
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import laser
from laser import configs, main, records, reference
from laser.nn import AttentionConfig, MultiHeadAttention
from laser.nn.transformer_lm import TransformerLM, from_config, param_count
from tests import reference as ref

ROOT = Path(__file__).resolve().parents[1]
DIFF = str(ROOT / "experiments/diff_transformer/config.py")
SCALE = str(ROOT / "experiments/scaling_7b/config.py")
ATTENTION = ref.jitted_attention()
# (name, B, T, S, N, K, H, Hv, masking)
CASES = [
    ("causal_2h", 2, 12, 12, 4, 4, 8, 16, {"is_causal": True}),
    ("padded_2h", 2, 10, 10, 2, 2, 8, 16, {"kv_lens": [7, 10], "q_lens": [10, 4]}),
    ("gqa_causal_half", 1, 9, 9, 4, 2, 8, 4, {"is_causal": True}),
]


def _inputs(B, T, S, N, K, H, Hv, masking, seed=0):
    rng = np.random.default_rng(seed)
    q1, q2 = rng.normal(size=(2, B, T, N, H))
    k1, k2 = rng.normal(size=(2, B, S, K, H))
    v = rng.normal(size=(B, S, K, Hv)) * 2.0
    kw, vis_kw = {}, {}
    if masking.get("is_causal"):
        kw["is_causal"] = vis_kw["is_causal"] = True
    if "kv_lens" in masking:
        kw["key_value_seq_lengths"] = jnp.asarray(masking["kv_lens"])
        vis_kw["kv_lens"] = masking["kv_lens"]
    if "q_lens" in masking:
        kw["query_seq_lengths"] = jnp.asarray(masking["q_lens"])
        vis_kw["q_lens"] = masking["q_lens"]
    return (q1, k1, q2, k2, v), kw, ref.visible_mask(B, N, T, S, **vis_kw)


def _ref_kind(kind):
    return "softmax" if kind == "softmax" else "laser"


@pytest.mark.parametrize("kind", laser.KINDS)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_value_width_differs_from_query_width_for_every_kind(kind, case):
    """Outputs and gradients with Hv != H against the float64 definition."""
    _, B, T, S, N, K, H, Hv, masking = case
    (q, k, _, _, v), kw, vis = _inputs(B, T, S, N, K, H, Hv, masking)
    cot = np.random.default_rng(1).normal(size=(B, T, N, Hv))

    def ours(q, k, v):
        out = ATTENTION(q, k, v, kind=kind, block_size=4, **kw)
        return jnp.sum(out * cot), out

    f32 = [jnp.asarray(x, jnp.float32) for x in (q, k, v)]
    grads, out = jax.grad(ours, argnums=(0, 1, 2), has_aux=True)(*f32)
    assert out.shape == (B, T, N, Hv)
    with jax.enable_x64(True):

        def theirs(q, k, v):
            out = ref.attention(q, k, v, kind=_ref_kind(kind), vis=jnp.asarray(vis))
            return jnp.sum(out * cot), out

        f64 = [jnp.asarray(x, jnp.float64) for x in (q, k, v)]
        ref_grads, ref_out = jax.grad(theirs, argnums=(0, 1, 2), has_aux=True)(*f64)
        ref_grads, ref_out = [np.asarray(g) for g in ref_grads], np.asarray(ref_out)
    assert ref.rel_err(out, ref_out) < 1e-5
    for name, g, rg in zip("qkv", grads, ref_grads, strict=True):
        assert ref.rel_err(g, rg) < 1e-5, name


@pytest.mark.parametrize("kind", laser.KINDS)
@pytest.mark.parametrize("case", CASES[:2], ids=[c[0] for c in CASES[:2]])
def test_diff_attention_matches_the_float64_definition(kind, case):
    _, B, T, S, N, K, H, Hv, masking = case
    (q1, k1, q2, k2, v), kw, vis = _inputs(B, T, S, N, K, H, Hv, masking)
    lam = np.linspace(0.2, 0.7, N)
    f32 = [jnp.asarray(x, jnp.float32) for x in (q1, k1, q2, k2, v)]
    out = laser.diff_attention(*f32, jnp.asarray(lam), kind=kind, block_size=4, **kw)
    expected = reference.diff_attention(q1, k1, q2, k2, v, lam, kind=_ref_kind(kind), vis=vis)
    assert out.shape == (B, T, N, Hv) and ref.rel_err(out, expected) < 1e-5
    # The LASER form is not the softmax one (the log sits between the maps and lambda).
    if kind != "softmax":
        soft = reference.diff_attention(q1, k1, q2, k2, v, lam, kind="softmax", vis=vis)
        assert ref.rel_err(out, soft) > 0.1


def test_diff_attention_dropout_drops_the_two_maps_independently():
    (q1, k1, q2, k2, v), _, _ = _inputs(1, 8, 8, 2, 2, 4, 8, {})
    args = [jnp.asarray(x, jnp.float32) for x in (q1, k1, q1, k1, v)]  # the same map twice
    out = laser.diff_attention(
        *args, 1.0, kind="laser", dropout_rate=0.5, dropout_rng=jax.random.key(0)
    )
    assert np.all(np.isfinite(np.asarray(out))) and np.abs(np.asarray(out)).max() > 1e-3


def test_lambda_init_is_ye_et_als_with_the_0_based_layer_index():
    for layer in range(6):
        assert laser.lambda_init(layer) == pytest.approx(0.8 - 0.6 * np.exp(-0.3 * layer))
    assert laser.lambda_init(0) == pytest.approx(0.2)


def _rms(x, scale, eps=1e-5):
    return x / np.sqrt((x**2).mean(-1, keepdims=True) + eps) * scale


@pytest.mark.parametrize("kind", laser.KINDS)
def test_diff_module_is_ye_et_als_attention(kind):
    """Projections, adjacent-head pairs, lambda's re-parameterisation, RMSNorm, 1 - lambda_init,
    against NumPy in float64 from the module's own parameters."""
    N, H, layer = 2, 4, 3
    x = np.random.default_rng(2).normal(size=(2, 7, 16))
    module = MultiHeadAttention(
        num_heads=N, head_dim=H, layer=layer, attention=AttentionConfig(kind, differential=True)
    )
    params = nn.unbox(module.init(jax.random.key(0), jnp.asarray(x, jnp.float32))["params"])
    assert params["query"]["kernel"].shape == (16, 2 * N, H)
    assert params["value"]["kernel"].shape == (16, N, 2 * H)
    assert params["out"]["kernel"].shape == (N, 2 * H, 16)
    assert params["subln"]["scale"].shape == (2 * H,)
    # Init N(0, 0.1); then set known values (and a non-unit norm scale) to check the formula.
    lam_vectors = np.stack([params[n] for n in ("lambda_q1", "lambda_k1", "lambda_q2")])
    assert 0.03 < lam_vectors.std() < 0.3
    rng = np.random.default_rng(3)
    for name in ("lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2"):
        params[name] = jnp.asarray(rng.normal(size=H) * 0.5, jnp.float32)
    params["subln"]["scale"] = jnp.asarray(rng.uniform(0.5, 1.5, size=2 * H), jnp.float32)
    out = module.apply({"params": params}, jnp.asarray(x, jnp.float32), is_causal=True)

    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
    q = np.einsum("btd,dnh->btnh", x, p["query"]["kernel"])
    k = np.einsum("btd,dnh->btnh", x, p["key"]["kernel"])
    v = np.einsum("btd,dnh->btnh", x, p["value"]["kernel"])
    lam_init = 0.8 - 0.6 * np.exp(-0.3 * layer)
    lam = (
        np.exp(p["lambda_q1"] @ p["lambda_k1"]) - np.exp(p["lambda_q2"] @ p["lambda_k2"]) + lam_init
    )
    vis = ref.visible_mask(2, N, 7, 7, is_causal=True)
    rk = _ref_kind(kind)
    diff = reference.diff_attention(
        q[:, :, 0::2], k[:, :, 0::2], q[:, :, 1::2], k[:, :, 1::2], v, lam, kind=rk, vis=vis
    )
    heads = _rms(diff, p["subln"]["scale"]) * (1 - lam_init)
    expected = np.einsum("btnh,nhd->btd", heads, p["out"]["kernel"])
    assert ref.rel_err(out, expected) < 1e-5


def test_transformer_lm_passes_each_block_its_layer_index():
    seen = []

    def record(next_fun, args, kwargs, context):
        if isinstance(context.module, MultiHeadAttention) and context.method_name == "__call__":
            seen.append(context.module.layer)
        return next_fun(*args, **kwargs)

    model = TransformerLM(64, 3, 16, 2, 4, 32, attention=AttentionConfig(differential=True))
    with nn.intercept_methods(record):
        model.init(jax.random.key(0), jnp.zeros((1, 5), jnp.int32))
    assert seen == [0, 1, 2]


def test_default_config_creates_no_differential_parameters():
    x = jnp.ones((1, 3, 16))
    plain = MultiHeadAttention(num_heads=2, head_dim=4, layer=5).init(jax.random.key(0), x)
    shapes = jax.tree.map(lambda a: a.shape, nn.unbox(plain["params"]))
    assert shapes == {
        "query": {"kernel": (16, 2, 4)},
        "key": {"kernel": (16, 2, 4)},
        "value": {"kernel": (16, 2, 4)},
        "out": {"kernel": (2, 4, 16)},
    }


# ---------------------------------------------------------------------------- the experiments


def _module(path):
    spec = importlib.util.spec_from_file_location(Path(path).parent.name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "config,profile,exact",
    [(DIFF, "paper-2.2b", 2_213_201_920), (SCALE, "paper-7.7b", 7_733_123_440)],
)
def test_paper_profiles_have_the_stated_parameter_counts_and_the_papers_numbers(
    config, profile, exact
):
    stated = _module(config).STATED_PARAMS[profile]
    c = configs.load(f"{config}:{profile}")
    count = param_count(from_config(c.model))
    assert abs(count / stated - 1) < 0.05 and count == exact  # the docstrings quote `exact`
    m = c.model
    assert (m.num_layers, m.mlp_dim, c.data.batch_size, c.data.seq_len) == (
        32,
        *{
            "paper-2.2b": (8192, 1024, 1024),
            "paper-7.7b": (11584, 1024, 1024),
        }[profile],
    )
    if profile == "paper-2.2b":  # 8 heads whose value (and output) is 512 wide
        assert (m.model_dim, m.num_heads, 2 * m.head_dim) == (2048, 8, 512)
        assert m.attention.differential and c.train.steps == 22_888  # 24B tokens
    else:
        assert (m.model_dim, m.num_heads, m.head_dim) == (3440, 16, 720)
        assert not m.attention.differential and c.train.steps == 41_962  # 44B tokens
        assert c.mesh.fsdp == 16 and m.model_dim % c.mesh.fsdp == 0 and m.remat


def test_tiny_7_7b_analog_is_larger_on_proportionally_fewer_tokens():
    big = configs.load(f"{SCALE}:tiny")
    small = configs.load(str(ROOT / "experiments/c4_lm/config.py") + ":tiny-2.2b")
    ratio = param_count(from_config(big.model)) / param_count(from_config(small.model))
    assert 2.5 < ratio < 4
    assert big.train.steps == round(small.train.steps * 44 / 167.8)
    assert big.data.batch_size == small.data.batch_size


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


@pytest.mark.parametrize("config", [DIFF, SCALE], ids=["diff", "scaling_7b"])
def test_tiny_profile_runs_3_steps_and_its_checkpoint_evaluates(tmp_path, config):
    from laser.evals import evaluate

    args = ["--config", f"{config}:tiny,attention=laser", "--workdir", str(tmp_path)]
    assert main.main(args + QUICK) == 0
    assert records.read_status(tmp_path)["status"] == "done"
    saved = records.read_json(tmp_path / "config.json")["model"]["attention"]
    assert saved["kind"] == "laser" and saved["differential"] == (config == DIFF)
    # The evaluation path rebuilds the (differential) model from the run's config.
    [path] = evaluate.evaluate_run(tmp_path, [3], ("rte",), limit=4)
    assert 0 <= records.read_json(path)["tasks"]["rte"]["sum"]["accuracy"] <= 1


@pytest.mark.parametrize(
    "config,profile", [(DIFF, "paper-2.2b"), (SCALE, "paper-7.7b")], ids=["diff", "7.7b"]
)
def test_paper_profile_trains_3_steps_on_mocked_c4(tmp_path, config, profile):
    import random

    tfds = pytest.importorskip("tensorflow_datasets")
    from laser.data import tokenizer

    text = ["".join(random.Random(i).choices("abcdefghij ", k=40)) for i in range(300)]
    tokenizer.train_or_load("c4_toy", lambda: text, 64, cache_dir=tmp_path)
    small = [
        "--config.model.num_layers=1",
        "--config.model.model_dim=32",
        "--config.model.num_heads=2",
        "--config.model.head_dim=8",
        "--config.model.mlp_dim=64",
        "--config.model.vocab_size=64",
        "--config.data.vocab_size=64",
        f"--config.data.tokenizer_path={tmp_path / 'c4_toy.model'}",
        "--config.mesh.fsdp=1",
    ]
    workdir = tmp_path / "run"
    with tfds.testing.mock_data(num_examples=40):
        args = ["--config", f"{config}:{profile},attention=laser", "--workdir", str(workdir)]
        assert main.main(args + QUICK + small) == 0
    assert records.read_status(workdir)["status"] == "done"
    losses = [r for r in records.read_metrics(workdir) if r["name"] == "loss"]
    assert {r["split"] for r in losses} == {"train", "test"}


@pytest.mark.parametrize(
    "args,message",
    [
        (
            [f"{DIFF}:tiny", "--config.model.attention.differential=maybe"],
            "config model.attention.differential='maybe': accepted: true or false",
        ),
        ([f"{SCALE}:paper-7b"], "profile 'paper-7b' not in"),
        ([f"{DIFF}:paper-2.2b"], "config data.tokenizer_path='': accepted: the path of a"),
    ],
)
def test_bad_config_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, args, message):
    workdir = tmp_path / "run"
    assert main.main(["--config", args[0], "--workdir", str(workdir), *args[1:]]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not workdir.exists()
    with pytest.raises(configs.ConfigError, match="model.attention.differential=1"):
        AttentionConfig(differential=1)


# ------------------------------------------------------------------------ sweeps and tables


def test_sweeps_have_2_kinds_x_3_seeds_of_their_model():
    from sweeps import table6, table7

    for module, config, model in ((table6, SCALE, "paper-7.7b"), (table7, DIFF, "paper-2.2b")):
        for profile in ("tiny", "paper"):
            sweep = module.sweep(profile)
            assert len(sweep.trials) == 6 and {t.profile for t in sweep.trials} == {
                "tiny" if profile == "tiny" else model
            }
            assert all(str(ROOT / t.config) == config for t in sweep.trials)
    assert "tiny-diff-laser-seed2" in {t.name for t in table7.sweep("tiny").trials}


@pytest.mark.parametrize("table", ["table6", "table7"])
def test_table_renders_from_run_records_with_unavailable_and_missing_cells(tmp_path, table):
    """Fabricated records: column A at 60% on every task, column B at 50% (seed 2 of B missing)."""
    from analysis import lm_ablations
    from analysis.render import TABLES

    runs, out = tmp_path / "runs", tmp_path / "out"
    names = lm_ablations.task_names(table)
    for i, dirs in enumerate(lm_ablations._runs(table, "tiny", runs).values()):
        for seed, wd in dirs.items():
            if i == 1 and seed == 2:
                continue
            records.set_status(wd, "done", step=10, final={"test/loss": 5.0 - 0.1 * (i == 0)})
            acc = {"accuracy": 0.6 if i == 0 else 0.5}
            result = {"sum": acc, "per_token": acc, "chance": {"uniform": 0.25}}
            records.write_json(
                wd / "evals" / "10.json",
                {
                    "step": 10,
                    "settings": {"limit": 100, "seed": 0},
                    "tasks": dict.fromkeys(names, result),
                },
            )
    TABLES[table]("tiny", runs, out)
    text = (out / f"{table}.md").read_text()
    rows = {r.split(" | ")[0].lstrip("| "): r for r in text.splitlines() if r.startswith("| ")}
    assert "60.0 ± 0.0 (n=3)" in rows["HellaSwag"] and "50.0 ± 0.0 (n=2)" in rows["HellaSwag"]
    assert "+10.0 ± 0.0 (n=2)" in rows["HellaSwag"]
    assert "unavailable offline" in rows["RaceM"] and "unavailable offline" in rows["WiC"]
    assert "n=" in rows["shakespeare_cloze (not in paper)"]
    assert ("BoolQ" in rows) == (table == "table6")
    average = "53.97" if table == "table6" else "51.52"
    assert average in rows[next(k for k in rows if k.startswith("Average"))]
    loss = rows["test loss of the LM (not in paper; lower is better)"]
    assert "4.9000 ± 0.0000 (n=3)" in loss and "-0.1000 ± 0.0000 (n=2)" in loss
    assert "seed 2: missing" in text
    assert (out / f"{table}.csv").exists()
