"""The CTC speech-recognition task: Conformer (laser.nn.conformer), optax CTC loss, greedy
decoding and word error rate.

Data: "synth_speech" (tiny profiles; laser.data.synth_speech, character vocabulary) or
"librispeech" (paper profiles; tfds through laser.data.librispeech, SentencePiece 1024).
Batches hold "audio" [B, N] float in [-1, 1], "audio_paddings" [B, N], "targets" [B, L] int32
(0 = blank/padding), "target_paddings" [B, L] and "weights" [B] (0 for filler rows).

Metrics: the training loss is the mean CTC loss per utterance (AlgoPerf). Evaluation reports
"ctc_loss" (named so, not "loss", because "train" is also an evaluation split here and its
rows must not be mistaken for the training loss) and "wer" = word edits (jiwer) / reference
words over the split, after greedy decoding on the host (host_sums).
"""

from __future__ import annotations

from collections.abc import Iterable

import jax
import jax.numpy as jnp
import jiwer
import ml_collections
import numpy as np
import optax

from laser.nn.conformer import Conformer
from laser.train.task import Batch

DATASETS = ("synth_speech", "librispeech")


def validate(config: ml_collections.ConfigDict) -> list[tuple[str, object, str]]:
    """Problems with the data and model sections: (key, value, what is accepted)."""
    d, m = config.data, config.model
    if d.name not in DATASETS:
        return [("data.name", d.name, ", ".join(DATASETS))]
    if m.model_dim % m.num_heads:
        return [("model.model_dim", m.model_dim, f"a multiple of model.num_heads={m.num_heads}")]
    if d.name == "synth_speech":
        from laser.data.synth_speech import CharVocab

        if m.vocab_size != CharVocab.size:
            return [("model.vocab_size", m.vocab_size, f"{CharVocab.size} (characters)")]
    for key in ("max_audio", "max_target"):
        if d[key] <= 0:
            return [(f"data.{key}", d[key], "an integer > 0")]
    return []


def build_model(m: ml_collections.ConfigDict) -> Conformer:
    return Conformer(
        vocab_size=m.vocab_size,
        dim=m.model_dim,
        num_heads=m.num_heads,
        num_layers=m.num_layers,
        kernel_size=m.kernel_size,
        attention=m.attention,
        temperature=m.temperature,
        per_dim_scale=m.per_dim_scale,
        qk_norm=m.qk_norm,
        dropout_rate=m.dropout_rate,
        specaug=m.specaug,
        bn_momentum=m.bn_momentum,
        subsample_channels=m.subsample_channels,
    )


def greedy_decode(frames: np.ndarray, paddings: np.ndarray) -> list[list[int]]:
    """Best-path CTC decoding: per utterance, the argmax labels of the valid frames with
    repeats merged and blanks (0) removed. frames [B, T] int, paddings [B, T] (1 = padded)."""
    out = []
    for row, pad in zip(np.asarray(frames), np.asarray(paddings), strict=True):
        ids = row[pad == 0]
        keep = np.ones(len(ids), bool)
        keep[1:] = ids[1:] != ids[:-1]
        out.append([int(i) for i in ids[keep] if i != 0])
    return out


def word_edits(references: list[str], hypotheses: list[str]) -> tuple[int, int]:
    """(substitutions + deletions + insertions, reference words), word level, via jiwer."""
    if not references:
        return 0, 0
    o = jiwer.process_words(references, hypotheses)
    words = sum(len(r.split()) for r in references)
    return o.substitutions + o.deletions + o.insertions, words


def pad_batch(audio: list[np.ndarray], targets: list[list[int]], rows: int, n: int, length: int):
    """A fixed-shape batch of `rows` rows (missing ones are zero-weight filler)."""
    batch = {
        "audio": np.zeros([rows, n], np.float32),
        "audio_paddings": np.ones([rows, n], np.float32),
        "targets": np.zeros([rows, length], np.int32),
        "target_paddings": np.ones([rows, length], np.float32),
        "weights": np.zeros([rows], np.float32),
    }
    for i, (a, t) in enumerate(zip(audio, targets, strict=True)):
        a, t = a[:n], t[:length]
        batch["audio"][i, : len(a)] = a.astype(np.float32) / 32768.0
        batch["audio_paddings"][i, : len(a)] = 0.0
        batch["targets"][i, : len(t)] = t
        batch["target_paddings"][i, : len(t)] = 0.0
        batch["weights"][i] = 1.0
    return batch


class CTCTask:
    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config
        self.model = build_model(config.model)
        d = config.data
        self.batch_size, self.seed = d.batch_size, config.train.seed
        self.process, self.processes = jax.process_index(), jax.process_count()
        self.local_batch = self.batch_size // self.processes
        if d.name == "synth_speech":
            self._source = _SynthSource(config)
        else:
            from laser.data.librispeech import LibrispeechSource

            self._source = LibrispeechSource(config, self.process, self.processes)
        self.vocab = self._source.vocab
        self.eval_splits = self._source.eval_splits

    def example_batch(self) -> Batch:
        d = self.config.data
        return pad_batch([], [], self.batch_size, d.max_audio, d.max_target)

    def model_inputs(self, batch: Batch) -> tuple:
        return (batch["audio"], batch["audio_paddings"])

    def loss_fn(self, params, batch, rng, train: bool, model_state=None):
        variables = {"params": params, **(model_state or {})}
        inputs = self.model_inputs(batch)
        if train:
            dropout, specaug = jax.random.split(rng)
            (logits, pad), new_state = self.model.apply(
                variables,
                *inputs,
                train=True,
                rngs={"dropout": dropout, "specaug": specaug},
                mutable=list(model_state or {}),
            )
        else:
            logits, pad = self.model.apply(variables, *inputs, train=False)
            new_state = model_state
        per_utterance = optax.ctc_loss(
            logits, pad, batch["targets"], batch["target_paddings"], blank_id=0
        )
        weights = batch["weights"]
        loss_sum, weight_sum = jnp.sum(per_utterance * weights), jnp.sum(weights)
        aux = {
            "ctc_loss_sum": loss_sum,
            "weight_sum": weight_sum,
            "frames": jnp.argmax(logits, axis=-1).astype(jnp.int32),  # for host_sums
            "frame_paddings": pad,
        }
        loss = loss_sum / jnp.maximum(weight_sum, 1.0)
        return (loss, (aux, new_state)) if model_state is not None else (loss, aux)

    def host_sums(self, aux, batch: Batch) -> dict[str, float]:
        """Word edits and reference words of the batch's real rows after greedy decoding."""
        hyps = greedy_decode(aux["frames"], aux["frame_paddings"])
        refs, outs = [], []
        for i, w in enumerate(np.asarray(batch["weights"])):
            if w > 0:
                target = batch["targets"][i][batch["target_paddings"][i] == 0]
                refs.append(self.vocab.decode([int(t) for t in target]))
                outs.append(self.vocab.decode(hyps[i]))
        edits, words = word_edits(refs, outs)
        return {"wer_sum": float(edits), "wer_count": float(words)}

    def _local(self, batch: Batch) -> Batch:
        lo = self.process * self.local_batch
        return {k: v[lo : lo + self.local_batch] for k, v in batch.items()}

    def train_batch(self, step: int) -> Batch:
        return self._source.train_batch(step, self._local)

    def eval_batches(self, split: str) -> Iterable[Batch]:
        return self._source.eval_batches(split, self._local)

    def items(self, batch: Batch) -> int:
        return int(np.asarray(batch["weights"]).sum())


class _SynthSource:
    """The cached synthetic corpus (+ real recordings where installed) as fixed-shape batches;
    a training batch is a pure function of (seed, step)."""

    def __init__(self, config: ml_collections.ConfigDict):
        from laser.data import synth_speech

        d = config.data
        spec = dict(
            seed=d.synth_seed,
            sizes={"train": d.train_size, "valid": d.eval_size, "test": d.eval_size},
            min_words=d.min_words,
            max_words=d.max_words,
            max_chars=d.max_chars,
            max_samples=d.max_audio,
        )
        self.vocab = synth_speech.CharVocab()
        self.data = synth_speech.corpus(spec)
        real = synth_speech.real_recordings() if d.real_test else None
        self.eval_splits = ("valid", "test", "train") + (("real",) if real else ())
        if real:
            self.data["real"] = real
        self.targets = {s: [self.vocab.encode(t) for t in v["text"]] for s, v in self.data.items()}
        self.config, self.seed = config, config.train.seed

    def train_batch(self, step: int, local) -> Batch:
        d = self.config.data
        rng = np.random.default_rng([self.seed, step])
        idx = rng.choice(len(self.targets["train"]), d.batch_size, replace=False)
        audio = [self.data["train"]["audio"][i] for i in idx]
        batch = pad_batch(
            audio, [self.targets["train"][i] for i in idx], d.batch_size, d.max_audio, d.max_target
        )
        return local(batch)

    def eval_batches(self, split: str, local) -> Iterable[Batch]:
        d = self.config.data
        audio, targets = self.data[split]["audio"], self.targets[split]
        # "train" is scored on its first eval_size utterances; "real" recordings are longer
        # than the synthetic ones and get their own length.
        n = len(self.data["valid"]["audio"]) if split == "train" else len(audio)
        max_audio = max(d.max_audio, max(len(a) for a in audio[:n]))
        max_target = max(d.max_target, max(len(t) for t in targets[:n]))
        for lo in range(0, n, d.batch_size):
            hi = min(n, lo + d.batch_size)
            yield local(
                pad_batch(audio[lo:hi], targets[lo:hi], d.batch_size, max_audio, max_target)
            )
