"""Language-model data pipelines: Shakespeare text, tokenizers, batches, mocked C4."""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import pytest

from laser.data import batches, shakespeare
from laser.data import tokenizer as tok

SMALL_VOCAB = 512  # the real Shakespeare tokenizer at a size that trains in a few seconds


@pytest.fixture(scope="session")
def shakespeare_tokens() -> dict[str, np.ndarray]:
    """All splits at SMALL_VOCAB, using (and filling) the real cache so reruns are fast."""
    return {split: shakespeare.tokens(split, SMALL_VOCAB) for split in shakespeare.SPLITS}


def _sentences(n: int, seed: int = 0) -> list[str]:
    words = "the king queen lord sweet love death night day fair foul sword crown heart".split()
    rng = random.Random(seed)
    return [" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) for _ in range(n)]


# --- Shakespeare text ---------------------------------------------------------------------


def test_plays_are_clean_plain_text():
    plays = shakespeare.plays()
    assert len(plays) == 38 and list(plays) == sorted(plays)
    for name, text in plays.items():
        assert len(text) > 20_000, name
        # No headings, emphasis, escapes or bracketed directions survive.
        assert not re.search(r"^#|[*_\\\[\]]", text, re.M), name
    hamlet = plays["hamlet"]
    assert hamlet.startswith("BERNARDO:\nWho's there?\n\nFRANCISCO:\n")
    assert "To be, or not to be" in hamlet
    assert "Enter" not in hamlet.split("\n\n")[0]  # the opening direction is gone


def test_clean_markup():
    md = (
        "# Play\n\n## ACT I\n\n### SCENE I. A heath.\n\n_Thunder. Enter two\nWitches_\n\n"
        "**First Witch**  \n_\\[Aside]_  \nWhen shall we\\-- meet?\n\n"
        "**Second Witch**  \n*Exit.*\n\n**ALL**  \n[Within]_  \nFair is foul.\n"
    )
    assert shakespeare.clean(md) == "First Witch:\nWhen shall we-- meet?\n\nALL:\nFair is foul.\n"


def test_split_is_deterministic_disjoint_and_complete():
    names = list(shakespeare.plays())
    split = shakespeare.split_plays(names)
    assert split == shakespeare.split_plays(list(reversed(names)))
    assert split["test"] == ["hamlet", "macbeth", "the-tempest"]
    assert split["valid"] == ["julius-caesar", "twelfth-night"]
    parts = [set(split[s]) for s in shakespeare.SPLITS]
    assert sum(map(len, parts)) == len(names) and set().union(*parts) == set(names)


def test_tokens(shakespeare_tokens):
    sp = shakespeare.tokenizer(SMALL_VOCAB)
    assert sp.vocab_size() == SMALL_VOCAB and sp.eos_id() == tok.EOS_ID == 1
    for split, ids in shakespeare_tokens.items():
        assert ids.dtype == np.int32 and ids.ndim == 1
        # One EOS per play, closing the array.
        assert (ids == tok.EOS_ID).sum() == len(shakespeare.split_plays()[split])
        assert ids[-1] == tok.EOS_ID and ids.min() >= 0 and ids.max() < SMALL_VOCAB
    assert len(shakespeare_tokens["train"]) > 10 * len(shakespeare_tokens["test"])
    assert sp.decode(shakespeare_tokens["test"][:20].tolist()).startswith("BERNARDO: Who")
    np.testing.assert_array_equal(
        shakespeare.tokens("test", SMALL_VOCAB), shakespeare_tokens["test"]
    )


def test_unknown_split():
    with pytest.raises(ValueError, match=r"'dev'.*train, valid, test"):
        shakespeare.tokens("dev", SMALL_VOCAB)


# --- tokenizer ----------------------------------------------------------------------------


def test_tokenizer_training_is_byte_identical(tmp_path):
    plays = shakespeare.plays()
    texts = lambda: (plays[n] for n in ("macbeth", "the-tempest"))
    a = tok.train_or_load("spm", texts, 300, cache_dir=tmp_path / "a")
    b = tok.train_or_load("spm", texts, 300, cache_dir=tmp_path / "b")
    assert (tmp_path / "a" / "spm.model").read_bytes() == (
        tmp_path / "b" / "spm.model"
    ).read_bytes()
    assert a.encode("Fair is foul") == b.encode("Fair is foul")
    assert (a.pad_id(), a.eos_id(), a.unk_id(), a.bos_id()) == (0, 1, 2, -1)
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["spm.model"]  # no temp files left


def test_tokenizer_cache_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("LASER_CACHE", str(tmp_path))
    assert tok.default_cache_dir() == tmp_path
    tok.train_or_load("t", lambda: _sentences(300), 40)

    def fail():
        raise AssertionError("retrained despite a cached model")

    assert tok.train_or_load("t", fail, 40).vocab_size() > 0


# --- batches ------------------------------------------------------------------------------


def test_train_batch_is_pure_function_of_seed_and_step():
    tokens = np.arange(1000, dtype=np.int32)
    b = batches.train_batch(tokens, step=3, seed=7, batch_size=4, seq_len=16)
    assert {k: (v.shape, v.dtype) for k, v in b.items()} == {
        "inputs": ((4, 16), np.int32),
        "targets": ((4, 16), np.int32),
        "weights": ((4, 16), np.float32),
    }
    np.testing.assert_array_equal(b["targets"], b["inputs"] + 1)  # shifted by one token
    assert (b["weights"] == 1).all()
    again = batches.train_batch(tokens, step=3, seed=7, batch_size=4, seq_len=16)
    for k in b:
        np.testing.assert_array_equal(b[k], again[k])
    for other in ({"step": 4, "seed": 7}, {"step": 3, "seed": 8}):
        diff = batches.train_batch(tokens, **other, batch_size=4, seq_len=16)
        assert not np.array_equal(b["inputs"], diff["inputs"])


@pytest.mark.parametrize("n", [17, 33, 100, 161])
def test_eval_batches_cover_split_once(n):
    tokens = np.arange(10, 10 + n, dtype=np.int32)
    got = list(batches.eval_batches(tokens, batch_size=3, seq_len=16))
    assert len(got) == -(-batches.num_eval_windows(n, 16) // 3)
    targets = np.concatenate([b["targets"][b["weights"] > 0] for b in got])
    np.testing.assert_array_equal(targets, tokens[1:])  # every target once, in order
    for b in got:
        assert b["inputs"].shape == (3, 16) and b["weights"].dtype == np.float32
        real = b["weights"] > 0
        np.testing.assert_array_equal(b["targets"][real], b["inputs"][real] + 1)
    assert len(list(batches.eval_batches(tokens, 3, 16, max_batches=1))) == 1


def test_eval_batches_on_real_split(shakespeare_tokens):
    ids = shakespeare_tokens["valid"]
    total = sum(b["weights"].sum() for b in batches.eval_batches(ids, 8, 128))
    assert total == len(ids) - 1


def test_too_short_tokens():
    tokens = np.arange(16, dtype=np.int32)
    with pytest.raises(ValueError, match="16 tokens, need at least seq_len \\+ 1 = 17"):
        batches.train_batch(tokens, 0, 0, 2, 16)
    with pytest.raises(ValueError, match="need at least"):
        next(batches.eval_batches(tokens, 2, 16))
    batches.train_batch(np.arange(17, dtype=np.int32), 0, 0, 2, 16)  # exactly enough is fine


# --- C4 (mocked TFDS) ---------------------------------------------------------------------


def test_import_laser_data_does_not_import_tensorflow():
    import subprocess
    import sys

    code = "import sys, laser.data, laser.data.c4; assert 'tensorflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


def test_c4_pipeline_mocked(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    from laser.data import c4

    # Mock C4 text is random letters and spaces; the tokenizer only needs to cover them.
    letters = ["".join(random.Random(i).choices("abcdefghij ", k=30)) for i in range(300)]
    tok.train_or_load("c4_tiny", lambda: letters + _sentences(300), 64, cache_dir=tmp_path)
    path = str(tmp_path / "c4_tiny.model")
    take = lambda it, n: [next(it) for _ in range(n)]
    with tfds.testing.mock_data(num_examples=40):
        first = take(c4.c4_train_batch_iterator(path, seq_len=16, batch_size=4, seed=0), 4)
        same = take(c4.c4_train_batch_iterator(path, seq_len=16, batch_size=4, seed=0), 4)
        other = take(c4.c4_train_batch_iterator(path, seq_len=16, batch_size=4, seed=1), 4)
        resumed = take(c4.c4_train_batch_iterator(path, 16, 4, seed=0, start_step=2), 2)
        valid = list(c4.c4_dataset("validation", path, 16, 4, seed=0).as_numpy_iterator())
        shard = next(c4.c4_train_batch_iterator(path, 16, 4, 0, process_index=1, process_count=2))
    for b in first + valid + [shard]:
        assert b["inputs"].shape == b["targets"].shape == b["weights"].shape == (4, 16)
        assert b["inputs"].dtype == b["targets"].dtype == np.int32
        assert b["weights"].dtype == np.float32
        # Each row is one packed window: targets are the inputs shifted left by one.
        np.testing.assert_array_equal(b["inputs"][:, 1:], b["targets"][:, :-1])
    assert all((b["weights"] == 1).all() for b in first)
    assert any((b["inputs"] == tok.EOS_ID).any() for b in first)  # documents end with EOS
    for a, b in zip(first + first[2:], same + resumed, strict=True):
        np.testing.assert_array_equal(a["inputs"], b["inputs"])
    assert not all(
        np.array_equal(a["inputs"], b["inputs"]) for a, b in zip(first, other, strict=True)
    )
    assert valid[-1]["weights"].min() == 0  # the tail of the split is padded, not dropped
