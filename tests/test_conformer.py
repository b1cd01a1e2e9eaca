"""Conformer / CTC (Table 5): front end, model, decoding and WER on hand-checked examples,
BatchNorm state in the trainer, 3-step runs (tiny synthetic speech; paper model on mocked
tfds librispeech), the sweeps and the table renderer."""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from laser import configs, main
from laser.data import speech_frontend as fe
from laser.data import synth_speech
from laser.nn.conformer import Conformer, MaskedBatchNorm, count_params, spec_augment
from laser.train import records
from laser.train.ctc import CTCTask, greedy_decode, word_edits

ROOT = Path(__file__).resolve().parents[1]
CONFIG = str(ROOT / "experiments/conformer_librispeech/config.py")
QUICK = [
    "--config.train.steps=3",
    "--config.train.log_every=1",
    "--config.train.eval_every=3",
    "--config.train.checkpoint_every=3",
    "--config.train.progress=false",
]
SMALL_SYNTH = [
    "--config.data.train_size=24",
    "--config.data.eval_size=6",
    "--config.data.batch_size=4",
]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LASER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_mel_filters_cover_125_to_7600_hz_and_a_tone_lands_in_its_bin():
    m = fe.mel_matrix()
    assert m.shape == (257, 80)
    hz = np.arange(257) * 16000 / 512
    used = hz[m.sum(axis=1) > 0]
    assert 125 <= used.min() < 160 and 7550 < used.max() <= 7600
    t = np.arange(16000) / 16000
    tone = jnp.asarray(0.5 * np.sin(2 * np.pi * 1000 * t)[None], jnp.float32)
    pad = jnp.zeros_like(tone).at[:, 8000:].set(1.0)  # second half padded
    feats, frame_pad = fe.log_mel(tone, pad)
    assert feats.shape == (1, fe.num_frames(16000), 80) == (1, 98, 80)
    assert int((frame_pad[0] == 0).sum()) == fe.num_frames(8000) == 48
    assert np.all(np.asarray(feats)[0, 48:] == 0)
    raw, _ = fe.raw_log_mel(tone, pad)
    peak = int(np.argmax(np.asarray(raw)[0, 10]))
    assert m[np.argmin(np.abs(hz - 1000)), peak] == m[np.argmin(np.abs(hz - 1000))].max()


def test_spec_augment_masks_bands_and_short_spans():
    feats = jnp.ones((2, 200, 80))
    pad = jnp.zeros((2, 200)).at[1, 100:].set(1.0)
    out = np.asarray(spec_augment(jax.random.key(0), feats, pad))
    masked_bins = (out == 0).all(axis=1).sum(axis=1)
    assert np.all(masked_bins <= 2 * 27)
    masked_frames = (out == 0).all(axis=2).sum(axis=1)
    assert masked_frames[0] <= 10 * 10 and masked_frames[1] <= 10 * 5  # 5% of 200 / 100 frames


def test_masked_batch_norm_ignores_padded_frames():
    bn = MaskedBatchNorm(momentum=0.0)
    x = jnp.concatenate([jnp.ones((1, 4, 3)), 100 * jnp.ones((1, 2, 3))], axis=1)
    pad = jnp.array([[0, 0, 0, 0, 1, 1]], jnp.float32)
    v = bn.init(jax.random.key(0), x, pad, True)
    _, new = bn.apply(v, x, pad, True, mutable=["batch_stats"])
    assert np.allclose(new["batch_stats"]["mean"], 1.0) and np.allclose(
        new["batch_stats"]["var"], 0
    )


def test_paper_model_has_algoperfs_layout_parameter_count():
    from experiments.conformer_librispeech.config import STATED_PARAMS

    x = jnp.zeros((1, 16000))
    v = jax.eval_shape(lambda r: Conformer().init(r, x, x), jax.random.key(0))
    n = sum(int(np.prod(a.shape)) for a in jax.tree.leaves(v["params"]))
    assert n == count_params(512, 8, 4, 1024) == STATED_PARAMS["paper"]
    assert set(v) == {"params", "batch_stats"}


def test_greedy_decoding_merges_repeats_drops_blanks_and_padding():
    frames = np.array([[0, 3, 3, 0, 3, 4, 4, 0, 5], [7, 7, 0, 0, 8, 8, 8, 9, 9]])
    pad = np.array([[0] * 9, [0] * 6 + [1] * 3])
    assert greedy_decode(frames, pad) == [[3, 3, 4, 5], [7, 8]]


def test_word_edits_count_substitutions_deletions_insertions():
    # "the cat sat" -> "the bat sat down": 1 substitution + 1 insertion; "to be" -> "": 2 deletions
    assert word_edits(["the cat sat", "to be"], ["the bat sat down", ""]) == (4, 5)
    assert word_edits(["a b"], ["a b"]) == (0, 2)


def test_char_vocab_round_trip_and_normalisation():
    v = synth_speech.CharVocab()
    text = synth_speech.normalize("O, 'tis the Queen's  Man!")
    assert text == "o tis the queen's man"
    assert v.decode(v.encode(text)) == text and 0 not in v.encode(text) and v.size == 29


def test_espeak_synthesis_is_speech_length_audio():
    from laser.data import espeak

    a = espeak.synthesize("to be or not to be", "en-us", 175, 50)
    assert espeak.sample_rate() == 22050 and a.dtype == np.int16
    assert 0.8 < len(a) / 22050 < 3.0 and np.abs(a).max() > 1000


def test_synthetic_corpus_is_cached_deterministic_and_splits_texts(cache):
    spec = dict(
        seed=0,
        sizes={"train": 6, "valid": 3, "test": 3},
        min_words=2,
        max_words=4,
        max_chars=30,
        max_samples=32000,
    )
    first = synth_speech.corpus(spec)
    files = list(cache.glob("synth_speech_*.npz"))
    assert len(files) == 1
    files[0].unlink()
    again = synth_speech.corpus(spec)  # regenerated from scratch: identical
    for s in synth_speech.SPLITS:
        assert first[s]["text"] == again[s]["text"] and len(first[s]["text"]) == spec["sizes"][s]
        assert all(
            np.array_equal(a, b) for a, b in zip(first[s]["audio"], again[s]["audio"], strict=True)
        )
    assert not set(first["test"]["text"]) & set(synth_speech.lines("train", 2, 4, 30))


def test_batch_stats_are_carried_through_the_train_step(cache):
    from laser.train.optim import make_optimizer
    from laser.train.trainer import make_train_step

    config = configs.load(f"{CONFIG}:tiny", [a[len("--config.") :] for a in SMALL_SYNTH])
    config.data.real_test = False
    task = CTCTask(config)
    batch = task.train_batch(0)
    variables = task.model.init(jax.random.key(0), *task.model_inputs(batch))
    opt, lr = make_optimizer(config.optim, 10)
    state = {
        "step": jnp.zeros([], jnp.int32),
        "params": variables["params"],
        "opt_state": opt.init(variables["params"]),
        "model_state": {"batch_stats": variables["batch_stats"]},
    }
    step = jax.jit(make_train_step(task.loss_fn, opt, lr, jax.random.key(1)))
    new, metrics = step(state, batch)
    before = jax.tree.leaves(state["model_state"])
    after = jax.tree.leaves(new["model_state"])
    assert np.isfinite(float(metrics["loss"]))
    assert any(not np.allclose(a, b) for a, b in zip(before, after, strict=True))


@pytest.mark.parametrize("variant", ["attention=softmax", "attention=laser,qk_norm=true"])
def test_tiny_profile_runs_3_steps(tmp_path, cache, variant):
    args = ["--config", f"{CONFIG}:tiny,{variant}", "--workdir", str(tmp_path / "run")]
    assert main.main(args + QUICK + SMALL_SYNTH) == 0
    status = records.read_status(tmp_path / "run")
    assert status["status"] == "done" and status["step"] == 3
    final = status["final"]
    for split in ("valid", "test", "train"):
        assert 0.0 <= final[f"{split}/wer"] and np.isfinite(final[f"{split}/ctc_loss"])
    if synth_speech.real_recordings() is not None:
        assert "real/wer" in final
    assert np.isfinite(final["train/loss"])


def test_paper_model_trains_3_steps_on_mocked_librispeech(tmp_path, cache):
    tfds = pytest.importorskip("tensorflow_datasets")
    # The paper model (d 512, 8 heads, vocab 1024) with 2 of its 4 layers, 1 s of audio and a
    # batch of 2: the full 4 layers at 20 s x 256 do not fit a CPU test.
    overrides = [
        "--config.model.num_layers=2",
        "--config.data.batch_size=2",
        "--config.data.max_audio=16000",
        "--config.data.max_target=32",
        "--config.train.eval_batches=1",
    ]
    args = ["--config", f"{CONFIG}:paper", "--workdir", str(tmp_path / "run")]
    with tfds.testing.mock_data(num_examples=8):
        assert main.main(args + QUICK + overrides) == 0
    status = records.read_status(tmp_path / "run")
    assert status["status"] == "done"
    assert {"valid/wer", "test/wer", "train/wer"} <= set(status["final"])


def test_bad_dataset_is_one_line_exit_2(tmp_path, capsys):
    args = ["--config", f"{CONFIG}:tiny", "--workdir", str(tmp_path / "w")]
    assert main.main(args + ["--config.data.name=timit"]) == 2
    err = capsys.readouterr().err.strip()
    assert "data.name='timit'" in err and "synth_speech, librispeech" in err and "\n" not in err
    assert not (tmp_path / "w").exists()


def test_table5_sweep_has_six_variants_by_three_seeds_with_valid_overrides():
    from sweeps import conformer_search, table5

    s = table5.sweep("tiny")
    assert s.name == "table5" and s.metric == "valid/wer" and len(s.trials) == 18
    search = conformer_search.sweep("tiny")
    assert len(search.trials) == 50 and search.metric == "valid/wer"
    for trial in (*s.trials, *search.trials):
        configs.load(f"{CONFIG}:{trial.profile}", [f"{k}={v}" for k, v in trial.overrides])


def test_table5_renders_paper_values_ours_and_missing(tmp_path):
    from analysis.speech import render_table5
    from sweeps import table5

    base = tmp_path / "runs" / "table5-tiny"
    for prefix, wer in (("standard", 0.5), ("laser", 0.4)):
        for seed in table5.SEEDS:
            final = {f"{s}/wer": wer + 0.01 * seed for s in ("valid", "test", "train")}
            records.write_json(
                base / f"{prefix}-seed{seed}" / "status.json",
                {"status": "done", "step": 1, "final": final},
            )
    path = render_table5("tiny", tmp_path / "runs", tmp_path / "out")
    text = path.read_text()
    assert "0.083192" in text and "0.080837" in text  # paper: Standard, LASER + QK-Norm valid
    assert "0.510 ± 0.010 (n=3)" in text and "0.410 ± 0.010 (n=3)" in text
    assert "-19.61%" in text  # LASER vs standard, valid: 0.41 / 0.51 - 1
    assert "missing" in text
    rows = (tmp_path / "out" / "table5.csv").read_text().splitlines()
    assert len(rows) == 7 and json.dumps("LASER")[1:-1] in rows[4]
