"""Table 3: SuperGLUE fine-tuning (10 epochs, decoding accuracy), LASER vs standard attention.

    make reproduce-table-3 [PROFILE=paper]

Each trial fine-tunes a pretrained LM of sweeps/table2.py (the plain LASER / standard runs of
the same seed) with experiments/downstream/config.py; train.steps is 10 epochs of the task's
fine-tuning part. Tiny: the SuperGLUE tasks shipped offline (COPA, RTE, CB; the paper's WiC and
WSC are not, see laser/evals/tasks.py), seeds 0-2. Paper: COPA, WiC, WSC, RTE, one seed.
The pretrained runs must exist first: `python -m sweeps.run sweeps/table2.py` (make does it),
under the same --runs root as this sweep's (the runner resolves Trial.inputs against it).
"""

from __future__ import annotations

from experiments.downstream import config as downstream
from sweeps import table2
from sweeps.spec import ATTENTION, SEED, Sweep, Trial

CONFIG = "experiments/downstream/config.py"
PROFILES = ("tiny", "paper")
ATTENTIONS = ("laser", "softmax")
TASKS = {"tiny": ("copa", "rte", "cb"), "paper": ("copa", "wic", "wsc", "rte")}
SEEDS = {"tiny": (0, 1, 2), "paper": (0,)}
# tfds super_glue train sizes (tfds catalog, super_glue 1.0.3), for the paper's step counts.
PAPER_TRAIN = {"copa": 400, "wic": 5428, "wsc": 554, "rte": 2490}


def train_examples(profile: str, task: str) -> int:
    if profile == "paper":
        return PAPER_TRAIN[task]
    from laser.evals import olmo_data

    return round(downstream.TRAIN_FRACTION * len(olmo_data.read_rows(olmo_data.READERS[task][0])))


def sweep(profile: str) -> Sweep:
    batch = downstream.get_config(profile).data.batch_size
    column = {"laser": "LASER", "softmax": "Standard"}
    pretraining = table2.sweep(profile)
    trials = []
    for task in TASKS[profile]:
        steps = downstream.steps_for(train_examples(profile, task), batch)
        for attention in ATTENTIONS:
            for seed in SEEDS[profile]:
                lm = pretraining.find({**table2.where(column[attention]), SEED: seed})
                trials.append(
                    Trial(
                        name=f"{task}-{attention}-seed{seed}",
                        config=CONFIG,
                        profile=profile,
                        overrides=(
                            (ATTENTION, attention),
                            ("finetune.task", task),
                            ("train.steps", steps),
                            (SEED, seed),
                        ),
                        inputs=(("finetune.checkpoint", pretraining.path(lm, profile)),),
                    )
                )
    return Sweep(name="table3", trials=tuple(trials), metric="test/error", description=__doc__)
