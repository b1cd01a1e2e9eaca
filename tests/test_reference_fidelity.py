"""Reference facts, pinned as numbers read off the reference code itself (project issue 17).

Each number below was obtained by running the reference repository's own code (AlgoPerf
mlcommons/algorithmic-efficiency at 2c90454f: models instantiated with jax.eval_shape, the
NAdamW submission stepped on fixed gradients, algoperf/halton.py evaluated; paxml/praxis
read), never by our own formulas, so that a change of ours cannot drift from the reference
silently. The per-model tables are in each experiment's README ("Reference fidelity").
Shapes only (jax.eval_shape) or tiny inits: no training.
"""

from __future__ import annotations

import collections

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from laser.nn import vit
from laser.nn.conformer import Conformer, MaskedBatchNorm
from laser.train.optim import clip_update_rms, make_optimizer
from sweeps import spec, table8


def _shapes(params) -> dict[tuple[int, ...], int]:
    return dict(collections.Counter(tuple(a.shape) for a in jax.tree.leaves(params)))


# AlgoPerf librispeech_conformer (librispeech_jax/models.py, ConformerConfig defaults):
# parameter count and the multiset of leaf shapes of its "params" tree.
ALGOPERF_CONFORMER_PARAMS = 32_321_792
ALGOPERF_CONFORMER_BATCH_STATS = 4_096
ALGOPERF_CONFORMER_SHAPES = {
    (3, 3, 1, 512): 1,
    (3, 3, 512, 512): 1,
    (10240, 512): 1,
    (5, 1, 512): 4,  # depthwise conv kernels; no bias
    (8, 64): 12,
    (512, 8, 64): 12,
    (8, 64, 512): 4,
    (64,): 4,  # QueryScaler
    (512,): 77,
    (512, 512): 12,  # GLU as two Dense(512) + the conv module's output Dense
    (512, 2048): 8,
    (2048,): 8,
    (2048, 512): 8,
    (512, 1024): 1,
    (1024,): 1,
}
# AlgoPerf imagenet_vit (imagenet_jax/models.py, S/16, 1000 classes).
ALGOPERF_VIT_PARAMS = 22_122_472
ALGOPERF_VIT_SHAPES = {
    (16, 16, 3, 384): 1,
    (384,): 76,
    (6, 64): 36,
    (384, 6, 64): 36,
    (6, 64, 384): 12,
    (384, 1536): 12,
    (1536,): 12,
    (1536, 384): 12,
    (384, 384): 1,
    (384, 1000): 1,
    (1000,): 1,
}


def test_conformer_parameter_tree_is_algoperfs():
    x = jnp.zeros((1, 16000))
    v = jax.eval_shape(lambda r: Conformer().init(r, x, x), jax.random.key(0))
    n = sum(int(np.prod(a.shape)) for a in jax.tree.leaves(v["params"]))
    assert n == ALGOPERF_CONFORMER_PARAMS
    assert _shapes(v["params"]) == ALGOPERF_CONFORMER_SHAPES
    assert sum(int(np.prod(a.shape)) for a in jax.tree.leaves(v["batch_stats"])) == 4096
    from experiments.conformer_librispeech.config import STATED_PARAMS

    assert STATED_PARAMS["paper"] == ALGOPERF_CONFORMER_PARAMS


def test_conformer_norm_scales_are_offsets_from_one_and_kernels_xavier():
    # AlgoPerf's LayerNorm and BatchNorm: scale initialised to 0, applied as (1 + scale);
    # every Dense/Conv kernel xavier-uniform, every bias 0. Checked on a small model.
    model = Conformer(vocab_size=8, dim=16, num_heads=2, num_layers=1)
    x = jnp.zeros((1, 4000))
    params = jax.jit(model.init)(jax.random.key(0), x, x)["params"]
    flat = {jax.tree_util.keystr(k): a for k, a in jax.tree_util.tree_flatten_with_path(params)[0]}
    for name, a in flat.items():
        if name.endswith("['scale']") or name.endswith("['bias']"):
            assert np.all(np.asarray(a) == 0), name
    depthwise = [k for k in flat if "depthwise" in k]
    assert depthwise == ["['block_0']['ConvModule_0']['depthwise']['kernel']"]
    k = np.asarray(params["block_0"]["ffn_in"]["Dense_0"]["kernel"])  # [16, 64]
    assert np.abs(k).max() <= np.sqrt(6 / (16 + 64))
    assert np.abs(k).max() > 0.9 * np.sqrt(6 / (16 + 64))  # xavier's bound, not lecun's std
    bn = MaskedBatchNorm()
    v = bn.init(jax.random.key(0), jnp.ones((1, 3, 4)), jnp.zeros((1, 3)), False)
    assert np.all(v["params"]["scale"] == 0)


def test_vit_parameter_tree_and_positions_are_algoperfs():
    model = vit.ViT(num_classes=1000, **vit.decode_variant("S/16"))
    v = jax.eval_shape(lambda r: model.init(r, jnp.ones((1, 224, 224, 3))), jax.random.key(0))
    assert vit.param_count(model, 224) == ALGOPERF_VIT_PARAMS
    assert _shapes(v["params"]) == ALGOPERF_VIT_SHAPES
    # posemb_sincos_2d(14, 14, 384) of AlgoPerf at (token, feature) positions.
    pe = vit.posemb_sincos_2d(14, 14, 384)
    expected = {(15, 1): 0.78802883, (15, 100): 0.77848655, (195, 200): -0.29329777}
    for (t, f), value in expected.items():
        assert pe[t, f] == pytest.approx(value, abs=1e-6)


def _nadamw_config() -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict(
        dict(
            name="nadamw",
            learning_rate=1e-2,
            one_minus_beta1=0.1,
            b2=0.99,
            eps=1e-8,
            weight_decay=0.1,
            weight_decay_mask="all",
            warmup_factor=0.1,
            grad_clip=0.0,
        )
    )


def test_nadamw_schedule_and_updates_equal_algoperfs_baseline():
    # AlgoPerf's jax_nadamw_full_budget.py with learning_rate 1e-2, warmup_factor 0.1,
    # step_hint 100, one_minus_beta1 0.1, beta2 0.99, weight_decay 0.1.
    opt, lr = make_optimizer(_nadamw_config(), 100)
    expected = {0: 0.0, 5: 0.005, 10: 0.01, 55: 0.005, 99: 3.0457972570729908e-06, 100: 0.0}
    for step, value in expected.items():
        assert float(lr(step)) == pytest.approx(value, rel=1e-5, abs=1e-9)
    params = {"w": jnp.array([1.0, -2.0])}
    state = opt.init(params)
    grads = ([0.5, -0.25], [1.0, 0.5], [-0.3, 0.2], [0.1, 0.1], [0.7, -0.9], [0.2, 0.3])
    for g in grads:
        updates, state = opt.update({"w": jnp.array(g)}, state, params)
        params = optax.apply_updates(params, updates)
    np.testing.assert_allclose(params["w"], [0.9881252646446228, -1.998762607574463], rtol=1e-6)


def test_halton_points_are_algoperfs():
    # algoperf/halton.py generate_sequence(50, 7, shuffle_sequence=False) (skip 100).
    points = spec.algoperf_halton_points(50, 7)
    assert points[0] == pytest.approx(
        [0.648493533117636, 0.7565722923221863, 0.3641415259118679, 0.6914475933545885,
         0.13714606964468423, 0.2739744372653363, 0.28612427728381884],
        abs=1e-12,
    )  # fmt: skip
    assert points[49][0] == pytest.approx(0.04659279394128979, abs=1e-12)
    # generate_search on the Table 8 space (AlgoPerf's JSON order), before its shuffle.
    trials = spec.halton(table8.SPACE, 50, seed=0)
    first = {
        "optim.learning_rate": 0.0019814680146414726,
        "optim.one_minus_beta1": 0.07758862577375368,
        "optim.b2": 0.99,
        "optim.warmup_factor": 0.05,
        "optim.weight_decay": 0.010340635370188849,
        "train.label_smoothing": 0.1,
        "model.dropout_rate": 0.1,
    }
    assert any(t == pytest.approx(first, rel=1e-12) for t in trials)
    counts = collections.Counter(t["optim.b2"] for t in trials)
    assert counts == {0.9: 21, 0.999: 17, 0.99: 12}
    assert collections.Counter(t["train.label_smoothing"] for t in trials) == {0.2: 26, 0.1: 24}


def test_c4_paper_profile_has_paxs_c4_adam_settings():
    # paxml/tasks/lm/params/c4.py (C4SpmdAdam <- TransformerLmSpmdAdam) and model_params.py:
    # warmup 4000, global-norm clip 5.0, Adam clip_threshold 1.0; praxis LayerNorm eps 1e-6.
    from experiments.c4_lm.config import get_config

    c = get_config("paper-301m")
    assert (c.optim.warmup_steps, c.optim.grad_clip, c.optim.update_clip) == (4000, 5.0, 1.0)
    assert c.model.vocab_size == 32_000  # PAX: 32,128 rows (README: recorded deviation)
    # praxis sharded_adam's capping: a tensor's update divided by max(1, rms / threshold).
    capped, _ = clip_update_rms(1.0).update({"a": jnp.full((4,), 2.0), "b": jnp.ones(3) / 2}, None)
    np.testing.assert_allclose(capped["a"], 1.0)
    np.testing.assert_allclose(capped["b"], 0.5)
    assert nn.LayerNorm().epsilon == 1e-6  # the LM's LayerNorms (flax defaults)


def test_spec_augment_time_masks_follow_algoperfs_dynamic_rule():
    # AlgoPerf's SpecAug (use_dynamic_time_mask_max_frames=True, its default) discards the
    # 40-frame cap: on 2,000 valid frames a span may reach 5% = 100 frames.
    from laser.nn.conformer import spec_augment

    out = np.asarray(spec_augment(jax.random.key(0), jnp.ones((8, 2000, 80)), jnp.zeros((8, 2000))))
    masked = (out == 0).all(axis=2).astype(int)  # [B, T]
    edges = np.diff(np.concatenate([np.zeros((8, 1), int), masked, np.zeros((8, 1), int)], 1))
    runs = [np.flatnonzero(e == -1) - np.flatnonzero(e == 1) for e in edges]
    longest = max(r.max() for r in runs)
    assert 40 < longest <= 2 * 100  # two spans may touch
