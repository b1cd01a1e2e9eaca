"""The paper-scale pipeline: C4 (English) from TFDS, SentencePiece-tokenized and packed.

Every document gets EOS (id 1) appended; documents are concatenated and cut into windows of
seq_len + 1 tokens (no padding inside a window), each giving inputs and next-token targets as in
`laser.data.batches`. Training order depends only on the seed: TFDS file order is shuffled with
the seed, windows pass through a seeded shuffle buffer, and the stream repeats with a
seed-determined reshuffle each epoch. TensorFlow is imported inside the functions so that
`import laser.data` stays free of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from laser.data import tokenizer as tok

if TYPE_CHECKING:
    import tensorflow as tf

# The version tfds 4.9.10 builds by default. PAX's C4 runs (and so the paper's) read the
# prepared "c4/en:3.0.1"; generated C4 data is forward compatible, so pass that name to read a
# 3.0.1 copy in `data_dir`.
C4_NAME = "c4/en:3.1.0"
# Documents tokenized per SentencePiece call: large enough to amortize the call, small enough
# that the first batch arrives quickly.
_DOCS_PER_CALL = 256


def _windows(
    texts: Iterator[bytes], tokenizer_path: str, seq_len: int, pad_tail: bool
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Pack tokenized documents (each + EOS) into (window [seq_len + 1], weights [seq_len])."""
    sp = tok.load(tokenizer_path)
    width = seq_len + 1
    ones = np.ones(seq_len, np.float32)
    buffer = np.zeros(0, np.int32)

    def chunks() -> Iterator[list[str]]:
        docs: list[str] = []
        for text in texts:
            docs.append(text.decode("utf-8"))
            if len(docs) == _DOCS_PER_CALL:
                yield docs
                docs = []
        if docs:
            yield docs

    for docs in chunks():
        ids = [np.asarray(d + [tok.EOS_ID], np.int32) for d in sp.encode(docs)]
        buffer = np.concatenate([buffer, *ids])
        n = len(buffer) // width
        for i in range(n):
            yield buffer[i * width : (i + 1) * width], ones
        buffer = buffer[n * width :]
    if pad_tail and len(buffer) > 1:
        # Evaluation scores every token once: keep the partial tail, padded with weight 0.
        window = np.zeros(width, np.int32)
        window[: len(buffer)] = buffer
        weights = np.zeros(seq_len, np.float32)
        weights[: len(buffer) - 1] = 1.0
        yield window, weights


def c4_dataset(
    split: str,
    tokenizer_path: str,
    seq_len: int,
    batch_size: int,
    seed: int,
    data_dir: str | None = None,
    shuffle_buffer: int = 10_000,
    process_index: int = 0,
    process_count: int = 1,
    name: str = C4_NAME,
) -> tf.data.Dataset:
    """Batches of packed C4 windows: {"inputs", "targets"} int32 and "weights" float32, each
    [batch_size, seq_len].

    `split` "train" is shuffled (files and windows, from `seed`), repeated forever and batched
    with drop_remainder. Any other split (e.g. "validation") is read once in order; its last
    window and last batch are padded with weight 0 so the shapes stay static. Each process reads
    its own contiguous 1/process_count of the split (`tfds.even_splits`).
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    if not 0 <= process_index < process_count:
        raise ValueError(f"process_index {process_index} not in [0, {process_count})")
    train = split == "train"
    builder = tfds.builder(name, data_dir=data_dir)
    shard = tfds.even_splits(split, n=process_count)[process_index]
    docs = builder.as_dataset(
        split=shard,
        shuffle_files=train,
        read_config=tfds.ReadConfig(shuffle_seed=seed),
    ).map(lambda ex: ex["text"])

    def generate() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return _windows(tfds.as_numpy(docs), tokenizer_path, seq_len, pad_tail=not train)

    ds = tf.data.Dataset.from_generator(
        generate,
        output_signature=(
            tf.TensorSpec([seq_len + 1], tf.int32),
            tf.TensorSpec([seq_len], tf.float32),
        ),
    )
    if train:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.batch(batch_size, drop_remainder=train)
    if not train:
        ds = ds.map(lambda w, m: _pad_batch(w, m, batch_size))
    ds = ds.map(
        lambda w, m: {"inputs": w[:, :-1], "targets": w[:, 1:], "weights": m},
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return ds.prefetch(tf.data.AUTOTUNE)


def _pad_batch(
    windows: tf.Tensor, weights: tf.Tensor, batch_size: int
) -> tuple[tf.Tensor, tf.Tensor]:
    """Pad a short final batch with zero-weight rows so every batch is [batch_size, ...]."""
    import tensorflow as tf

    missing = batch_size - tf.shape(windows)[0]
    windows = tf.pad(windows, [[0, missing], [0, 0]])
    weights = tf.pad(weights, [[0, missing], [0, 0]])
    # tf.pad with a computed amount loses the static batch size; restore it for jit consumers.
    return (
        tf.ensure_shape(windows, [batch_size, windows.shape[1]]),
        tf.ensure_shape(weights, [batch_size, weights.shape[1]]),
    )


def c4_train_batch_iterator(
    tokenizer_path: str,
    seq_len: int,
    batch_size: int,
    seed: int,
    start_step: int = 0,
    data_dir: str | None = None,
    shuffle_buffer: int = 10_000,
    process_index: int = 0,
    process_count: int = 1,
    name: str = C4_NAME,
) -> Iterator[dict[str, np.ndarray]]:
    """NumPy training batches starting at `start_step`, in the order a fresh run would see them.

    Resuming replays the pipeline and discards the first `start_step` batches
    (`Dataset.skip`), so it costs O(start_step) reading and tokenizing, but needs no saved
    iterator state and gives exactly the batches an uninterrupted run would have used.
    """
    ds = c4_dataset(
        "train",
        tokenizer_path,
        seq_len,
        batch_size,
        seed,
        data_dir=data_dir,
        shuffle_buffer=shuffle_buffer,
        process_index=process_index,
        process_count=process_count,
        name=name,
    )
    return ds.skip(start_step).as_numpy_iterator()
