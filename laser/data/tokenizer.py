"""Deterministic, cached SentencePiece tokenizers.

Models are trained once and cached as `<cache_dir>/<name>.model`. Training is made reproducible
(single thread, no sampling or shuffling of the input, model bytes written from memory so no
temporary path ends up inside the model proto) so that two machines building the same cache
entry get byte-identical files, and with them identical token ids.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import sentencepiece as spm

# Ids as in PAX's C4 SentencePiece vocabulary: 0 pad, 1 EOS, 2 unknown, no BOS.
PAD_ID = 0
EOS_ID = 1
UNK_ID = 2

# SentencePiece silently drops training lines longer than this many bytes; we split longer
# lines at spaces instead so no text is lost.
_MAX_SENTENCE_BYTES = 4096


def default_cache_dir() -> Path:
    """Cache directory: $LASER_CACHE if set, else `<repo root>/.cache/laser`."""
    env = os.environ.get("LASER_CACHE")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / ".cache" / "laser"


def _sentences(texts: Iterable[str]) -> Iterator[str]:
    """Non-empty lines, split at spaces where a line is longer than SentencePiece accepts."""
    for text in texts:
        for line in text.splitlines():
            line = line.strip()
            while len(line.encode()) > _MAX_SENTENCE_BYTES:
                cut = line.rfind(" ", 0, _MAX_SENTENCE_BYTES // 4)
                cut = cut if cut > 0 else _MAX_SENTENCE_BYTES // 4
                yield line[:cut]
                line = line[cut:].strip()
            if line:
                yield line


def train_model_bytes(
    texts: Iterable[str], vocab_size: int, options: Mapping[str, Any] | None = None
) -> bytes:
    """Train a unigram SentencePiece model on `texts` and return the serialized model.

    `options` replace or add SentencePiece trainer options (e.g. BERT's special ids, see
    laser.data.wikipedia); the defaults give PAX's ids (PAD_ID, EOS_ID, UNK_ID, no BOS)."""
    out = io.BytesIO()
    # The trainer takes no seed option; the library-wide generator seed is the documented knob.
    spm.set_random_generator_seed(0)
    kwargs = dict(
        sentence_iterator=_sentences(texts),
        model_writer=out,
        model_type="unigram",
        vocab_size=vocab_size,
        character_coverage=1.0,
        # Reproducibility: one thread, every sentence used, in the given order.
        num_threads=1,
        input_sentence_size=0,
        shuffle_input_sentence=False,
        pad_id=PAD_ID,
        eos_id=EOS_ID,
        unk_id=UNK_ID,
        bos_id=-1,
        # A small corpus may not support the requested size exactly; a slightly smaller
        # vocabulary is better than a crash in a test or a tiny ablation.
        hard_vocab_limit=False,
        minloglevel=2,
    )
    kwargs.update(options or {})
    spm.SentencePieceTrainer.train(**kwargs)
    return out.getvalue()


def train_or_load(
    name: str,
    texts: Callable[[], Iterable[str]],
    vocab_size: int,
    cache_dir: str | os.PathLike | None = None,
    options: Mapping[str, Any] | None = None,
) -> spm.SentencePieceProcessor:
    """Load `<cache_dir>/<name>.model`, training and caching it from `texts()` if it is missing.

    `texts` is only called when training is needed; each string it yields may hold many lines
    (one training sentence per line). The file is written atomically, so concurrent processes
    at worst train twice and never see a partial model.
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache / f"{name}.model"
    if not path.exists():
        model = train_model_bytes(texts(), vocab_size, options)
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache, prefix=f".{name}.") as tmp:
            tmp_path = Path(tmp) / path.name
            tmp_path.write_bytes(model)
            os.replace(tmp_path, path)
    return load(path)


def load(path: str | os.PathLike) -> spm.SentencePieceProcessor:
    """Load a SentencePiece model file."""
    return spm.SentencePieceProcessor(model_file=str(path))
