"""Numbers the paper reports, each with its source, for tables to put beside ours.

Only the studies this suite reproduces so far are listed; every table adds its own here.
"""

from __future__ import annotations

PAPER = "Duvvuri & Dhillon, LASER: Attention with Exponential Transformation, ICML 2025"

# Appendix A.5: relative reconstruction error of the bfloat16 attention output on 4800 cached
# (1024, 8, 256) QKV triples, as (mean, std).
APPENDIX_A5 = {
    "source": "Appendix A.5, 'Training instability' paragraph",
    "hardware": {"TPUv5": "4 TPUv5 chips", "A100": "16 A100s"},
    "rows": {
        "vanilla_laser": {"TPUv5": (0.0018, 0.0002), "A100": (0.002, 0.0003)},
        "laser": {"TPUv5": (0.0017, 0.0001), "A100": (0.0019, 0.0002)},
        "softmax": {"TPUv5": (0.0016, 0.0001), "A100": (0.0018, 0.0002)},
    },
    "samples": 4800,
}
