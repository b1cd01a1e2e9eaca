"""Fashion-MNIST (tiny ViT profile): 60k train + 10k test 28x28 grey images, 10 classes.

Read from Debian's `dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist/*-idx?-ubyte.gz,
MIT licensed), which installs offline with apt. Splits: "test" is the official 10k test set;
"valid" is 5,000 train images chosen by a fixed permutation (independent of the run's seed, so
every run validates on the same images) and "train" the other 55,000. Training batches are a
pure function of (seed, step): random images with a light augmentation (random translation by
up to 2 pixels with zero padding, horizontal flip), normalised by the train set's mean and std.
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

import numpy as np

from laser.configs import ConfigError

DATA_DIR = Path("/usr/share/datasets/fashion-mnist")
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
SPLITS = ("train", "valid", "test")
NUM_CLASSES = 10
VALID_SIZE = 5_000
MEAN, STD = 0.2860, 0.3530  # of the 60k train images, pixel values in [0, 1]
SHIFT = 2  # pixels of random translation


def _read_idx(path: Path, header: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=header)


@functools.cache
def _official(split: str, data_dir: str) -> tuple[np.ndarray, np.ndarray]:
    images_file, labels_file = FILES[split]
    paths = [Path(data_dir) / images_file, Path(data_dir) / labels_file]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ConfigError(
            f"Fashion-MNIST file {missing[0]} not found; accepted: the files of Debian's "
            "dataset-fashion-mnist (as root: apt-get install dataset-fashion-mnist; or set "
            "data.data_dir to a folder holding the four *-idx?-ubyte.gz files)"
        )
    images = _read_idx(paths[0], 16).reshape(-1, 28, 28)
    labels = _read_idx(paths[1], 8).astype(np.int32)
    return images, labels


def load(split: str, data_dir: str = "") -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [N, 28, 28], labels int32 [N]) of "train", "valid" or "test"."""
    if split not in SPLITS:
        raise ConfigError(f"Fashion-MNIST split {split!r}: accepted: {', '.join(SPLITS)}")
    data_dir = data_dir or str(DATA_DIR)
    if split == "test":
        return _official("test", data_dir)
    images, labels = _official("train", data_dir)
    order = np.random.default_rng(12345).permutation(len(images))  # fixed, not the run's seed
    rows = order[:VALID_SIZE] if split == "valid" else np.sort(order[VALID_SIZE:])
    return images[rows], labels[rows]


def normalise(images: np.ndarray) -> np.ndarray:
    """uint8 [N, 28, 28] -> float32 [N, 28, 28, 1], zero mean and unit std over the train set."""
    return ((images.astype(np.float32) / 255.0 - MEAN) / STD)[..., None]


def augment(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random translation by up to SHIFT pixels (zero padding) and horizontal flip, per image."""
    n, h, w = images.shape
    padded = np.pad(images, ((0, 0), (SHIFT, SHIFT), (SHIFT, SHIFT)))
    dy, dx = rng.integers(0, 2 * SHIFT + 1, size=(2, n))
    rows = dy[:, None] + np.arange(h)  # [N, H]
    cols = dx[:, None] + np.arange(w)  # [N, W]
    out = padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
    flip = rng.random(n) < 0.5
    out[flip] = out[flip, :, ::-1]
    return out


def train_batch(
    images: np.ndarray, labels: np.ndarray, step: int, seed: int, batch_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Batch `step`: (augmented normalised images [B, 28, 28, 1], labels [B]), drawn with
    replacement by np.random.default_rng([seed, step]): a pure function of (seed, step)."""
    rng = np.random.default_rng([seed, step])
    rows = rng.integers(0, len(images), size=batch_size)
    return normalise(augment(images[rows], rng)), labels[rows]
