"""tfds `librispeech` for the paper-scale Conformer, with AlgoPerf's splits and length filters.

train = train_clean100 + train_clean360 + train_other500; valid = dev_clean + dev_other;
test = test_clean; "train" is also scored (first `train.eval_batches` batches of train_clean100).
Utterances with transcripts over 256 characters or audio over 320,000 samples are dropped.
Transcripts are lower-cased and encoded with a SentencePiece model: `data.tokenizer_path`, or a
1024-piece unigram model trained once on train_clean100's transcripts and cached (AlgoPerf
trains its own the same way). Batches are padded on the host by
laser.data.speech_batches.pad_batch to fixed shapes [batch, max_audio] and [batch, max_target]
(one compilation).

Data order: the training stream is a seeded shuffle of this process's shard, repeated; a run
resumed at step s skips s batches (O(s), as the C4 loader).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

import ml_collections

from laser.data import tokenizer as tok
from laser.data.batches import StepBatches

SPLITS = {
    "train": "train_clean100+train_clean360+train_other500",
    "valid": "dev_clean+dev_other",
    "test": "test_clean",
    "train_eval": "train_clean100",
}
MAX_CHARS = 256
MAX_SAMPLES = 320_000
VOCAB = 1024


def tokenizer(config: ml_collections.ConfigDict):
    """The SentencePiece model of data.tokenizer_path, else one trained on train_clean100."""
    d = config.data
    if d.tokenizer_path:
        return tok.load(d.tokenizer_path)

    def texts():
        for ex in _examples("train_clean100", d.tfds_data_dir, None).as_numpy_iterator():
            yield ex["text"].decode().lower()

    return tok.train_or_load("librispeech_spm_1024", texts, VOCAB)


def _examples(split: str, data_dir: str, shuffle_seed: int | None, shard=(0, 1)):
    """Filtered examples of a tfds split as numpy dicts ("speech" int16, "text" bytes)."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    read = tfds.ReadConfig(shuffle_seed=shuffle_seed) if shuffle_seed is not None else None
    ds = tfds.load(
        "librispeech",
        split=split,
        data_dir=data_dir or None,
        shuffle_files=shuffle_seed is not None,
        read_config=read,
    )
    ds = ds.shard(shard[1], shard[0])
    ds = ds.filter(
        lambda ex: (
            (tf.strings.length(ex["text"]) <= MAX_CHARS)
            & (tf.shape(ex["speech"])[0] <= MAX_SAMPLES)
        )
    )
    return ds


class LibrispeechSource:
    """Batches of tfds librispeech for CTCTask; each process reads its own shard."""

    eval_splits = ("valid", "test", "train")

    def __init__(self, config: ml_collections.ConfigDict, process: int, processes: int):
        self.config, self.shard = config, (process, processes)
        self.local_batch = config.data.batch_size // processes
        self.vocab = tokenizer(config)
        self._train = StepBatches(self._train_from)

    def _batches(self, split: str, shuffle_seed: int | None, repeat: bool) -> Iterator[dict]:
        from laser.data.speech_batches import pad_batch

        d = self.config.data
        ds = _examples(SPLITS[split], d.tfds_data_dir, shuffle_seed, self.shard)
        if shuffle_seed is not None:
            ds = ds.shuffle(d.shuffle_buffer, seed=shuffle_seed, reshuffle_each_iteration=True)
        if repeat:
            ds = ds.repeat()
        audio, targets = [], []
        for ex in ds.as_numpy_iterator():
            audio.append(ex["speech"])
            targets.append(self.vocab.encode(ex["text"].decode().lower()))
            if len(audio) == self.local_batch:
                yield pad_batch(audio, targets, self.local_batch, d.max_audio, d.max_target)
                audio, targets = [], []
        if audio:  # the last, partial evaluation batch: filler rows have weight 0
            yield pad_batch(audio, targets, self.local_batch, d.max_audio, d.max_target)

    def _train_from(self, step: int) -> Iterator[dict]:
        batches = self._batches("train", self.config.train.seed, repeat=True)
        return itertools.islice(batches, step, None)  # resume: skip the batches trained on

    def train_batch(self, step: int) -> dict:
        return self._train(step)

    def eval_batches(self, split: str) -> Iterable[dict]:
        name = "train_eval" if split == "train" else split
        n = self.config.train.eval_batches
        for i, batch in enumerate(self._batches(name, None, repeat=False)):
            if n and i == n:
                return
            yield batch
