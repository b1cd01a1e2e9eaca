"""Fixed-shape speech batches for the CTC task, shared by laser.data.synth_speech (tiny) and
laser.data.librispeech (paper).

A batch holds "audio" [rows, n] float32 in [-1, 1] (int16 samples / 32768), "audio_paddings"
[rows, n], "targets" [rows, length] int32 (0 = blank/padding), "target_paddings" [rows, length]
and "weights" [rows] (0 for filler rows). Fixed shapes mean one compilation.
"""

from __future__ import annotations

import numpy as np


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
