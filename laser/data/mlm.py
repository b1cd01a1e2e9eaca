"""Masked-LM examples: MLPerf's masking rule, in one function every BERT data source shares.

MLPerf's BERT (mlcommons/training language_model/tensorflow/bert/create_pretraining_data.py,
create_masked_lm_predictions; ../shared/REFERENCE.md "BERT"):

- candidates: every real position except [CLS] and [SEP] (never padding);
- number to predict: min(max_predictions, max(1, round(masked_lm_prob * real tokens))), the
  real tokens counting [CLS] and [SEP] (Python's round: half to even, as MLPerf);
- the chosen positions are a uniformly random subset of the candidates (MLPerf shuffles them
  and takes the first ones); of each, with u ~ U[0, 1): u < 0.8 -> [MASK]; else, with a second
  draw < 0.5 the token stays, otherwise it becomes a uniformly random id of the whole
  vocabulary;
- outputs padded to max_predictions: masked_lm_positions (sorted), masked_lm_ids (the original
  tokens) and masked_lm_weights (1.0 for a real prediction, 0.0 for a padding slot).

Sequences (what gets masked) are rows of [CLS] tokens [SEP], padded with 0 to seq_len; one
segment (segment_ids 0): the suite trains no next-sentence prediction (experiments/bert_mlm).
Randomness: one NumPy generator per row, seeded by (seed, step, row) for training and by
(EVAL_SEED, batch, row) for evaluation, so a batch is a pure function of its indices and every
run, whatever its seed, is evaluated on the same masks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

import numpy as np

from laser.data.batches import Batch

# MLPerf's create_pretraining_data random_seed; used for every evaluation mask.
EVAL_SEED = 12345
KEYS = (
    "input_ids",
    "input_mask",
    "segment_ids",
    "masked_lm_positions",
    "masked_lm_ids",
    "masked_lm_weights",
)


@dataclasses.dataclass(frozen=True)
class Masking:
    """What the masking rule needs to know about the vocabulary and the shapes.

    Attributes:
      vocab_size: random replacements are drawn from [0, vocab_size).
      cls_id, sep_id, mask_id: the special tokens ([CLS], [SEP] are never masked).
      seq_len: tokens per sequence (padded with 0).
      max_predictions: masked positions per sequence at most (the padded length of the outputs).
      masked_lm_prob: the share of real tokens to predict.
    """

    vocab_size: int
    cls_id: int
    sep_id: int
    mask_id: int
    seq_len: int
    max_predictions: int
    masked_lm_prob: float = 0.15


def mask_sequence(tokens: np.ndarray, rng: np.random.Generator, m: Masking) -> Batch:
    """MLPerf's masking of one sequence: `tokens` are its real ids ([CLS] ... [SEP], no
    padding, at most seq_len). Returns the six MLPerf features of one example (KEYS), padded to
    seq_len and max_predictions, int32 except masked_lm_weights (float32)."""
    tokens = np.asarray(tokens, np.int32)
    n = len(tokens)
    if n > m.seq_len:
        raise ValueError(f"sequence of {n} tokens: accepted: at most seq_len={m.seq_len}")
    candidates = np.flatnonzero((tokens != m.cls_id) & (tokens != m.sep_id))
    count = min(m.max_predictions, max(1, int(round(n * m.masked_lm_prob))), len(candidates))
    positions = np.sort(rng.permutation(candidates)[:count])
    originals = tokens[positions]
    first, second = rng.random(count), rng.random(count)
    replaced = np.where(second < 0.5, originals, rng.integers(0, m.vocab_size, count))
    masked = tokens.copy()
    masked[positions] = np.where(first < 0.8, m.mask_id, replaced)

    def pad(x, length, dtype):
        out = np.zeros(length, dtype)
        out[: len(x)] = x
        return out

    return {
        "input_ids": pad(masked, m.seq_len, np.int32),
        "input_mask": pad(np.ones(n), m.seq_len, np.int32),
        "segment_ids": np.zeros(m.seq_len, np.int32),
        "masked_lm_positions": pad(positions, m.max_predictions, np.int32),
        "masked_lm_ids": pad(originals, m.max_predictions, np.int32),
        "masked_lm_weights": pad(np.ones(count), m.max_predictions, np.float32),
    }


def mask_batch(sequences: Sequence[np.ndarray], seeds: Sequence[int], m: Masking) -> Batch:
    """`mask_sequence` of each row, row i with the generator of (*seeds, i), stacked. A row of
    no tokens (padding a short last eval batch) has no candidates: all zeros, weight 0."""
    rows = [
        mask_sequence(t, np.random.default_rng([*seeds, i]), m) for i, t in enumerate(sequences)
    ]
    return {k: np.stack([r[k] for r in rows]) for k in KEYS}


def pack(articles: Sequence[np.ndarray], m: Masking) -> list[np.ndarray]:
    """Each article's ids cut into consecutive pieces of seq_len - 2, each as [CLS] piece [SEP]
    (so an article's last sequence is shorter and padded); sequences never span two articles,
    as in MLPerf's create_instances_from_document."""
    body = m.seq_len - 2
    out = []
    for ids in articles:
        for lo in range(0, len(ids), body):
            out.append(
                np.concatenate([[m.cls_id], ids[lo : lo + body], [m.sep_id]]).astype(np.int32)
            )
    return out


def train_batch(sequences: Sequence[np.ndarray], seed: int, step: int, batch_size: int, m: Masking):
    """Batch `step`: batch_size sequences drawn uniformly with replacement by the generator of
    (seed, step), masked with (seed, step, row)'s: a pure function of (seed, step)."""
    rows = np.random.default_rng([seed, step]).integers(0, len(sequences), batch_size)
    return mask_batch([sequences[r] for r in rows], (seed, step), m)


def eval_batches(
    sequences: Sequence[np.ndarray], batch_size: int, m: Masking, max_batches: int = 0
) -> Iterator[Batch]:
    """Every sequence once, in order, masked with (EVAL_SEED, batch, row); the last batch padded
    with weight-0 rows. Stops after `max_batches` batches if > 0."""
    n = -(-len(sequences) // batch_size)
    if max_batches > 0:
        n = min(n, max_batches)
    empty = np.zeros(0, np.int32)
    for b in range(n):
        rows = list(sequences[b * batch_size : (b + 1) * batch_size])
        rows += [empty] * (batch_size - len(rows))
        yield mask_batch(rows, (EVAL_SEED, b), m)
