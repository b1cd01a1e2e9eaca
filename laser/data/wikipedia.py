"""Wikipedia for BERT: the articles inside PyPI gensim (tiny) and tfds `wikipedia` (paper).

Tiny: gensim ships a shortened 2017 English dump as test data
(gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2,
~3.1 MB of text), read with gensim's own `extract_pages` and `filter_wiki` (the markup removed),
redirects and empty pages dropped: 107 articles. Split by article, by title: every tenth title
in sorted order is held out ("valid", 11 articles, ~10% of the text), the rest train. A
SentencePiece unigram vocabulary with BERT's special tokens ([PAD] 0, [UNK] 1, [CLS] 2,
[SEP] 3, [MASK] 4) and case folding (uncased, as MLPerf's) is trained on the train articles
only and cached as laser.data.tokenizer does, with the tokenized articles beside it.

Paper: tfds `wikipedia/20201201.en` (the 2020 dump closest to MLPerf's 20200101), tokenized with
MLPerf's vocab.txt (laser.data.wordpiece); the first `eval_articles` articles are held out for
evaluation, the rest train. Both sources pack each article into [CLS] piece [SEP] sequences
(laser.data.mlm.pack); masking happens afterwards, in NumPy (laser.data.mlm), by step.
"""

from __future__ import annotations

import bz2
import functools
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import sentencepiece as spm

from laser.data import mlm
from laser.data import tokenizer as tok

if TYPE_CHECKING:
    import tensorflow as tf

GENSIM_FILE = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
SPLITS = ("train", "valid")
HELD_OUT_EVERY = 10  # every 10th title (sorted) is held out
# SentencePiece ids of the tiny vocabulary (control symbols follow pad and unk).
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = range(5)
_SPM_OPTIONS = dict(
    pad_id=PAD_ID,
    unk_id=UNK_ID,
    bos_id=-1,
    eos_id=-1,
    control_symbols=["[CLS]", "[SEP]", "[MASK]"],
    normalization_rule_name="nmt_nfkc_cf",  # NFKC + case folding: uncased, as MLPerf's vocab
)
TFDS_NAME = "wikipedia/20201201.en"


def gensim_path() -> Path | None:
    """The gensim test file, or None if gensim is not installed (found without importing it)."""
    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "test" / "test_data" / GENSIM_FILE
    return path if path.exists() else None


def clean(text: str) -> str:
    """filter_wiki's plain text, bold/italic quote marks removed, blank lines dropped."""
    lines = (line.replace("'''", "").replace("''", "").strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


@functools.cache
def _articles() -> tuple[tuple[str, str], ...]:
    from gensim.corpora.wikicorpus import extract_pages, filter_wiki

    path = gensim_path()
    if path is None:
        raise FileNotFoundError(f"gensim's {GENSIM_FILE} not found: pip install gensim")
    out = []
    with bz2.open(path, "rb") as f:
        for title, text, _ in extract_pages(f, filter_namespaces=("0",)):
            body = clean(filter_wiki(text))
            if body and not text.lstrip().lower().startswith("#redirect"):
                out.append((title, body))
    return tuple(sorted(out))


def articles() -> dict[str, str]:
    """{title: plain text} of the dump's articles, sorted by title."""
    return dict(_articles())


def split_titles() -> dict[str, list[str]]:
    """{"train": titles, "valid": every HELD_OUT_EVERY-th title}: by sorted title only."""
    titles = sorted(articles())
    valid = titles[HELD_OUT_EVERY - 1 :: HELD_OUT_EVERY]
    return {"train": [t for t in titles if t not in valid], "valid": valid}


def _name(vocab_size: int) -> str:
    return f"enwiki_bert_spm_{vocab_size}"


def tokenizer(vocab_size: int) -> spm.SentencePieceProcessor:
    """The uncased SentencePiece vocabulary with BERT's specials, trained on train articles."""
    train = split_titles()["train"]
    return tok.train_or_load(
        _name(vocab_size), lambda: (articles()[t] for t in train), vocab_size, options=_SPM_OPTIONS
    )


def article_ids(split: str, vocab_size: int) -> list[np.ndarray]:
    """The int32 ids of each article of `split` (title order), cached as
    `<cache>/enwiki_bert_spm_<vocab>.<split>.npz` (ids concatenated + article offsets)."""
    if split not in SPLITS:
        raise ValueError(f"split {split!r}: accepted: {', '.join(SPLITS)}")
    path = tok.default_cache_dir() / f"{_name(vocab_size)}.{split}.npz"
    if not path.exists():
        sp = tokenizer(vocab_size)
        docs = [articles()[t] for t in split_titles()[split]]
        ids = [np.asarray([i for line in sp.encode(d.split("\n")) for i in line]) for d in docs]
        offsets = np.cumsum([0] + [len(x) for x in ids])
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
        np.savez(tmp, ids=np.concatenate(ids).astype(np.int32), offsets=offsets)
        os.replace(tmp, path)  # atomic: concurrent runs never read a partial file
    with np.load(path) as f:
        ids, offsets = f["ids"], f["offsets"]
    return [ids[a:b] for a, b in zip(offsets[:-1], offsets[1:], strict=True)]


def sequences(split: str, vocab_size: int, m: mlm.Masking) -> list[np.ndarray]:
    """The [CLS] ... [SEP] sequences of `split` (unmasked, unpadded), articles in title order."""
    return mlm.pack(article_ids(split, vocab_size), m)


# ------------------------------------------------------------------ tfds wikipedia (paper)


def tfds_dataset(
    split: str,
    vocab_path: str,
    m: mlm.Masking,
    batch_size: int,
    seed: int,
    eval_articles: int,
    name: str = TFDS_NAME,
    data_dir: str | None = None,
    shuffle_buffer: int = 10_000,
    process_index: int = 0,
    process_count: int = 1,
) -> tf.data.Dataset:
    """Batches of unmasked sequences: {"tokens": [batch_size, seq_len] int32 ([CLS] ... [SEP],
    0-padded), "length": [batch_size] int32}. tfds's only split, "train", is cut in two: its
    first `eval_articles` articles are `split` "valid" (in order, read once, the last batch padded
    with length-0 rows), the rest "train" (files and sequences shuffled from `seed`, repeated,
    batched with drop_remainder). Each process reads its own 1/process_count (even_splits)."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    from laser.data.mlperf_bert import pad_rows
    from laser.data.wordpiece import WordPiece

    train = split == "train"
    source = f"train[{eval_articles}:]" if train else f"train[:{eval_articles}]"
    shard = tfds.even_splits(source, n=process_count)[process_index]
    docs = tfds.builder(name, data_dir=data_dir).as_dataset(
        split=shard, shuffle_files=train, read_config=tfds.ReadConfig(shuffle_seed=seed)
    )
    wp = WordPiece(vocab_path)

    def generate() -> Iterator[tuple[np.ndarray, np.int32]]:
        for ex in tfds.as_numpy(docs.map(lambda ex: ex["text"])):
            for seq in mlm.pack([np.asarray(wp.encode(ex.decode("utf-8")), np.int32)], m):
                row = np.zeros(m.seq_len, np.int32)
                row[: len(seq)] = seq
                yield row, np.int32(len(seq))

    ds = tf.data.Dataset.from_generator(
        generate,
        output_signature=(tf.TensorSpec([m.seq_len], tf.int32), tf.TensorSpec([], tf.int32)),
    )
    if train:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.batch(batch_size, drop_remainder=train)
    if not train:
        ds = ds.map(lambda t, n: (pad_rows(t, batch_size), pad_rows(n, batch_size)))
    return ds.map(lambda t, n: {"tokens": t, "length": n}).prefetch(tf.data.AUTOTUNE)


def unpadded(batch: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The real tokens of each row of a tfds_dataset batch (what mlm.mask_batch takes)."""
    return [row[:n] for row, n in zip(batch["tokens"], batch["length"], strict=True)]
