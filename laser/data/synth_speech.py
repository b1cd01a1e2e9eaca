"""Synthetic English speech for the tiny Conformer profile, generated offline and cached.

What it is: short lines of Shakespeare's plays (laser.data.shakespeare; test and valid lines come
from the held-out plays, so their texts are unseen in training) spoken by espeak-ng
(laser.data.espeak) with one of eight English voices, a rate of 140-200 words per minute and a
pitch of 30-70, drawn per utterance; resampled from 22,050 to 16,000 Hz. Transcripts are
lower-cased letters, apostrophes and single spaces. What it is not: natural speech. It has no
noise, no reverberation, no disfluencies, one synthesiser; a model that reads it well says
little about real recordings, hence the extra out-of-domain split ("real") of the Debian
package pocketsphinx-testdata's 10 real 16 kHz recordings, used where it is installed.

Determinism: espeak-ng keeps state between utterances (its pitch flutter continues from one
utterance to the next), so each split is generated in a fresh worker process, in a fixed order;
the corpus is a pure function of its specification, cached as one .npz per specification under
laser.data.tokenizer.default_cache_dir().
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import multiprocessing
import os
import re
import tempfile
import wave
from collections.abc import Iterable
from pathlib import Path

import ml_collections
import numpy as np

from laser.data.batches import local_rows
from laser.data.speech_batches import pad_batch
from laser.data.tokenizer import default_cache_dir

SAMPLE_RATE = 16_000
VOICES = (
    "en-us",
    "en",
    "en-gb-x-rp",
    "en-029",
    "en-us+f2",
    "en+f3",
    "en-us+m3",
    "en+m7",
)
RATES = (140, 200)  # words per minute, uniform
PITCHES = (30, 70)  # espeak pitch 0-100, uniform
SPLITS = ("train", "valid", "test")
VERSION = 2  # part of the cache key: bump when generation changes
POCKETSPHINX = Path("/usr/share/pocketsphinx/test/data")


class CharVocab:
    """Character CTC vocabulary: 0 blank, 1 space, 2 apostrophe, 3-28 a-z."""

    chars = " '" + "abcdefghijklmnopqrstuvwxyz"
    size = len(chars) + 1

    def encode(self, text: str) -> list[int]:
        return [self.chars.index(c) + 1 for c in text]

    def decode(self, ids) -> str:
        return "".join(self.chars[i - 1] for i in ids if 0 < i < self.size)


def normalize(text: str) -> str:
    """Lower-case letters, apostrophes inside words and single spaces."""
    text = re.sub(r"[^a-z']+", " ", text.lower())
    text = re.sub(r"(?<![a-z])'|'(?![a-z])", " ", text)
    return " ".join(text.split())


def lines(split: str, min_words: int, max_words: int, max_chars: int) -> list[str]:
    """Distinct normalised spoken lines of the split's plays within the length limits, in a
    fixed order (sorted, then shuffled with seed 0)."""
    from laser.data import shakespeare

    names = shakespeare.split_plays()[split]
    texts = shakespeare.plays()
    found = set()
    for name in names:
        for line in texts[name].splitlines():
            if line.rstrip().endswith(":"):  # speaker name
                continue
            norm = normalize(line)
            if min_words <= len(norm.split()) <= max_words and len(norm) <= max_chars:
                found.add(norm)
    ordered = sorted(found)
    np.random.default_rng(0).shuffle(ordered)
    return ordered


def _synthesize_split(spec: dict, split: str) -> tuple[list[np.ndarray], list[str], list[str]]:
    """Runs in a fresh process (espeak-ng state). Returns (16 kHz int16 audio, texts, voices)."""
    from scipy.signal import resample_poly

    from laser.data import espeak

    if espeak.sample_rate() != 22_050:
        raise RuntimeError(f"espeak-ng rate {espeak.sample_rate()}; expected 22050 Hz")
    texts = lines(split, spec["min_words"], spec["max_words"], spec["max_chars"])
    rng = np.random.default_rng([spec["seed"], SPLITS.index(split)])
    audio, kept, voices = [], [], []
    for text in texts:
        if len(kept) == spec["sizes"][split]:
            break
        voice = VOICES[rng.integers(len(VOICES))]
        rate = int(rng.integers(RATES[0], RATES[1] + 1))
        pitch = int(rng.integers(PITCHES[0], PITCHES[1] + 1))
        raw = espeak.synthesize(text, voice, rate, pitch).astype(np.float32)
        x = resample_poly(raw, 320, 441)  # 22,050 -> 16,000 Hz
        if len(x) > spec["max_samples"] or not _alignable(text, len(x)):
            continue
        audio.append(np.clip(np.round(x), -32768, 32767).astype(np.int16))
        kept.append(text)
        voices.append(voice)
    return audio, kept, voices


def _alignable(text: str, num_samples: int) -> bool:
    """Whether CTC can align `text` to the Conformer's output frames (4x subsampled 10 ms
    frames: 25 per second): one frame per character plus a blank between repeated ones, with
    a 10% margin. Fast voices on short words exceed this; they are skipped."""
    from laser.nn.conformer import encoder_frames

    repeats = sum(a == b for a, b in zip(text, text[1:], strict=False))
    return 1.1 * (len(text) + repeats) <= encoder_frames(num_samples)


def _path(spec: dict, cache_dir: Path) -> Path:
    key = json.dumps({**spec, "version": VERSION}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return cache_dir / f"synth_speech_{digest}.npz"


def corpus(spec: dict, cache_dir: str | os.PathLike | None = None) -> dict[str, dict]:
    """{split: {"audio": [int16 arrays], "text": [str], "voice": [str]}} for `spec` (keys:
    seed, sizes {split: n}, min_words, max_words, max_chars, max_samples), from the cache or
    generated (and cached atomically) on first use."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = _path(spec, cache)
    if not path.exists():
        ctx = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(
            max_workers=2, mp_context=ctx, max_tasks_per_child=1
        ) as pool:
            jobs = {s: pool.submit(_synthesize_split, spec, s) for s in SPLITS}
            parts = {s: job.result() for s, job in jobs.items()}
        arrays = {}
        for s, (audio, texts, voices) in parts.items():
            arrays[f"{s}_audio"] = np.concatenate(audio)
            arrays[f"{s}_lengths"] = np.array([len(a) for a in audio], np.int64)
            arrays[f"{s}_text"] = np.array(texts)
            arrays[f"{s}_voice"] = np.array(voices)
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cache, suffix=".npz", delete=False) as f:
            np.savez(f, **arrays)
        os.replace(f.name, path)
    data = np.load(path)
    out = {}
    for s in SPLITS:
        ends = np.cumsum(data[f"{s}_lengths"])
        audio = np.split(data[f"{s}_audio"], ends[:-1]) if len(ends) else []
        out[s] = {
            "audio": audio,
            "text": [str(t) for t in data[f"{s}_text"]],
            "voice": [str(v) for v in data[f"{s}_voice"]],
        }
    return out


def real_recordings(root: Path = POCKETSPHINX) -> dict | None:
    """pocketsphinx-testdata's 10 real recordings (16 kHz, transcripts normalised), or None
    where the Debian package is not installed."""
    sets = (("cards", "cards.transcription"), ("librivox", "transcription"))
    if not all((root / d / t).is_file() for d, t in sets):
        return None
    audio, texts = [], []
    for folder, transcripts in sets:
        for line in (root / folder / transcripts).read_text().splitlines():
            m = re.match(r"\s*<s>(.*)</s>\s*\((.+)\)\s*$", line)
            if not m:
                continue
            file_id = m.group(2).split("/")[-1]
            with wave.open(str(root / folder / f"{file_id}.wav")) as w:
                if w.getframerate() != SAMPLE_RATE or w.getsampwidth() != 2:
                    continue
                audio.append(np.frombuffer(w.readframes(w.getnframes()), np.int16))
            texts.append(normalize(m.group(1)))
    return {"audio": audio, "text": texts, "voice": ["real"] * len(texts)}


class SynthSource:
    """The cached synthetic corpus (+ real recordings where installed) as fixed-shape batches
    for the CTC task (laser.train.ctc); a training batch is a pure function of (seed, step).
    Batches hold this process's rows (laser.data.batches.local_rows)."""

    def __init__(self, config: ml_collections.ConfigDict):
        d = config.data
        spec = dict(
            seed=d.synth_seed,
            sizes={"train": d.train_size, "valid": d.eval_size, "test": d.eval_size},
            min_words=d.min_words,
            max_words=d.max_words,
            max_chars=d.max_chars,
            max_samples=d.max_audio,
        )
        self.vocab = CharVocab()
        self.data = corpus(spec)
        real = real_recordings() if d.real_test else None
        self.eval_splits = ("valid", "test", "train") + (("real",) if real else ())
        if real:
            self.data["real"] = real
        self.targets = {s: [self.vocab.encode(t) for t in v["text"]] for s, v in self.data.items()}
        self.config, self.seed = config, config.train.seed

    def train_batch(self, step: int) -> dict:
        d = self.config.data
        rng = np.random.default_rng([self.seed, step])
        idx = rng.choice(len(self.targets["train"]), d.batch_size, replace=False)
        audio = [self.data["train"]["audio"][i] for i in idx]
        batch = pad_batch(
            audio, [self.targets["train"][i] for i in idx], d.batch_size, d.max_audio, d.max_target
        )
        return local_rows(batch)

    def eval_batches(self, split: str) -> Iterable[dict]:
        d = self.config.data
        audio, targets = self.data[split]["audio"], self.targets[split]
        # "train" is scored on its first eval_size utterances; "real" recordings are longer
        # than the synthetic ones and get their own length.
        n = len(self.data["valid"]["audio"]) if split == "train" else len(audio)
        max_audio = max(d.max_audio, max(len(a) for a in audio[:n]))
        max_target = max(d.max_target, max(len(t) for t in targets[:n]))
        for lo in range(0, n, d.batch_size):
            hi = min(n, lo + d.batch_size)
            yield local_rows(
                pad_batch(audio[lo:hi], targets[lo:hi], d.batch_size, max_audio, max_target)
            )
