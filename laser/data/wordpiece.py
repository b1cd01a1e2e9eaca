"""BERT's uncased WordPiece tokenizer over a `vocab.txt` (MLPerf's 30,522-piece vocabulary).

The rules of BERT's tokenization.py (FullTokenizer, do_lower_case=True), which MLPerf's
create_pretraining_data uses: drop control characters and U+FFFD, whitespace to spaces, CJK
characters split off, lower case and accents stripped (NFD, marks removed), punctuation split
off as its own word; then each word greedily into the longest vocabulary pieces, continuations
prefixed "##", a word of more than 100 characters or with no cover -> [UNK]. Pure Python: the
paper profile's tfds Wikipedia path tokenizes with it; MLPerf's own TFRecords come tokenized.
"""

from __future__ import annotations

import os
import unicodedata

from laser.configs import ConfigError

MAX_WORD_CHARS = 100
SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def _is_punctuation(ch: str) -> bool:
    # BERT counts every non-alphanumeric ASCII printable character as punctuation ("$", "^").
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def basic_words(text: str) -> list[str]:
    """BERT's BasicTokenizer (uncased): the words and punctuation marks of `text`."""
    chars = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD:
            continue
        if ch in " \t\n\r" or unicodedata.category(ch) == "Zs":
            chars.append(" ")
        elif unicodedata.category(ch).startswith("C"):
            continue
        elif _is_cjk(cp):
            chars.append(f" {ch} ")
        else:
            chars.append(ch)
    words = []
    for word in "".join(chars).lower().split():
        word = "".join(
            c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn"
        )
        piece = ""
        for ch in word:
            if _is_punctuation(ch):
                words += [piece] if piece else []
                words.append(ch)
                piece = ""
            else:
                piece += ch
        words += [piece] if piece else []
    return words


class WordPiece:
    """`encode(text) -> ids` with a BERT vocab.txt (one piece per line, id = line number)."""

    def __init__(self, vocab_path: str | os.PathLike):
        try:
            with open(vocab_path, encoding="utf-8") as f:
                pieces = [line.rstrip("\n") for line in f]
        except OSError:
            raise ConfigError(
                f"config data.vocab_path={str(vocab_path)!r}: accepted: a BERT vocab.txt "
                "(MLPerf's 30,522 pieces)"
            ) from None
        self.vocab = {p: i for i, p in enumerate(pieces)}
        missing = [s for s in SPECIALS if s not in self.vocab]
        if missing:
            raise ConfigError(
                f"config data.vocab_path={str(vocab_path)!r}: lacks {', '.join(missing)}; "
                f"accepted: a BERT vocab.txt with {', '.join(SPECIALS)}"
            )
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = (
            self.vocab[s] for s in SPECIALS
        )

    def __len__(self) -> int:
        return len(self.vocab)

    def word_ids(self, word: str) -> list[int]:
        """Greedy longest-match-first pieces of one word; [UNK] if it has no cover."""
        if len(word) > MAX_WORD_CHARS:
            return [self.unk_id]
        ids, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    ids.append(self.vocab[piece])
                    break
                end -= 1
            if end == start:
                return [self.unk_id]
            start = end
        return ids

    def encode(self, text: str) -> list[int]:
        return [i for word in basic_words(text) for i in self.word_ids(word)]
