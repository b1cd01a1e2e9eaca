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

# Table 1: test loss, (LASER, standard), by (layers, MLP hidden) at model dim 1024.
TABLE_1 = {
    "source": "Table 1 (§4.1)",
    "rows": {
        "16 layers, MLP 4096": (2.673, 2.681),
        "32 layers, MLP 2048": (2.595, 2.641),
        "32 layers, MLP 4096": (2.555, 2.575),
    },
}

# LAMB ablation on the 301M model (§4.1, "Ablation with optimizers"), standard -> LASER.
LAMB = {
    "source": "§4.1, Ablation with optimizers",
    "train": {"standard": 2.749, "laser": 2.736},
    "test": {"standard": 2.758, "laser": 2.741},
}

# Table 11 (Appendix A.5): 2.2B model loss, (LASER, standard), by precision.
TABLE_11 = {
    "source": "Table 11 (Appendix A.5)",
    "rows": {"FP32": (2.326, 2.344), "BF16": (2.333, 2.350)},
}

# Figure 4's scaling-law claim and the wall-clock comparison (§4.1).
SCALING = {
    "source": "Figure 4 (§4.1)",
    "sizes": ("234M", "300M", "435M", "1.1B", "2.2B"),
    "target_loss": 2.347,
    "parameter_saving": 0.1565,
}
WALL_CLOCK = {
    "source": "§4.1",
    "model": "2.2B",
    "standard_best_test_loss": 2.327,
    "hours_standard": 27.22,
    "hours_laser": 24.88,
}

# BERT 2.2B masked-LM prediction error (§4.2).
BERT = {"source": "§4.2", "laser": 0.2125, "standard": 0.2145}
