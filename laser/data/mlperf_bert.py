"""MLPerf BERT's pre-processed TFRecords: the paper profile's first data source.

A researcher who has run MLPerf BERT (mlcommons/training language_model/tensorflow/bert) has
them: the training shards `part-00XXX-of-00500` and the 10,000-sequence `eval_10k`, written by
its create_pretraining_data.py (max_seq_length 512, max_predictions_per_seq 76, masked_lm_prob
0.15, dupe_factor 10, random_seed 12345: the masks are in the records, fixed). Each tf.Example
holds exactly these features (MLPerf's README, "TFRecord Features"; int64 lists except
masked_lm_weights, a float list):

    input_ids, input_mask, segment_ids             [seq_len]
    masked_lm_positions, masked_lm_ids, masked_lm_weights   [max_predictions]
    next_sentence_labels                          [1]

`check` validates the files before a run starts (a ConfigError names the path and what was
expected); `dataset` reads them as batches of the six masked-LM features (int32 / float32),
next_sentence_labels dropped (the suite trains no next-sentence prediction). Training: files
and records shuffled from the seed, repeated; evaluation: in order, once, the last batch padded
with weight-0 rows.
"""

from __future__ import annotations

import glob
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tensorflow as tf

SEQ_FEATURES = ("input_ids", "input_mask", "segment_ids")
PREDICTION_FEATURES = ("masked_lm_positions", "masked_lm_ids", "masked_lm_weights")
FEATURES = (*SEQ_FEATURES, *PREDICTION_FEATURES, "next_sentence_labels")


def files(pattern: str) -> list[str]:
    """The sorted files of a comma-separated list of globs (as MLPerf's --input_file)."""
    return sorted({f for p in pattern.split(",") if p for f in glob.glob(p)})


def _lengths(seq_len: int, max_predictions: int) -> dict[str, int]:
    return {
        **dict.fromkeys(SEQ_FEATURES, seq_len),
        **dict.fromkeys(PREDICTION_FEATURES, max_predictions),
        "next_sentence_labels": 1,
    }


def check(key: str, pattern: str, seq_len: int, max_predictions: int) -> str | None:
    """None if `pattern` names TFRecord files whose first records hold exactly MLPerf's
    features at these lengths; else the one-line reason (for `config <key>=...: <reason>`)."""
    paths = files(pattern)
    if not paths:
        return (
            f"config {key}={pattern!r}: no such files; accepted: MLPerf BERT TFRecords "
            "(comma-separated globs, e.g. <dir>/part-*)"
        )
    import tensorflow as tf

    want = _lengths(seq_len, max_predictions)
    for path in paths:
        try:
            first = next(iter(tf.data.TFRecordDataset(path).take(1)), None)
            if first is None:
                return f"config {key}: {path} holds no records; accepted: MLPerf BERT TFRecords"
            example = tf.train.Example.FromString(first.numpy())
        except Exception as e:  # a file that is not a TFRecord of tf.Examples
            return (
                f"config {key}: {path} is not a TFRecord of tf.Examples "
                f"({type(e).__name__}); accepted: MLPerf BERT TFRecords"
            )
        feature = example.features.feature
        got = {}
        for name, f in feature.items():
            kind = f.WhichOneof("kind")
            got[name] = (kind, len(getattr(f, kind).value) if kind else 0)
        expected = {
            n: ("float_list" if n == "masked_lm_weights" else "int64_list", length)
            for n, length in want.items()
        }
        if got != expected:
            bad = sorted(set(got) ^ set(expected)) or sorted(
                n for n in expected if got[n] != expected[n]
            )
            shown = ", ".join(f"{n}={got.get(n, 'missing')}" for n in bad)
            spec = ", ".join(f"{n}[{length}]" for n, length in want.items())
            return (
                f"config {key}: {path} has {shown}; accepted: exactly {spec} "
                "(data.seq_len, data.max_predictions)"
            )
    return None


def dataset(
    pattern: str,
    seq_len: int,
    max_predictions: int,
    batch_size: int,
    seed: int,
    train: bool,
    shuffle_buffer: int = 10_000,
    process_index: int = 0,
    process_count: int = 1,
) -> tf.data.Dataset:
    """Batches {input_ids, input_mask, segment_ids: [B, seq_len] int32; masked_lm_positions,
    masked_lm_ids: [B, max_predictions] int32; masked_lm_weights: float32} from the files of
    `pattern`. With as many files as processes each process reads its own files (MLPerf's 500
    shards), else every process reads all and keeps its 1/process_count of the records."""
    import tensorflow as tf

    spec = {
        n: tf.io.FixedLenFeature([length], tf.float32 if n == "masked_lm_weights" else tf.int64)
        for n, length in _lengths(seq_len, max_predictions).items()
    }
    paths = files(pattern)
    ds = tf.data.Dataset.from_tensor_slices(paths)
    if len(paths) >= process_count:
        ds = ds.shard(process_count, process_index)
    if train:
        ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.interleave(
        tf.data.TFRecordDataset, cycle_length=min(len(paths), 8) if train else 1, deterministic=True
    )
    if len(paths) < process_count:
        ds = ds.shard(process_count, process_index)

    def parse(record):
        ex = tf.io.parse_single_example(record, spec)
        del ex["next_sentence_labels"]
        return {k: v if v.dtype == tf.float32 else tf.cast(v, tf.int32) for k, v in ex.items()}

    ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if train:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=train)
    if not train:
        ds = ds.map(lambda b: {k: pad_rows(v, batch_size) for k, v in b.items()})
    return ds.prefetch(tf.data.AUTOTUNE)


def pad_rows(x: tf.Tensor, rows: int) -> tf.Tensor:
    """Pad a short final batch with zero rows to `rows`, the static shape restored (tf.pad with
    a computed amount loses it, and jit wants fixed shapes)."""
    import tensorflow as tf

    pad = [[0, rows - tf.shape(x)[0]]] + [[0, 0]] * (len(x.shape) - 1)
    return tf.ensure_shape(tf.pad(x, pad), [rows, *x.shape[1:]])
