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

from laser.data.speech_batches import pad_batch
from laser.data.synth_speech import SynthSource
from laser.nn import conformer
from laser.train.task import Batch, Problems, Task

DATASETS = ("synth_speech", "librispeech")


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


class CTCTask(Task):
    """CTC loss of a Conformer, greedy decoding and WER; eval splits from the data source."""

    @classmethod
    def check_config(cls, config: ml_collections.ConfigDict) -> Problems:
        d, m = config.data, config.model
        if d.name not in DATASETS:
            return [("data.name", d.name, ", ".join(DATASETS))]
        if m.model_dim % m.num_heads:
            heads = m.num_heads
            return [("model.model_dim", m.model_dim, f"a multiple of model.num_heads={heads}")]
        if d.name == "synth_speech":
            from laser.data.synth_speech import CharVocab

            if m.vocab_size != CharVocab.size:
                return [("model.vocab_size", m.vocab_size, f"{CharVocab.size} (characters)")]
        for key in ("max_audio", "max_target"):
            if d[key] <= 0:
                return [(f"data.{key}", d[key], "an integer > 0")]
        return super().check_config(config)

    def __init__(self, config: ml_collections.ConfigDict):
        super().__init__(config)
        self.model = conformer.from_config(config.model)
        d = config.data
        self.batch_size = d.batch_size
        if d.name == "synth_speech":
            self._source = SynthSource(config)
        else:
            from laser.data.librispeech import LibrispeechSource

            self._source = LibrispeechSource(config, jax.process_index(), jax.process_count())
        self.vocab = self._source.vocab
        self.eval_splits = self._source.eval_splits

    def example_batch(self) -> Batch:
        d = self.config.data
        return pad_batch([], [], self.batch_size, d.max_audio, d.max_target)

    def model_inputs(self, batch: Batch) -> tuple:
        return (batch["audio"], batch["audio_paddings"])

    def loss_fn(self, params, model_state, batch, rng, train: bool):
        variables = {"params": params, **model_state}
        inputs = self.model_inputs(batch)
        if train:
            dropout, specaug = jax.random.split(rng)
            (logits, pad), model_state = self.model.apply(
                variables,
                *inputs,
                train=True,
                rngs={"dropout": dropout, "specaug": specaug},
                mutable=list(model_state),
            )
        else:
            logits, pad = self.model.apply(variables, *inputs, train=False)
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
        return loss_sum / jnp.maximum(weight_sum, 1.0), (aux, model_state)

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

    def train_batch(self, step: int) -> Batch:
        return self._source.train_batch(step)

    def eval_batches(self, split: str) -> Iterable[Batch]:
        return self._source.eval_batches(split)
