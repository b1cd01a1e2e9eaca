"""Image classification (ViT, paper Table 4): label-smoothed cross-entropy on soft labels.

Batches hold "images" float32 [B, H, W, C], "labels" float32 [B, classes] (one-hot, or a mixup
blend of two one-hots) and "weights" float32 [B] (0 on the rows that pad the last eval batch).
The loss smooths the labels during training only (AlgoPerf evaluates without smoothing); the
error rate counts argmax(logits) != argmax(labels). Evaluation splits: "valid", "test" and
"train" (a fixed subset of the training images with the evaluation preprocessing, as AlgoPerf's
train-error measurement), so a run's final metrics carry valid/error, test/error, train/error
and their losses (the eval "train/loss" replaces the last logged training-batch loss there).

Data: "fashion_mnist" (tiny profiles; laser.data.fashion_mnist) or "imagenet" (paper profiles;
tfds imagenet2012 + imagenet_v2 through laser.data.imagenet).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from laser.data.batches import StepBatches, local_rows
from laser.nn import vit
from laser.train.task import Batch, Problems, Task

DATASETS = ("fashion_mnist", "imagenet")


def _one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    return np.eye(classes, dtype=np.float32)[labels]


def _padded_batches(
    images: np.ndarray, labels: np.ndarray, batch_size: int, classes: int
) -> Iterator[Batch]:
    """Normalised eval batches in order; the last one padded with weight-0 rows."""
    from laser.data import fashion_mnist

    for lo in range(0, len(images), batch_size):
        x, y = images[lo : lo + batch_size], labels[lo : lo + batch_size]
        pad = batch_size - len(x)
        weights = np.concatenate([np.ones(len(x)), np.zeros(pad)]).astype(np.float32)
        x = np.concatenate([x, np.zeros((pad, *x.shape[1:]), x.dtype)])
        y = np.concatenate([y, np.zeros(pad, y.dtype)])
        yield {
            "images": fashion_mnist.normalise(x),
            "labels": _one_hot(y, classes),
            "weights": weights,
        }


class ClassificationTask(Task):
    """Label-smoothed cross-entropy and error rate of a ViT; eval splits valid/test/train."""

    eval_splits = ("valid", "test", "train")

    @classmethod
    def check_config(cls, config: ml_collections.ConfigDict) -> Problems:
        d, m = config.data, config.model
        if d.name not in DATASETS:
            return [("data.name", d.name, ", ".join(DATASETS))]
        try:
            size = vit.decode_variant(m.variant)
        except ValueError:
            return [("model.variant", m.variant, "<size>/<patch>, e.g. S/16 (laser/nn/vit.py)")]
        if size["width"] % size["num_heads"] or size["width"] % 4:
            return [("model.variant", m.variant, "a width divisible by 4 and by the heads")]
        if d.image_size % size["patch_size"]:
            patch = size["patch_size"]
            return [("data.image_size", d.image_size, f"a multiple of the patch {patch}")]
        for key in ("eval_batch_size", "train_eval_size"):
            if d[key] <= 0:
                return [(f"data.{key}", d[key], "an integer > 0")]
        if d.eval_batch_size % jax.process_count():
            return [("data.eval_batch_size", d.eval_batch_size, "a multiple of the processes")]
        if not 0.0 <= config.train.label_smoothing < 1.0:
            return [("train.label_smoothing", config.train.label_smoothing, "0 <= value < 1")]
        if not 0.0 <= m.dropout_rate < 1.0:
            return [("model.dropout_rate", m.dropout_rate, "0 <= value < 1")]
        return super().check_config(config)

    def __init__(self, config: ml_collections.ConfigDict):
        super().__init__(config)
        self.model = vit.from_config(config.model)
        d = config.data
        self.classes = config.model.num_classes
        self.batch_size, self.seed = d.batch_size, config.train.seed
        self.local_batch = self.batch_size // jax.process_count()
        self.label_smoothing = config.train.label_smoothing
        if d.name == "fashion_mnist":
            from laser.data import fashion_mnist

            self._arrays = {
                s: fashion_mnist.load(s, d.data_dir) for s in ("train", "valid", "test")
            }
        else:
            self._arrays = None
            self._imagenet_train = StepBatches(self._imagenet_train_from)

    def example_batch(self) -> Batch:
        d = self.config.data
        return {
            "images": np.zeros(
                (self.batch_size, d.image_size, d.image_size, d.channels), np.float32
            ),
            "labels": np.zeros((self.batch_size, self.classes), np.float32),
            "weights": np.ones((self.batch_size,), np.float32),
        }

    def model_inputs(self, batch: Batch) -> tuple:
        return (batch["images"],)

    def loss_fn(self, params, model_state, batch, rng, train: bool):
        rngs = {"dropout": rng} if train and rng is not None else {}
        logits = self.model.apply(
            {"params": params}, batch["images"], deterministic=not train, rngs=rngs
        )
        labels = batch["labels"]
        if train and self.label_smoothing:
            labels = optax.smooth_labels(labels, self.label_smoothing)
        losses = optax.softmax_cross_entropy(logits, labels)
        wrong = jnp.argmax(logits, -1) != jnp.argmax(batch["labels"], -1)
        weights = batch["weights"]
        loss_sum, weight_sum = jnp.sum(losses * weights), jnp.sum(weights)
        aux = {
            "loss_sum": loss_sum,
            "error_sum": jnp.sum(wrong * weights),
            "weight_sum": weight_sum,
        }
        return loss_sum / jnp.maximum(weight_sum, 1.0), (aux, model_state)

    def train_batch(self, step: int) -> Batch:
        if self._arrays is not None:
            from laser.data import fashion_mnist

            images, labels = self._arrays["train"]
            x, y = fashion_mnist.train_batch(images, labels, step, self.seed, self.batch_size)
            batch = {
                "images": x,
                "labels": _one_hot(y, self.classes),
                "weights": np.ones(self.batch_size, np.float32),
            }
            return local_rows(batch)
        return self._imagenet_train(step)

    def _imagenet_train_from(self, step: int):
        from laser.data import imagenet

        d, index, count = self.config.data, jax.process_index(), jax.process_count()
        ds = imagenet.train_dataset(d, self.local_batch, self.seed, index, count)
        return ds.skip(step).as_numpy_iterator()

    def eval_batches(self, split: str) -> Iterable[Batch]:
        d, limit = self.config.data, self.config.train.eval_batches
        if self._arrays is not None:
            images, labels = self._arrays[split]
            if split == "train":  # a fixed un-augmented subset
                images, labels = images[: d.train_eval_size], labels[: d.train_eval_size]
            batches = _padded_batches(images, labels, d.eval_batch_size, self.classes)
            batches = (local_rows(b) for b in batches)
        else:
            from laser.data import imagenet

            count = jax.process_count()
            local = d.eval_batch_size // count
            batches = imagenet.eval_dataset(
                d, split, local, jax.process_index(), count
            ).as_numpy_iterator()
        for i, batch in enumerate(batches):
            if limit and i >= limit:
                return
            yield batch
