"""Conformer / CTC (Table 5): front end, model, decoding and WER on hand-checked examples,
BatchNorm state in the trainer, 3-step runs (tiny synthetic speech; paper model on mocked
tfds librispeech), the sweeps and the table renderer."""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from laser import configs, main, records
from laser.data import synth_speech
from laser.nn import speech_frontend as fe
from laser.nn.conformer import MaskedBatchNorm, spec_augment
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


def _runs(mask):
    """Lengths of the runs of True in a 1-d boolean array."""
    edges = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    return np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)


def test_spec_augment_masks_bands_and_short_spans():
    # 32 utterances of 200 valid frames, then 32 with only the first 100 valid.
    feats = jnp.ones((64, 200, 80))
    pad = jnp.zeros((64, 200)).at[32:, 100:].set(1.0)
    out = np.asarray(spec_augment(jax.random.key(0), feats, pad))
    bins = (out == 0).all(axis=1)  # [B, F] masked frequency bins
    frames = (out == 0).all(axis=2)  # [B, T] masked time frames
    # Masks are applied (a no-op fails here) and zero whole bands / spans, nothing else.
    assert np.all(bins.sum(axis=1) > 0) and np.all(frames.sum(axis=1) > 0)
    np.testing.assert_array_equal(out == 0, bins[:, None, :] | frames[:, :, None])
    assert set(np.unique(out)) == {0.0, 1.0}
    # 2 bands of < 27 bins; 10 spans of <= 5% of the valid frames: 10 of 200, 5 of 100.
    for b in range(64):
        max_width = 10 if b < 32 else 5
        assert len(_runs(bins[b])) <= 2 and bins[b].sum() <= 2 * 27
        assert len(_runs(bins[b])) == 1 or _runs(bins[b]).max() <= 27  # 1 run: maybe 2 merged
        assert len(_runs(frames[b])) <= 10 and frames[b].sum() <= 10 * max_width
    assert not frames[32:, 100:].any()  # spans of padded utterances lie in their valid frames
    # Widths are floor(u * max) as AlgoPerf's SpecAug, (max - 1) / 2 a mask on average (less
    # overlaps): the limits are used, not smaller ones (2 x 13 bins, 10 x 4.5 and 10 x 2 frames;
    # no 40-frame cap under AlgoPerf's dynamic rule).
    assert 22 <= bins.sum(axis=1).mean() <= 27
    assert 35 <= frames[:32].sum(axis=1).mean() <= 50
    assert 17 <= frames[32:].sum(axis=1).mean() <= 25
    # Drawn per utterance and per rng.
    assert len({row.tobytes() for row in bins}) > 32
    assert not np.array_equal(out, np.asarray(spec_augment(jax.random.key(1), feats, pad)))


def test_masked_batch_norm_ignores_padded_frames():
    bn = MaskedBatchNorm(momentum=0.0)
    x = jnp.concatenate([jnp.ones((1, 4, 3)), 100 * jnp.ones((1, 2, 3))], axis=1)
    pad = jnp.array([[0, 0, 0, 0, 1, 1]], jnp.float32)
    v = bn.init(jax.random.key(0), x, pad, True)
    _, new = bn.apply(v, x, pad, True, mutable=["batch_stats"])
    assert np.allclose(new["batch_stats"]["mean"], 1.0) and np.allclose(
        new["batch_stats"]["var"], 0
    )


def test_masked_batch_norm_starts_as_identity_scale_and_zeroes_padded_frames():
    # AlgoPerf's BatchNorm stores its scale as an offset from 1 (zeros at init).
    bn = MaskedBatchNorm(momentum=0.0)
    x = jnp.arange(12.0).reshape(1, 6, 2)
    pad = jnp.array([[0, 0, 0, 0, 1, 1]], jnp.float32)
    v = bn.init(jax.random.key(0), x, pad, True)
    assert np.all(v["params"]["scale"] == 0)
    y = np.asarray(bn.apply(v, x, pad, True, mutable=["batch_stats"])[0])
    assert np.all(y[0, 4:] == 0)
    np.testing.assert_allclose(y[0, :4].mean(axis=0), 0.0, atol=1e-6)


def test_greedy_decoding_merges_repeats_drops_blanks_and_padding():
    frames = np.array([[0, 3, 3, 0, 3, 4, 4, 0, 5], [7, 7, 0, 0, 8, 8, 8, 9, 9]])
    pad = np.array([[0] * 9, [0] * 6 + [1] * 3])
    assert greedy_decode(frames, pad) == [[3, 3, 4, 5], [7, 8]]


def test_word_edits_count_substitutions_deletions_insertions():
    # "the cat sat" -> "the bat sat down": 1 substitution + 1 insertion; "to be" -> "": 2 deletions
    assert word_edits(["the cat sat", "to be"], ["the bat sat down", ""]) == (4, 5)
    assert word_edits(["a b"], ["a b"]) == (0, 2)


def test_wer_of_a_decoded_batch_is_edits_over_reference_words():
    from types import SimpleNamespace

    from laser.train.trainer import _ratios

    vocab = synth_speech.CharVocab()
    ref, hyp = "the cat sat on a mat", "the bat sat on mat"  # 1 substitution + 1 deletion, 6 words
    # CTC frames of hyp: each label twice then a blank (merged and dropped by greedy decoding),
    # then padded frames holding labels that must be ignored.
    frames = [i for c in vocab.encode(hyp) for i in (c, c, 0)]
    valid = len(frames)
    frames += vocab.encode("zzz")
    n = len(frames)
    batch = {
        "targets": np.array([vocab.encode(ref), vocab.encode("xx" * 10)], np.int32),
        "target_paddings": np.zeros((2, 20), np.float32),
        "weights": np.array([1.0, 0.0], np.float32),  # the second row is filler: not counted
    }
    aux = {
        "frames": np.array([frames, frames]),
        "frame_paddings": np.array([[0] * valid + [1] * (n - valid)] * 2),
    }
    task = SimpleNamespace(vocab=vocab)  # host_sums needs only the vocabulary
    sums = CTCTask.host_sums(task, aux, batch)
    assert sums == {"wer_sum": 2.0, "wer_count": 6.0}
    assert _ratios({**sums, "weight_sum": 1.0})["wer"] == pytest.approx(2 / 6)


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
    for split in ("valid", "test", "train"):  # WER's value: test_wer_of_a_decoded_batch_is_...
        wer = final[f"{split}/wer"]
        assert np.isfinite(wer) and wer >= 0 and np.isfinite(final[f"{split}/ctc_loss"])
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
