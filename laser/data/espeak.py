"""Text to speech with the espeak-ng library bundled in the PyPI package `espeakng-loader`.

Driven through ctypes (no espeak-ng binary needed): synchronous synthesis into a Python
callback, 22,050 Hz 16-bit mono, one voice/rate/pitch per call. The engine is deterministic:
the same text, voice, rate and pitch give the same samples.
"""

from __future__ import annotations

import ctypes
import functools

import numpy as np

AUDIO_OUTPUT_SYNCHRONOUS = 2
CHARS_UTF8 = 1
POS_CHARACTER = 1
PARAM_RATE, PARAM_PITCH = 1, 3  # espeak_PARAMETER: words per minute; 0-100 (default 50)
_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class _Engine:
    def __init__(self):
        import espeakng_loader

        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        path = espeakng_loader.get_data_path().encode()
        self.rate = self.lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, path, 0)
        if self.rate <= 0:
            raise RuntimeError(f"espeak_Initialize failed ({self.rate}) with data at {path}")
        self._chunks: list[np.ndarray] = []

        def collect(wav, n, events):
            del events
            if n > 0:
                self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
            return 0

        self._callback = _CALLBACK(collect)  # kept alive as long as the engine
        self.lib.espeak_SetSynthCallback(self._callback)
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]

    def synth(self, text: str, voice: str, rate: int, pitch: int, seed: int) -> np.ndarray:
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"espeak voice {voice!r} not found")
        self.lib.espeak_SetParameter(PARAM_RATE, rate, 0)
        self.lib.espeak_SetParameter(PARAM_PITCH, pitch, 0)
        # espeak-ng draws noise from its own generator (e.g. voice flutter): reseed it per
        # utterance so that synthesis is a pure function of its arguments.
        self.lib.espeak_ng_SetRandSeed(ctypes.c_long(seed))
        self._chunks = []
        data = text.encode() + b"\0"
        err = self.lib.espeak_Synth(data, len(data), 0, POS_CHARACTER, 0, CHARS_UTF8, None, None)
        if err != 0:
            raise RuntimeError(f"espeak_Synth failed ({err}) on {text!r}")
        self.lib.espeak_Synchronize()
        return np.concatenate(self._chunks) if self._chunks else np.zeros([0], np.int16)


@functools.cache
def _engine() -> _Engine:
    return _Engine()


def sample_rate() -> int:
    """The engine's output rate (22,050 Hz for espeak-ng 1.52)."""
    return _engine().rate


def synthesize(
    text: str, voice: str = "en-us", rate: int = 175, pitch: int = 50, seed: int = 0
) -> np.ndarray:
    """int16 samples at sample_rate() of `text` spoken by `voice` (e.g. "en-us", "en-gb+f3")
    at `rate` words per minute and `pitch` 0-100; `seed` seeds the engine's noise."""
    return _engine().synth(text, voice, rate, pitch, seed)
