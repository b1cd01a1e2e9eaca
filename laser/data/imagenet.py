"""The paper-scale ImageNet pipeline (AlgoPerf imagenet_vit) and its augmentation ops, in tf.data.

Train: inception crop (area 0.08-1, aspect 3/4-4/3, 10 attempts, else the whole image), bicubic
resize, horizontal flip, RandAugment (2 layers, magnitude 10), normalisation, then per batch
mixup (alpha 0.2: one Beta(alpha, alpha) weight for the batch, blended with the batch rolled by
one). Eval: centre crop of crop_fraction (224/256) of the shorter side, bicubic resize,
normalisation; batches padded with weight-0 rows. Splits: "valid" = imagenet2012 validation,
"test" = imagenet_v2/matched-frequency test, "train" = the first `train_eval_size` train
images with the eval preprocessing. Every random op is stateless, seeded by (seed, example
index) or (seed, batch index): a run's data order is a function of its seed. TensorFlow is
imported inside the functions so that `import laser.data` stays free of it.

RandAugment follows the TPU/AlgoPerf version: each layer picks one of 16 ops uniformly and applies
it with a probability drawn from U(0.2, 0.8); magnitude 10 of 10 sets rotate 30 degrees, shear
0.3, translate 100 pixels (each with a random sign), posterize 4 bits, solarize threshold 256,
solarize-add 110, colour/contrast/brightness/sharpness factor 1.9, cutout 40; fill value 128.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import ml_collections

if TYPE_CHECKING:
    import tensorflow as tf

MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)
FILL = 128
MAX_LEVEL = 10.0


# ---------------------------------------------------------------- geometric and colour ops (uint8)


def _blend(a: tf.Tensor, b: tf.Tensor, factor) -> tf.Tensor:
    """a + factor * (b - a), clipped to uint8 (factor > 1 extrapolates, as PIL's enhancers)."""
    import tensorflow as tf

    a, b = tf.cast(a, tf.float32), tf.cast(b, tf.float32)
    return tf.cast(tf.clip_by_value(a + factor * (b - a), 0.0, 255.0), tf.uint8)


def _transform(image: tf.Tensor, matrix: list) -> tf.Tensor:
    """Projective transform (8 coefficients, output -> input coordinates), fill FILL."""
    import tensorflow as tf

    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.cast(image, tf.float32)[None],
        transforms=tf.cast(tf.stack(matrix), tf.float32)[None],
        output_shape=tf.shape(image)[:2],
        fill_value=float(FILL),
        interpolation="NEAREST",
        fill_mode="CONSTANT",
    )
    return tf.cast(out[0], tf.uint8)


def rotate(image, degrees):
    import tensorflow as tf

    h, w = tf.cast(tf.shape(image)[0], tf.float32), tf.cast(tf.shape(image)[1], tf.float32)
    a = degrees * math.pi / 180.0
    c, s = tf.cos(a), tf.sin(a)
    # Rotation about the centre: input = R^-1 (output - centre) + centre.
    x0 = ((w - 1) - (c * (w - 1) - s * (h - 1))) / 2.0
    y0 = ((h - 1) - (s * (w - 1) + c * (h - 1))) / 2.0
    return _transform(image, [c, -s, x0, s, c, y0, 0.0, 0.0])


def shear_x(image, level):
    return _transform(image, [1.0, level, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0])


def shear_y(image, level):
    return _transform(image, [1.0, 0.0, 0.0, level, 1.0, 0.0, 0.0, 0.0])


def translate_x(image, pixels):
    return _transform(image, [1.0, 0.0, -pixels, 0.0, 1.0, 0.0, 0.0, 0.0])


def translate_y(image, pixels):
    return _transform(image, [1.0, 0.0, 0.0, 0.0, 1.0, -pixels, 0.0, 0.0])


def autocontrast(image):
    """Per channel, stretch [min, max] to [0, 255] (channels with max == min unchanged)."""
    import tensorflow as tf

    x = tf.cast(image, tf.float32)
    lo = tf.reduce_min(x, axis=(0, 1), keepdims=True)
    hi = tf.reduce_max(x, axis=(0, 1), keepdims=True)
    scaled = (x - lo) * 255.0 / tf.maximum(hi - lo, 1.0)
    return tf.cast(tf.clip_by_value(tf.where(hi > lo, scaled, x), 0.0, 255.0), tf.uint8)


def equalize(image):
    """Per-channel histogram equalisation (PIL ImageOps.equalize)."""
    import tensorflow as tf

    def channel(c):
        hist = tf.histogram_fixed_width(tf.cast(c, tf.int32), [0, 255], nbins=256)
        last = tf.gather(hist, tf.reduce_max(tf.where(hist > 0)))  # count of the top value
        step = (tf.reduce_sum(hist) - last) // 255
        lut = (tf.cumsum(hist) - hist + step // 2) // tf.maximum(step, 1)
        lut = tf.clip_by_value(lut, 0, 255)
        return tf.where(step == 0, c, tf.cast(tf.gather(lut, tf.cast(c, tf.int32)), tf.uint8))

    return tf.stack([channel(image[..., i]) for i in range(3)], axis=-1)


def invert(image):
    return 255 - image


def posterize(image, bits: int):
    import tensorflow as tf

    shift = tf.cast(8 - bits, tf.uint8)
    return tf.bitwise.left_shift(tf.bitwise.right_shift(image, shift), shift)


def solarize(image, threshold):
    import tensorflow as tf

    return tf.where(tf.cast(image, tf.int32) < threshold, image, 255 - image)


def solarize_add(image, addition, threshold=128):
    import tensorflow as tf

    added = tf.cast(tf.clip_by_value(tf.cast(image, tf.int32) + addition, 0, 255), tf.uint8)
    return tf.where(tf.cast(image, tf.int32) < threshold, added, image)


def color(image, factor):
    import tensorflow as tf

    return _blend(tf.image.grayscale_to_rgb(tf.image.rgb_to_grayscale(image)), image, factor)


def contrast(image, factor):
    import tensorflow as tf

    mean = tf.reduce_mean(tf.cast(tf.image.rgb_to_grayscale(image), tf.float32))
    return _blend(tf.fill(tf.shape(image), mean), image, factor)


def brightness(image, factor):
    import tensorflow as tf

    return _blend(tf.zeros_like(image), image, factor)


def sharpness(image, factor):
    """Blend with a 3x3 smoothed copy (centre weight 5, PIL's SMOOTH), borders kept."""
    import tensorflow as tf

    x = tf.cast(image, tf.float32)[None]
    kernel = tf.constant([[1, 1, 1], [1, 5, 1], [1, 1, 1]], tf.float32) / 13.0
    kernel = tf.tile(kernel[:, :, None, None], [1, 1, 3, 1])
    smooth = tf.nn.depthwise_conv2d(x, kernel, [1, 1, 1, 1], "VALID")[0]
    smooth = tf.pad(smooth, [[1, 1], [1, 1], [0, 0]])
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    inner = tf.pad(tf.ones([h - 2, w - 2, 3], tf.bool), [[1, 1], [1, 1], [0, 0]])
    degenerate = tf.where(inner, smooth, x[0])
    return _blend(degenerate, image, factor)


def cutout(image, size: int, rng):
    """A (2 size)^2 square of FILL at a random centre (clipped at the borders)."""
    import tensorflow as tf

    h, w = tf.shape(image)[0], tf.shape(image)[1]
    cy = tf.random.stateless_uniform([], rng, 0, h, tf.int32)
    cx = tf.random.stateless_uniform([], rng + 1, 0, w, tf.int32)
    ys, xs = tf.range(h)[:, None], tf.range(w)[None, :]
    inside = (tf.abs(ys - cy) < size) & (tf.abs(xs - cx) < size)
    return tf.where(inside[:, :, None], tf.cast(FILL, image.dtype), image)


def _randaugment_layer(image: tf.Tensor, seeds: tf.Tensor, level: float) -> tf.Tensor:
    """One RandAugment layer: a uniformly chosen op, applied with probability U(0.2, 0.8)."""
    import tensorflow as tf

    sign = tf.where(tf.random.stateless_uniform([], seeds[2]) < 0.5, -1.0, 1.0)
    factor = level * 1.8 + 0.1
    ops = [
        autocontrast,
        equalize,
        invert,
        lambda x: rotate(x, sign * level * 30.0),
        lambda x: posterize(x, int(level * 4)),
        lambda x: solarize(x, int(level * 256)),
        lambda x: color(x, factor),
        lambda x: contrast(x, factor),
        lambda x: brightness(x, factor),
        lambda x: sharpness(x, factor),
        lambda x: shear_x(x, sign * level * 0.3),
        lambda x: shear_y(x, sign * level * 0.3),
        lambda x: translate_x(x, sign * level * 100.0),
        lambda x: translate_y(x, sign * level * 100.0),
        lambda x: cutout(x, int(level * 40), seeds[3]),
        lambda x: solarize_add(x, int(level * 110)),
    ]
    which = tf.random.stateless_uniform([], seeds[0], 0, len(ops), tf.int32)
    prob = tf.random.stateless_uniform([], seeds[1], 0.2, 0.8)
    applied = tf.switch_case(which, [lambda op=op: op(image) for op in ops])
    coin = tf.random.stateless_uniform([], seeds[1] + 7)
    return tf.ensure_shape(tf.where(coin < prob, applied, image), [None, None, 3])


def randaugment(
    image: tf.Tensor, rng: tf.Tensor, layers: int = 2, magnitude: float = 10
) -> tf.Tensor:
    """RandAugment on a uint8 [H, W, 3] image; rng a stateless seed [2]."""
    import tensorflow as tf

    for layer in range(layers):
        seeds = tf.random.experimental.stateless_split(rng + layer, 4)
        image = _randaugment_layer(image, seeds, magnitude / MAX_LEVEL)
    return image


# --------------------------------------------------------------------- crops, mixup, pipelines


def inception_crop(image: tf.Tensor, rng: tf.Tensor, size: int) -> tf.Tensor:
    """Random crop (area 0.08-1, aspect 3/4-4/3), bicubic resize to size x size (float32)."""
    import tensorflow as tf

    begin, crop_size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image),
        bounding_boxes=tf.constant([0.0, 0.0, 1.0, 1.0], tf.float32, [1, 1, 4]),
        seed=rng,
        min_object_covered=0.1,
        aspect_ratio_range=(3 / 4, 4 / 3),
        area_range=(0.08, 1.0),
        max_attempts=10,
        use_image_if_no_bounding_boxes=True,
    )
    crop = tf.slice(image, begin, crop_size)
    return tf.image.resize(crop, [size, size], method="bicubic")


def center_crop(image: tf.Tensor, size: int, fraction: float) -> tf.Tensor:
    """Centre crop of `fraction` of the shorter side, bicubic resize to size x size (float32)."""
    import tensorflow as tf

    h, w = tf.shape(image)[0], tf.shape(image)[1]
    side = tf.cast(fraction * tf.cast(tf.minimum(h, w), tf.float32), tf.int32)
    crop = tf.image.crop_to_bounding_box(
        image, (h - side + 1) // 2, (w - side + 1) // 2, side, side
    )
    return tf.image.resize(crop, [size, size], method="bicubic")


def normalise(image: tf.Tensor) -> tf.Tensor:
    import tensorflow as tf

    return (tf.cast(image, tf.float32) - tf.constant(MEAN)) / tf.constant(STD)


def mixup(images: tf.Tensor, labels: tf.Tensor, rng: tf.Tensor, alpha: float):
    """One Beta(alpha, alpha) weight for the batch; blend with the batch rolled by one."""
    import tensorflow as tf

    g = tf.random.stateless_gamma([2], rng, alpha=alpha)
    lam = g[0] / (g[0] + g[1])
    images = lam * images + (1 - lam) * tf.roll(images, 1, axis=0)
    labels = lam * labels + (1 - lam) * tf.roll(labels, 1, axis=0)
    return images, labels


def _train_example(d: ml_collections.ConfigDict, classes: int, seed: tf.Tensor, example) -> dict:
    import tensorflow as tf

    seeds = tf.random.experimental.stateless_split(seed, 3)
    image = inception_crop(example["image"], seeds[0], d.image_size)
    image = tf.image.stateless_random_flip_left_right(image, seeds[1])
    image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
    if d.randaugment_layers:
        image = randaugment(image, seeds[2], d.randaugment_layers, d.randaugment_magnitude)
    return {"images": normalise(image), "labels": tf.one_hot(example["label"], classes)}


def _builder(name: str, data_dir: str):
    import tensorflow_datasets as tfds

    return tfds.builder(name, data_dir=data_dir or None)


def train_dataset(
    d: ml_collections.ConfigDict, local_batch: int, seed: int, process: int, processes: int
) -> tf.data.Dataset:
    """This process's infinite stream of augmented, mixed-up training batches."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    classes = _builder(d.train_name, d.tfds_data_dir).info.features["label"].num_classes
    split = tfds.even_splits("train", n=processes, drop_remainder=True)[process]
    ds = _builder(d.train_name, d.tfds_data_dir).as_dataset(
        split=split,
        shuffle_files=True,
        read_config=tfds.ReadConfig(shuffle_seed=seed + process),
    )
    ds = ds.repeat().shuffle(16 * local_batch, seed=seed + process)
    base = tf.constant([seed, process], tf.int64)
    ds = ds.enumerate().map(
        lambda i, ex: _train_example(d, classes, tf.stack([base[0] * 1_000_003 + i, base[1]]), ex),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    ds = ds.batch(local_batch, drop_remainder=True)
    if d.mixup_alpha > 0:

        def mix(i, b):
            images, labels = mixup(
                b["images"], b["labels"], tf.stack([-base[0] - 1, i]), d.mixup_alpha
            )
            return {"images": images, "labels": labels}

        ds = ds.enumerate().map(mix, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ones = tf.ones([local_batch], tf.float32)
    return ds.map(lambda b: {**b, "weights": ones}).prefetch(tf.data.AUTOTUNE)


EVAL_SPLITS = {"valid": ("valid_name", "validation"), "test": ("test_name", "test")}


def eval_dataset(
    d: ml_collections.ConfigDict, split: str, local_batch: int, process: int, processes: int
) -> tf.data.Dataset:
    """This process's eval batches of `split` ("valid", "test", "train"), the last padded."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    if split == "train":
        name, tfds_split = d.train_name, f"train[:{d.train_eval_size}]"
    else:
        key, tfds_split = EVAL_SPLITS[split]
        name = d[key]
    builder = _builder(name, d.tfds_data_dir)
    classes = builder.info.features["label"].num_classes
    part = tfds.even_splits(tfds_split, n=processes)[process]
    ds = builder.as_dataset(split=part, shuffle_files=False)

    def prepare(ex):
        image = center_crop(ex["image"], d.image_size, d.crop_fraction)
        image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
        return {"images": normalise(image), "labels": tf.one_hot(ex["label"], classes)}

    ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).batch(local_batch)

    def pad(b):
        n = local_batch - tf.shape(b["labels"])[0]
        return {
            "images": tf.pad(b["images"], [[0, n], [0, 0], [0, 0], [0, 0]]),
            "labels": tf.pad(b["labels"], [[0, n], [0, 0]]),
            "weights": tf.pad(tf.ones_like(b["labels"][:, 0]), [[0, n]]),
        }

    return ds.map(pad).prefetch(tf.data.AUTOTUNE)
