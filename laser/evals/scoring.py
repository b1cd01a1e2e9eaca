"""One-shot multiple-choice scoring by log-likelihood (paper §4.1, Tables 2, 6, 7, 10).

Each candidate is scored by the model's log-likelihood of its tokens given the prompt, summed
("sum") and divided by the candidate's token count ("per_token", the length-normalised score);
the prediction is the best candidate. Ties go to the lowest candidate index (np.argmax), and
are counted, so a model that scores everything alike shows up as such.

Layout of one scored row: [EOS] + prompt + candidate, cut from the left to `max_len` tokens
(the candidate is kept whole unless it alone is longer), right-padded. Rows are sorted by
length and batched into a few padded lengths (multiples of `bucket`), so the jit-compiled
forward pass compiles once per bucket and runs once per batch of candidates, not per token.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from laser.data.tokenizer import EOS_ID, PAD_ID
from laser.evals.examples import MultipleChoice

Encode = Callable[[str], list[int]]
NORMALISATIONS = ("sum", "per_token")


def encode_rows(
    examples: Sequence[MultipleChoice], encode: Encode, max_len: int
) -> tuple[list[list[int]], list[int]]:
    """(token rows, candidate token counts): one row per (example, candidate), in order."""
    rows, counts = [], []
    for ex in examples:
        prompt = encode(ex.context) if ex.context else []
        for cand in ex.candidates:
            cont = encode(cand)[: max_len - 1]
            room = max_len - 1 - len(cont)  # for the prompt, after the leading EOS
            rows.append([EOS_ID] + prompt[max(len(prompt) - room, 0) :] + cont)
            counts.append(len(cont))
    return rows, counts


def row_loglik(
    logits: jax.Array, tokens: jax.Array, counts: jax.Array, lengths: jax.Array
) -> jax.Array:
    """Summed log-likelihood [B] of each row's last `counts` tokens before its padding (row
    length `lengths`), from the model's logits [B, L, vocab] on tokens [B, L]."""
    logp = jax.nn.log_softmax(logits[:, :-1].astype(jnp.float32))
    token_logp = jnp.take_along_axis(logp, tokens[:, 1:, None], axis=-1)[..., 0]
    pos = jnp.arange(1, tokens.shape[1])[None, :]  # the position each logit row predicts
    scored = (pos >= (lengths - counts)[:, None]) & (pos < lengths[:, None])
    return jnp.sum(jnp.where(scored, token_logp, 0.0), axis=1)


def loglik_fn(apply: Callable[[object, jax.Array], jax.Array]) -> Callable:
    """jit-compiled (params, tokens [B, L], counts [B], lengths [B]) -> row_loglik [B], where
    `apply(params, tokens)` gives logits [B, L, vocab]."""
    return jax.jit(
        lambda params, tokens, counts, lengths: row_loglik(
            apply(params, tokens), tokens, counts, lengths
        )
    )


def score_rows(
    fn: Callable, params, rows: list[list[int]], counts: list[int], batch: int, bucket: int = 32
) -> np.ndarray:
    """Summed log-likelihood of every row's candidate tokens (float64 [len(rows)])."""
    out = np.zeros(len(rows))
    order = np.argsort([len(r) for r in rows], kind="stable")
    for lo in range(0, len(order), batch):
        idx = order[lo : lo + batch]
        width = bucket * math.ceil(max(len(rows[i]) for i in idx) / bucket)
        tokens = np.full((batch, width), PAD_ID, np.int32)
        lengths, cnt = np.ones(batch, np.int32), np.zeros(batch, np.int32)
        for j, i in enumerate(idx):
            tokens[j, : len(rows[i])] = rows[i]
            lengths[j], cnt[j] = len(rows[i]), counts[i]
        out[idx] = np.asarray(fn(params, tokens, cnt, lengths))[: len(idx)]
    return out


@dataclasses.dataclass(frozen=True)
class Result:
    """Per-example scores and decisions of one task."""

    scores: list[list[float]]  # summed log-likelihood per candidate
    counts: list[list[int]]  # candidate lengths in tokens
    labels: list[int]

    def predictions(self, normalisation: str = "sum") -> tuple[list[int], int]:
        """(argmax per example with ties to the lowest index, number of tied examples)."""
        preds, ties = [], 0
        for s, c in zip(self.scores, self.counts, strict=True):
            v = np.asarray(s) / (np.maximum(c, 1) if normalisation == "per_token" else 1)
            preds.append(int(np.argmax(v)))
            ties += int(np.sum(v == v.max()) > 1)
        return preds, ties

    def accuracy(self, normalisation: str = "sum") -> dict[str, float]:
        """{"accuracy", "stderr" (binomial: sqrt(p (1 - p) / n)), "n", "ties"}."""
        preds, ties = self.predictions(normalisation)
        n = len(preds)
        p = sum(int(a == b) for a, b in zip(preds, self.labels, strict=True)) / max(n, 1)
        return {"accuracy": p, "stderr": math.sqrt(p * (1 - p) / max(n, 1)), "n": n, "ties": ties}


def score(
    fn: Callable,
    params,
    examples: Sequence[MultipleChoice],
    encode: Encode,
    max_len: int,
    batch: int = 32,
) -> Result:
    """Score every candidate of `examples` (prompts already built) with `fn` = loglik_fn(...)."""
    rows, counts = encode_rows(examples, encode, max_len)
    flat = score_rows(fn, params, rows, counts, batch)
    scores, lens, at = [], [], 0
    for ex in examples:
        k = len(ex.candidates)
        scores.append([float(x) for x in flat[at : at + k]])
        lens.append(counts[at : at + k])
        at += k
    return Result(scores, lens, [ex.label for ex in examples])
