"""A Shakespeare cloze suite that a tiny model can score above chance.

Built deterministically from the held-out plays of laser.data.shakespeare (test: Hamlet,
Macbeth, The Tempest): the context is the `context_words` words of a play before a seeded
position (line breaks kept), the correct candidate is the next `words` words, and the three
distractors are `words`-word spans from the *other* held-out plays. Short spans keep the
candidates' own likelihoods close, so what decides is whether the span continues the context
(syntax, names, topic): the 1-3M-parameter LMs of the tiny profiles score ~35% against a 25%
chance here (measured while building this suite: 3 words 34%/37% summed/per-token, 6 words
33%/36%; whole next lines against lines from elsewhere gave chance, because a line's own
likelihood outweighs its fit). The real tasks are modern English, far from the tiny LMs' data.
"""

from __future__ import annotations

import numpy as np

from laser.data import shakespeare
from laser.evals.examples import MultipleChoice

NEWLINE = " \n "


def _words(text: str) -> list[str]:
    """Words of a play, with line breaks as words of their own ("\\n")."""
    return [w for w in text.replace("\n", NEWLINE).split(" ") if w]


def _join(words: list[str]) -> str:
    return " ".join(words).replace(NEWLINE, "\n")


def build(
    split: str = "test",
    n: int = 500,
    seed: int = 0,
    context_words: int = 60,
    words: int = 3,
    choices: int = 4,
    plays: dict[str, str] | None = None,
) -> list[MultipleChoice]:
    """`n` cloze examples from the plays of `split`; the same arguments give the same list.

    `plays` ({name: text}) replaces the split's plays (tests); it needs at least two plays."""
    if plays is None:
        plays = {name: shakespeare.plays()[name] for name in shakespeare.split_plays()[split]}
    if len(plays) < 2:
        raise ValueError("the cloze suite needs at least two plays (distractors come from others)")
    names = sorted(plays)
    text = {name: _words(plays[name]) for name in names}
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        name = names[int(rng.integers(len(names)))]
        ws = text[name]
        at = int(rng.integers(context_words, len(ws) - words))
        true = _join(ws[at : at + words])
        wrong: list[str] = []
        others = [o for o in names if o != name]
        while len(wrong) < choices - 1:
            other = text[others[int(rng.integers(len(others)))]]
            start = int(rng.integers(len(other) - words))
            span = _join(other[start : start + words])
            if span not in (true, *wrong):
                wrong.append(span)
        label = int(rng.integers(choices))
        candidates = (*wrong[:label], true, *wrong[label:])
        context = _join(ws[at - context_words : at])
        out.append(MultipleChoice(context, tuple(" " + c for c in candidates), label))
    return out
