"""Batches: language-model windows from a 1-D token array, and what every task's data shares.

Training batches are a pure function of (seed, step): no iterator state to checkpoint, and a run
resumed at step k sees exactly the batches it would have seen without the interruption.
Evaluation walks the split once, in order, so every token is scored exactly once.
`local_rows` cuts a global batch to this process's rows; `StepBatches` indexes an iterator
pipeline (tf.data) by step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import jax
import numpy as np

Batch = dict[str, np.ndarray]


def _check_length(tokens: np.ndarray, seq_len: int) -> None:
    if tokens.ndim != 1:
        raise ValueError(f"tokens must be 1-D, got shape {tokens.shape}")
    if len(tokens) < seq_len + 1:
        raise ValueError(
            f"token array has {len(tokens)} tokens, need at least seq_len + 1 = {seq_len + 1}"
        )


def _batch(windows: np.ndarray, weights: np.ndarray) -> Batch:
    """Split [B, seq_len + 1] windows into next-token inputs and targets."""
    return {
        "inputs": np.ascontiguousarray(windows[:, :-1], dtype=np.int32),
        "targets": np.ascontiguousarray(windows[:, 1:], dtype=np.int32),
        "weights": weights.astype(np.float32),
    }


def train_batch(
    tokens: np.ndarray, step: int, seed: int, batch_size: int, seq_len: int
) -> dict[str, np.ndarray]:
    """Batch `step` of training: `batch_size` windows at uniformly random offsets.

    Offsets come from `np.random.default_rng([seed, step])`, so the batch depends only on
    (tokens, seed, step). Returns "inputs" and "targets" ([batch_size, seq_len] int32, targets
    are inputs shifted left by one token) and "weights" (float32 ones).
    """
    _check_length(tokens, seq_len)
    rng = np.random.default_rng([seed, step])
    # Any start with a full seq_len + 1 window after it; sampling with replacement keeps the
    # draw independent of batch_size's relation to the corpus size.
    starts = rng.integers(0, len(tokens) - seq_len, size=batch_size)
    windows = tokens[starts[:, None] + np.arange(seq_len + 1)]
    return _batch(windows, np.ones((batch_size, seq_len), np.float32))


def num_eval_windows(num_tokens: int, seq_len: int) -> int:
    """Number of windows `eval_batches` makes from `num_tokens` tokens."""
    # Windows overlap by one token (a window's last target is the next window's first input),
    # so every token but the first is a target exactly once.
    return -(-(num_tokens - 1) // seq_len)


def eval_batches(
    tokens: np.ndarray, batch_size: int, seq_len: int, max_batches: int | None = None
) -> Iterator[dict[str, np.ndarray]]:
    """Consecutive non-overlapping windows that cover the whole split in order.

    Window i predicts tokens[i * seq_len + 1 : (i + 1) * seq_len + 1]; the tail window and the
    last batch are padded (token 0) with weight 0, so summing weights counts each target token
    of the split exactly once. Keys and dtypes as in `train_batch`. Stops after `max_batches`.
    """
    _check_length(tokens, seq_len)
    n_windows = num_eval_windows(len(tokens), seq_len)
    n_batches = -(-n_windows // batch_size)
    if max_batches is not None:
        n_batches = min(n_batches, max_batches)
    for b in range(n_batches):
        windows = np.zeros((batch_size, seq_len + 1), np.int32)
        weights = np.zeros((batch_size, seq_len), np.float32)
        for row in range(batch_size):
            start = (b * batch_size + row) * seq_len
            chunk = tokens[start : start + seq_len + 1]
            if len(chunk) < 2:
                break  # past the end: the rest of this batch stays padding
            windows[row, : len(chunk)] = chunk
            weights[row, : len(chunk) - 1] = 1.0
        yield _batch(windows, weights)


def local_rows(batch: Batch) -> Batch:
    """This process's contiguous share of a global batch's rows (all of them on one process)."""
    count, index = jax.process_count(), jax.process_index()
    n = len(next(iter(batch.values()))) // count
    return {k: v[index * n : (index + 1) * n] for k, v in batch.items()}


class StepBatches:
    """Training batches of an iterator pipeline (tf.data) by step: `self(step)` is the
    `start(step)` iterator's next batch. Consecutive steps read one iterator; any other step (a
    resumed run) calls `start(step)` again, which replays the pipeline to that step (O(step)
    reading, but no iterator state to checkpoint, and the batches of an uninterrupted run)."""

    def __init__(self, start: Callable[[int], Iterator[Batch]]):
        self._start = start
        self._next: int | None = None
        self._it: Iterator[Batch] | None = None

    def __call__(self, step: int) -> Batch:
        if self._next != step:
            self._it = self._start(step)
        batch = next(self._it)
        self._next = step + 1
        return batch
