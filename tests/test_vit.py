"""ViT (Table 4): the S/16 parameter count, the model, the classification loss, the augmentation
ops (against PIL where PIL has them), 3-step runs of the tiny profile and of the paper model on
mocked ImageNet, the Table 4 / baseline-search sweeps and the Table 4 renderer."""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf

from laser import configs, main, records
from laser.configs import ConfigError
from laser.data import fashion_mnist
from laser.nn import AttentionConfig, vit
from sweeps import table4, vit_search

ROOT = Path(__file__).resolve().parents[1]
CONFIG = str(ROOT / "experiments/vit_imagenet/config.py")
HAVE_FASHION = fashion_mnist.DATA_DIR.is_dir()
needs_fashion = pytest.mark.skipif(
    not HAVE_FASHION, reason="Fashion-MNIST missing: apt-get install dataset-fashion-mnist"
)
QUICK = [
    "--config.train.steps=3",
    "--config.train.log_every=1",
    "--config.train.eval_every=3",
    "--config.train.eval_batches=1",
    "--config.train.checkpoint_every=3",
    "--config.train.progress=false",
    "--config.data.batch_size=8",
    "--config.data.eval_batch_size=8",
]


def _s16_params(classes: int = 1000) -> int:
    """ViT-S/16 counted by hand from AlgoPerf's architecture (all layers have biases)."""
    d, mlp, depth, patch = 384, 1536, 12, 16
    dense = lambda i, o: i * o + o  # noqa: E731
    block = 2 * 2 * d + 4 * dense(d, d) + dense(d, mlp) + dense(mlp, d)  # 2 LNs, q/k/v/out, MLP
    return dense(patch * patch * 3, d) + depth * block + 2 * d + dense(d, d) + dense(d, classes)


def test_vit_s16_has_algoperfs_22m_parameters():
    model = vit.ViT(num_classes=1000, **vit.decode_variant("S/16"))
    assert _s16_params() == 22_122_472
    assert vit.param_count(model, 224) == 22_122_472
    # The options add what they should: per-dim scale 64 per layer, QK-norm 2 x 64 per layer.
    options = AttentionConfig(per_dim_scale=True)
    per_dim = vit.ViT(num_classes=1000, attention=options, **vit.decode_variant("S/16"))
    assert vit.param_count(per_dim, 224) == 22_122_472 + 12 * 64


def test_decode_variant_and_bad_variants():
    assert vit.decode_variant("B/32") == dict(
        width=768, depth=12, mlp_dim=3072, num_heads=12, patch_size=32
    )
    for bad in ("S", "S/x", "Q/16", "S/0"):
        with pytest.raises(ValueError, match="accepted"):
            vit.decode_variant(bad)


def test_posemb_sincos_2d_layout():
    pe = vit.posemb_sincos_2d(2, 3, 8)  # rows y, columns x, row-major tokens
    assert pe.shape == (6, 8)
    np.testing.assert_allclose(pe[0], [0, 0, 1, 1, 0, 0, 1, 1])
    # token 1 is (y=0, x=1): x features move, y features stay at sin 0 / cos 1.
    np.testing.assert_allclose(pe[1, :2], [np.sin(1.0), np.sin(1e-4)], rtol=1e-6)
    np.testing.assert_allclose(pe[1, 4:], [0, 0, 1, 1])


def test_vit_head_starts_at_zero_and_attention_kinds_differ():
    images = jax.random.normal(jax.random.key(0), (2, 16, 16, 3))

    def model(**attention):
        return vit.ViT(5, **vit.decode_variant("xs/4"), attention=AttentionConfig(**attention))

    models = {
        "softmax": model(kind="softmax"),
        "laser": model(kind="laser"),
        "laser+temp": model(kind="laser", temperature=2.0),
        "laser+qknorm+perdim": model(kind="laser", qk_norm=True, per_dim_scale=True),
    }
    params = {k: m.init(jax.random.key(1), images)["params"] for k, m in models.items()}
    for name, m in models.items():  # zero-initialised head: every kind starts at logits 0
        np.testing.assert_array_equal(params[name]["head"]["kernel"], 0.0)
        np.testing.assert_array_equal(m.apply({"params": params[name]}, images), 0.0)
    # A random head; softmax, laser and laser+temp share one set of parameters (they have the
    # same ones), so their logits differ only by the attention.
    params["laser"] = params["laser+temp"] = params["softmax"]
    logits = {}
    for name, m in models.items():
        p = params[name]
        kernel = jax.random.normal(jax.random.key(2), p["head"]["kernel"].shape)
        p = {**p, "head": {**p["head"], "kernel": kernel}}
        logits[name] = out = np.asarray(m.apply({"params": p}, images))
        assert out.shape == (2, 5) and np.isfinite(out).all() and np.abs(out).max() > 0.1
        assert np.abs(out[0] - out[1]).max() > 0.1  # the logits depend on the image
    assert np.abs(logits["softmax"] - logits["laser"]).max() > 0.1
    assert np.abs(logits["laser"] - logits["laser+temp"]).max() > 0.1


def _task(tmp_path, profile="tiny", *overrides):
    from laser.train.classification import ClassificationTask

    return ClassificationTask(configs.load(f"{CONFIG}:{profile}", list(overrides)))


@needs_fashion
def test_classification_loss_smoothing_and_weighted_error():
    task = _task(None, "tiny", "model.variant=xs/7")
    params = task.model.init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))["params"]
    labels = np.eye(10, dtype=np.float32)[[0, 3, 3, 7]]
    batch = {
        "images": np.zeros((4, 28, 28, 1), np.float32),
        "labels": labels,
        "weights": np.array([1, 1, 1, 0], np.float32),
    }
    # The zero-initialised head gives uniform logits: loss log(10) with or without smoothing,
    # argmax 0, so the two weighted rows labelled 3 are wrong and the padded row does not count.
    loss, (aux, _) = task.loss_fn(params, {}, batch, jax.random.key(0), True)
    np.testing.assert_allclose(loss, np.log(10), rtol=1e-6)
    assert float(aux["error_sum"]) == 2 and float(aux["weight_sum"]) == 3
    # Smoothing (0.1) applies in training only: a head biased to class 3 separates the two.
    bias = np.zeros(10, np.float32)
    bias[3] = 10.0
    params = {**params, "head": {**params["head"], "bias": jnp.asarray(bias)}}
    log_p = jax.nn.log_softmax(jnp.asarray(bias))
    smooth = (1 - 0.1) * labels + 0.1 / 10
    expect = {True: -(smooth * log_p).sum(-1), False: -(labels * log_p).sum(-1)}
    for train in (True, False):
        loss, (aux, _) = task.loss_fn(params, {}, batch, None, train)
        np.testing.assert_allclose(loss, expect[train][:3].mean(), rtol=1e-5)
        assert float(aux["error_sum"]) == 1  # only the row labelled 0


@needs_fashion
def test_fashion_mnist_splits_and_augmentation():
    train, valid, test = (fashion_mnist.load(s) for s in ("train", "valid", "test"))
    assert [len(x[0]) for x in (train, valid, test)] == [55_000, 5_000, 10_000]
    assert set(np.unique(test[1])) == set(range(10))
    x, y = fashion_mnist.train_batch(*train, step=3, seed=1, batch_size=16)
    x2, _ = fashion_mnist.train_batch(*train, step=3, seed=1, batch_size=16)
    assert x.shape == (16, 28, 28, 1) and x.dtype == np.float32 and y.shape == (16,)
    np.testing.assert_array_equal(x, x2)  # a pure function of (seed, step)
    assert abs(float(fashion_mnist.normalise(train[0][:2000]).mean())) < 0.1


def test_fashion_mnist_augment_shifts_and_flips():
    image = np.arange(28 * 28, dtype=np.uint8).reshape(1, 28, 28)

    class Fixed:  # dy = dx = SHIFT (no translation), then flip
        def integers(self, lo, hi, size):
            return np.full(size, fashion_mnist.SHIFT)

        def random(self, n):
            return np.zeros(n)

    np.testing.assert_array_equal(fashion_mnist.augment(image, Fixed())[0], image[0, :, ::-1])
    out = fashion_mnist.augment(np.repeat(image, 50, 0), np.random.default_rng(0))
    assert out.shape == (50, 28, 28) and len({o.tobytes() for o in out}) > 10


def test_missing_fashion_mnist_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="apt-get install dataset-fashion-mnist"):
        fashion_mnist.load("train", str(tmp_path))


# ------------------------------------------------------------------ ImageNet augmentation ops


def _image(h=40, w=48, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_colour_ops_match_pil():
    from PIL import Image, ImageOps

    from laser.data import imagenet

    img = _image()
    low = (img // 2 + 40).astype(np.uint8)  # a narrow range so autocontrast has work to do
    pil = Image.fromarray
    np.testing.assert_array_equal(imagenet.invert(tf.constant(img)), ImageOps.invert(pil(img)))
    np.testing.assert_array_equal(
        imagenet.posterize(tf.constant(img), 4), ImageOps.posterize(pil(img), 4)
    )
    np.testing.assert_array_equal(
        imagenet.solarize(tf.constant(img), 128), ImageOps.solarize(pil(img), 128)
    )
    np.testing.assert_array_equal(imagenet.equalize(tf.constant(low)), ImageOps.equalize(pil(low)))
    got = imagenet.autocontrast(tf.constant(low)).numpy().astype(int)
    assert np.abs(got - np.asarray(ImageOps.autocontrast(pil(low)), int)).max() <= 1


def test_geometric_ops():
    from laser.data import imagenet

    img = tf.constant(_image())
    np.testing.assert_array_equal(imagenet.rotate(img, 0.0), img)
    np.testing.assert_array_equal(imagenet.rotate(imagenet.rotate(img[:40, :40], 90.0), -90.0),
                                  img[:40, :40])  # fmt: skip
    moved = imagenet.translate_x(img, 5.0).numpy()
    np.testing.assert_array_equal(moved[:, 5:], img.numpy()[:, :-5])
    assert (moved[:, :5] == imagenet.FILL).all()
    cut = imagenet.cutout(img, 4, tf.constant([1, 2])).numpy()
    assert (cut == imagenet.FILL).all(-1).sum() >= 16


def test_randaugment_crops_and_mixup():
    from laser.data import imagenet

    img = tf.constant(_image(64, 80))
    a = imagenet.randaugment(img, tf.constant([3, 4]), 2, 10)
    b = imagenet.randaugment(img, tf.constant([3, 4]), 2, 10)
    assert a.dtype == tf.uint8 and a.shape == img.shape
    np.testing.assert_array_equal(a, b)  # stateless: same seed, same result
    changed = [
        not np.array_equal(imagenet.randaugment(img, tf.constant([s, 0])), img) for s in range(20)
    ]
    assert 5 <= sum(changed) < 20  # ops apply with probability 0.2-0.8 per layer
    crop = imagenet.inception_crop(img, tf.constant([1, 2]), 32)
    assert crop.shape == (32, 32, 3) and crop.dtype == tf.float32
    flat = tf.constant(np.tile(np.arange(80, dtype=np.uint8), (64, 1))[..., None].repeat(3, -1))
    centre = imagenet.center_crop(flat, 56, 0.875).numpy()  # 56 of 64: columns 12..67
    assert centre.shape == (56, 56, 3) and abs(centre[0, 0, 0] - 12) < 1.5
    images = tf.constant(
        np.arange(4, dtype=np.float32)[:, None, None, None] * np.ones((4, 2, 2, 3), np.float32)
    )
    labels = tf.one_hot([0, 1, 2, 3], 4)
    mixed, soft = imagenet.mixup(images, labels, tf.constant([0, 1]), 0.2)
    lam = float(soft[1, 1])
    assert 0 <= lam <= 1 and np.allclose(tf.reduce_sum(soft, -1), 1.0)
    np.testing.assert_allclose(soft[1, 0], 1 - lam, atol=1e-6)  # row 1 mixed with row 0
    np.testing.assert_allclose(mixed[1, 0, 0, 0], lam * 1 + (1 - lam) * 0, atol=1e-5)


# ------------------------------------------------------------------------ end-to-end runs


@needs_fashion
@pytest.mark.parametrize("variant", ["standard", "laser-qknorm-perdim-temp"])
def test_tiny_profile_runs_3_steps(tmp_path, variant):
    extra = []
    if variant != "standard":
        extra = ["--config.model.attention.kind=laser", "--config.model.attention.qk_norm=true"]
        extra += ["--config.model.attention.per_dim_scale=true"]
        extra += ["--config.model.attention.temperature=2.0"]
    args = ["--config", f"{CONFIG}:tiny", "--workdir", str(tmp_path)]
    assert main.main(args + QUICK + extra) == 0
    status = records.read_status(tmp_path)
    assert status["status"] == "done" and status["step"] == 3
    assert set(status["final"]) == {
        f"{s}/{m}" for s in ("train", "valid", "test") for m in ("loss", "error")
    }
    assert all(0 <= status["final"][f"{s}/error"] <= 1 for s in ("train", "valid", "test"))


def test_paper_model_runs_3_steps_on_mocked_imagenet(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    small = [
        "--config.data.image_size=32",
        "--config.data.batch_size=4",
        "--config.data.eval_batch_size=4",
        "--config.data.train_eval_size=8",
        "--config.mesh.fsdp=1",
    ]
    with tfds.testing.mock_data(num_examples=16):
        args = ["--config", f"{CONFIG}:paper,attention=laser", "--workdir", str(tmp_path)]
        assert main.main(args + QUICK + small) == 0
    status = records.read_status(tmp_path)
    assert status["status"] == "done"
    assert {"valid/error", "test/error", "train/error"} <= set(status["final"])
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model"]["variant"] == "S/16" and config["data"]["name"] == "imagenet"


@pytest.mark.parametrize(
    "override, needle",
    [
        ("--config.data.name=cifar", "data.name='cifar'"),
        ("--config.model.variant=S/15", "data.image_size"),
        ("--config.model.variant=Z/4", "model.variant='Z/4'"),
        ("--config.train.label_smoothing=1.5", "train.label_smoothing"),
    ],
)
def test_bad_config_exits_2(tmp_path, capsys, override, needle):
    args = ["--config", f"{CONFIG}:tiny", "--workdir", str(tmp_path / "w"), override]
    assert main.main(args) == 2
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "w").exists()


# ------------------------------------------------------------------------- sweeps and table


def test_table4_sweep_has_8_variants_x_3_seeds(monkeypatch):
    from analysis import paper

    monkeypatch.delenv(table4.HPARAMS_ENV, raising=False)
    sweep = table4.sweep("tiny")
    assert sweep.name == "table4" and sweep.metric == "valid/error"
    assert len(sweep.trials) == 24 and set(table4.ROWS) == set(paper.TABLE_4["rows"])
    by_name = {t.name: dict(t.overrides) for t in sweep.trials}
    assert by_name["laser-qknorm-seed2"] == {
        "model.attention.kind": "laser",
        "model.attention.qk_norm": True,
        "train.seed": 2,
    }
    assert by_name["softmax-temp-seed0"]["model.attention.temperature"] == table4.TEMPERATURE


def test_table4_takes_the_best_search_trial(tmp_path, monkeypatch):
    best = tmp_path / "best.json"
    overrides = {"optim.learning_rate": 0.003, "train.seed": 9, "train.label_smoothing": 0.2}
    best.write_text(json.dumps({"best": {"overrides": overrides}}))
    monkeypatch.setenv(table4.HPARAMS_ENV, str(best))
    sweep = table4.sweep("tiny")
    assert sweep.name == "table4-tuned"
    trial = dict(sweep.trials[0].overrides)
    assert trial["optim.learning_rate"] == 0.003 and trial["train.seed"] == 0
    assert trial["train.label_smoothing"] == 0.2
    monkeypatch.setenv(table4.HPARAMS_ENV, str(tmp_path / "nope.json"))
    with pytest.raises(ConfigError, match="VIT_HPARAMS"):
        table4.sweep("tiny")


def test_vit_search_draws_table8_trials():
    paper, tiny = vit_search.sweep("paper"), vit_search.sweep("tiny")
    assert len(paper.trials) == 50 and len(tiny.trials) == vit_search.TRIALS["tiny"]
    assert paper.metric == "valid/error"
    # AlgoPerf's first 8 Halton points are among its first 50: the tiny search is a subset.
    assert {t.overrides for t in tiny.trials} <= {t.overrides for t in paper.trials}
    for trial in paper.trials:
        o = dict(trial.overrides)
        assert 1e-4 <= o["optim.learning_rate"] <= 1e-2 and o["model.dropout_rate"] == 0.1
        cfg = configs.load(f"{CONFIG}:tiny", [f"{k}={v}" for k, v in trial.overrides])
        assert cfg.optim.warmup_factor == 0.05  # every key exists in the config


def test_render_table4_from_run_records(tmp_path, monkeypatch):
    from analysis import vision

    monkeypatch.delenv(table4.HPARAMS_ENV, raising=False)
    base = tmp_path / "runs" / "table4-tiny"
    values = {"softmax": 0.20, "laser": 0.18}
    for kind, err in values.items():
        for seed in table4.SEEDS:
            final = {f"{s}/error": err + 0.01 * seed for s in ("valid", "test", "train")}
            records.set_status(base / f"{kind}-seed{seed}", "done", step=3, final=final)
    records.set_status(base / "laser-temp-seed0", "diverged", step=2)
    path = vision.render_table4("tiny", tmp_path / "runs", tmp_path / "out")
    text = path.read_text()
    assert "25.32" in text and "24.17" in text  # the paper's numbers come from analysis.paper
    assert "21.000 ± 1.000 (n=3)" in text and "19.000 ± 1.000 (n=3)" in text
    assert "seed 0 diverged" in text and "missing" in text
    assert "-9.52%" in text  # (0.19 / 0.21 - 1) for Standard vs LASER
    assert (tmp_path / "out" / "table4.csv").read_text().count("\n") == 8 + 4 + 1
