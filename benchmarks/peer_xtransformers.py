"""Peer of benchmarks/train.py: the same tiny LM train step in PyTorch with x-transformers.

    .venv-bench-peer/bin/python benchmarks/peer_xtransformers.py [--steps 10] [--rounds 1]

Runs inside .venv-bench-peer (tools/bench_peer_env.sh), never inside the suite's .venv: it
imports nothing from `laser`. Prints one JSON line: tokens/s of every timed repetition per
variant (softmax, laser), torch and x-transformers versions, thread count, parameter count.

The model mirrors laser.nn.transformer_lm.TransformerLM as closely as x-transformers allows:
pre-LN decoder, bias-less LayerNorm, no biases in attention or MLP, GELU MLP (4x), input and
output embedding tied, sinusoidal positions (x-transformers' scaled variant: one extra scalar
parameter), no dropout. Attention goes through torch's scaled_dot_product_attention
(`attn_flash=True`), the fastest path x-transformers offers; AdamW is torch's fused CPU kernel
(`fused=True`: 1.5x faster steps here than the default per-tensor loop). Eager mode, no
torch.compile (its C++ compilation alone would take minutes on a 2-core machine).

x-transformers' LASER (`attn_laser=True`, `Attention(laser=True)`) is not the paper's column-max
trick: it soft-clamps the values, v <- 15 * tanh(v / 15) (`attn_laser_softclamp_value`, default
15), then computes log(max(attn(Q, K, exp(v)), 1e-20)). The clamp bounds exp(v) instead of
shifting by the column max, so it changes the function (slightly for |v| << 15, saturating
beyond), where the paper's trick leaves it exact.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from importlib import metadata

# The configuration of benchmarks/train.py (its CONFIG), repeated here because this file runs in
# another environment and cannot import the suite.
VOCAB, LAYERS, DIM, HEADS, HEAD_DIM, MLP_MULT, SEQ, BATCH = 4096, 4, 256, 4, 64, 4, 256, 16
LASER_SEMANTICS = (
    "x-transformers attn_laser: v <- c*tanh(v/c) with c = attn_laser_softclamp_value (default 15), "
    "then log(clamp(attn(q, k, exp(v)), min=1e-20)); no column-max shift"
)


def build(laser: bool, flash: bool):
    """TransformerWrapper of the benchmark's config; `laser` selects x-transformers' LASER."""
    from x_transformers import Decoder, TransformerWrapper

    return TransformerWrapper(
        num_tokens=VOCAB,
        max_seq_len=SEQ,
        tie_embedding=True,  # the suite shares one vocab x d embedding for input and output
        scaled_sinu_pos_emb=True,  # closest to the suite's fixed sinusoidal positions
        attn_layers=Decoder(
            dim=DIM,
            depth=LAYERS,
            heads=HEADS,
            attn_dim_head=HEAD_DIM,
            ff_mult=MLP_MULT,
            ff_no_bias=True,  # q/k/v/out projections are bias-less in x-transformers already
            attn_flash=flash,
            attn_laser=laser,
        ),
    )


def make_step(model, torch):
    """One train step as the suite's trainer does it: loss, grads, clip at 1.0, AdamW update."""
    import torch.nn.functional as F

    opt = torch.optim.AdamW(
        model.parameters(), lr=1e-3, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1, fused=True
    )

    def step(inputs, targets):
        logits = model(inputs)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0, foreach=True)
        opt.step()
        return loss, grad_norm

    return step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="steps per timed repetition")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1, help="repetitions per variant")
    parser.add_argument("--variants", default="softmax,laser")
    parser.add_argument("--no-flash", action="store_true", help="x-transformers' own attention")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(os.cpu_count())  # the suite's XLA uses every core too
    torch.manual_seed(0)
    variants = args.variants.split(",")
    tokens = torch.randint(0, VOCAB, (BATCH, SEQ + 1), generator=torch.Generator().manual_seed(0))
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    steps, models = {}, {}
    for name in variants:
        models[name] = build(name == "laser", not args.no_flash).train()
        steps[name] = make_step(models[name], torch)
        for _ in range(args.warmup):
            steps[name](inputs, targets)
    times = {name: [] for name in variants}
    losses = {}
    for _ in range(args.rounds):  # interleaved, like benchmarks/train.py
        for name in variants:
            start = time.perf_counter()
            for _ in range(args.steps):
                loss, _ = steps[name](inputs, targets)
            losses[name] = float(
                loss.detach()
            )  # eager CPU ops are synchronous: the timing is complete
            times[name].append(time.perf_counter() - start)
    per_rep = BATCH * SEQ * args.steps
    out = dict(
        torch=torch.__version__,
        x_transformers=metadata.version("x-transformers"),
        threads=torch.get_num_threads(),
        cpu_count=os.cpu_count(),
        params=sum(p.numel() for p in models[variants[0]].parameters()),
        steps=args.steps,
        warmup=args.warmup,
        flash=not args.no_flash,
        compiled=False,
        laser_semantics=LASER_SEMANTICS,
        variants={
            name: dict(
                times_s=ts,
                tokens_per_s=[per_rep / t for t in ts],
                last_loss=losses[name],
            )
            for name, ts in times.items()
        },
    )
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
