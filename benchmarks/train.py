"""Benchmark: tokens/s and MFU of the tiny LM train step, softmax vs LASER, against a PyTorch peer.

    python -m benchmarks.train --out results/bench [--steps N] [--rounds R] [--no-peer]

Writes <out>/<machine>/train.{json,md}, <machine> from benchmarks/machine.py (e.g. intel-xeon-amx).

Our step is the trainer's (laser/train/trainer.py: value_and_grad of CausalLMTask.loss_fn,
optax update, apply_updates, global grad norm; jit, state donated). The peer is the same model in
PyTorch with x-transformers (benchmarks/peer_xtransformers.py, run in .venv-bench-peer as a
subprocess). The machine's matmul FLOP/s is measured in the same run. Variants run interleaved,
round by round, so they share the machine's state; medians are reported. Writes <out>/train.json
(every timing) and <out>/train.md. It measures; it asserts nothing.
Targets: our LASER tokens/s >= 1.0x the peer's LASER, and MFU >= 50% of measured matmul FLOP/s.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import time
import types
from importlib import metadata
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from benchmarks import machine
from laser import records
from laser.nn import attention_section, transformer_lm
from laser.train.causal_lm import CausalLMTask
from laser.train.optim import make_optimizer
from laser.train.trainer import jit_train_step

ROOT = Path(__file__).resolve().parents[1]
PEER_PYTHON = ROOT / ".venv-bench-peer" / "bin" / "python"
# Fixed comparison config; benchmarks/peer_xtransformers.py repeats it for the peer.
MODEL = dict(vocab_size=4096, num_layers=4, model_dim=256, num_heads=4, head_dim=64, mlp_dim=1024)
SEQ, BATCH = 256, 16
TARGET_RATIO, TARGET_MFU = 1.0, 0.5
FLOPS_FORMULA = (
    "6 * (N_nonemb + vocab*d) + 12 * layers * d_attn * seq; "
    "N_nonemb = layers * (4*d*d_attn + 2*d*mlp + 2*d) + d (matmul weights and LayerNorm scales), "
    "d_attn = heads * head_dim"
)


def model_config(attention: str) -> ml_collections.ConfigDict:
    """The `model` section of experiments/c4_lm/config.py, at the benchmark's size."""
    return ml_collections.ConfigDict(
        dict(MODEL, attention=attention_section(kind=attention), dtype="float32", remat=False)
    )


def optim_config() -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict(
        dict(name="adamw", learning_rate=1e-3, warmup_steps=0, b1=0.9, b2=0.99, eps=1e-8)
        | dict(weight_decay=0.1, weight_decay_mask="all", grad_clip=1.0)
    )


def flops_per_token() -> dict:
    """Model FLOPs per trained token (forward + backward), counted from the config."""
    m = MODEL
    d, d_attn = m["model_dim"], m["num_heads"] * m["head_dim"]
    layer = 4 * d * d_attn + 2 * d * m["mlp_dim"] + 2 * d
    nonemb = m["num_layers"] * layer + d
    output = m["vocab_size"] * d
    attention = 12 * m["num_layers"] * d_attn * SEQ
    return dict(
        formula=FLOPS_FORMULA,
        nonembedding_params=nonemb,
        output_projection_params=output,
        attention_flops=attention,
        flops_per_token=6 * (nonemb + output) + attention,
    )


def make_ours(attention: str, seed: int = 0):
    """(jitted train step, initial state): the trainer's own compiled step (jit_train_step)."""
    model = transformer_lm.from_config(model_config(attention))
    task = types.SimpleNamespace(model=model)  # CausalLMTask.loss_fn reads .model only
    loss_fn = functools.partial(CausalLMTask.loss_fn, task)
    optimizer, lr_fn = make_optimizer(optim_config(), 10**6)  # long schedule: lr stays ~1e-3
    key = jax.random.key(seed)
    params = nn.unbox(task.model.init(key, jnp.zeros((BATCH, SEQ), jnp.int32))["params"])
    state = {
        "step": jnp.zeros([], jnp.int32),
        "params": params,
        "opt_state": optimizer.init(params),
    }
    return jit_train_step(loss_fn, optimizer, lr_fn, key), state


def matmul_flops(repeats: int = 3) -> dict:
    """Best float32 matmul FLOP/s of a jitted jnp.dot, per size (the machine's practical peak)."""
    out, dot = {}, jax.jit(jnp.dot)
    for n in (1024, 2048):
        a, b = (jnp.asarray(np.random.default_rng(i).random((n, n)), jnp.float32) for i in (0, 1))
        jax.block_until_ready(dot(a, b))  # compile
        out[str(n)] = 2 * n**3 / min(_elapsed(dot, a, b) for _ in range(repeats))
    return out


def _elapsed(fn, *args) -> float:
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - start


def run_peer(steps: int, warmup: int) -> dict:
    """One peer repetition (both variants) in .venv-bench-peer; raises RuntimeError on failure."""
    cmd = [str(PEER_PYTHON), str(ROOT / "benchmarks" / "peer_xtransformers.py")]
    cmd += ["--steps", str(steps), "--warmup", str(warmup), "--rounds", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"peer exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench(steps: int, rounds: int, warmup: int, peer: bool) -> dict:
    """Interleaved rounds of every variant; returns every timing."""
    tokens = np.random.default_rng(0).integers(0, MODEL["vocab_size"], (BATCH, SEQ + 1))
    batch = {
        "inputs": jnp.asarray(tokens[:, :-1], jnp.int32),
        "targets": jnp.asarray(tokens[:, 1:], jnp.int32),
        "weights": jnp.ones((BATCH, SEQ), jnp.float32),
    }
    ours = {}
    for kind in ("softmax", "laser"):
        step, state = make_ours(kind)
        for _ in range(warmup):  # the first call compiles
            state, metrics = step(state, batch)
        jax.block_until_ready(metrics)
        ours[kind] = [step, state]
    tps = {f"{who} {k}": [] for who in ("ours", "peer") for k in ("softmax", "laser")}
    raw = dict(tokens_per_s=tps, matmul=[], peer_runs=[], peer_error=None, last_loss={})

    def run_ours(kind):
        step, state = ours[kind]
        start = time.perf_counter()
        for _ in range(steps):
            state, metrics = step(state, batch)
        jax.block_until_ready((state, metrics))  # donated state: keep only the newest
        tps[f"ours {kind}"].append(BATCH * SEQ * steps / (time.perf_counter() - start))
        ours[kind][1], raw["last_loss"][f"ours {kind}"] = state, float(metrics["loss"])

    def run_peer_once():
        if not peer or raw["peer_error"]:
            return
        try:
            out = run_peer(steps, warmup)
        except (RuntimeError, ValueError, OSError) as e:
            raw["peer_error"] = str(e)
            for kind in ("softmax", "laser"):  # no partial peer rows
                tps[f"peer {kind}"].clear()
            return
        raw["peer_runs"].append(out)
        for kind in ("softmax", "laser"):
            tps[f"peer {kind}"] += out["variants"][kind]["tokens_per_s"]
            raw["last_loss"][f"peer {kind}"] = out["variants"][kind]["last_loss"]

    for r in range(rounds):
        raw["matmul"].append(matmul_flops())
        order = [functools.partial(run_ours, "softmax"), functools.partial(run_ours, "laser")]
        for fn in (*order, run_peer_once)[:: 1 if r % 2 == 0 else -1]:  # alternate who is first
            fn()
        done = ", ".join(f"{k} {v[-1]:,.0f}" for k, v in tps.items() if v)
        print(f"round {r + 1}/{rounds} tokens/s: {done}", flush=True)
    return raw


def summarize(raw: dict, flops: dict) -> tuple[list[dict], float]:
    """Median tokens/s per variant, its ratio to the peer's LASER, and MFU against the peak."""
    peak = max(v for m in raw["matmul"] for v in m.values())
    med = {k: statistics.median(v) if v else None for k, v in raw["tokens_per_s"].items()}
    rows = []
    for name, value in med.items():
        ratio = value / med["peer laser"] if value and med["peer laser"] else None
        mfu = value * flops["flops_per_token"] / peak if value else None
        rows.append(dict(variant=name, tokens_per_s=value, ratio_to_peer_laser=ratio, mfu=mfu))
    return rows, peak


def _fmt(value, spec: str, unit: str = "") -> str:
    return "not measured" if value is None else format(value, spec) + unit


def render(rows: list[dict], peak: float, info: dict) -> str:
    rep = info["repetition"]
    lines = [
        "# Tiny LM train step: tokens/s and MFU (same run, interleaved rounds)",
        "",
        f"Machine: {machine.line(info['machine'], peak)}.",
        "",
        f"Config: {info['config']}. Backend {info['backend']}, {info['cpu_count']} CPUs; "
        f"median of {rep['rounds']} rounds of {rep['steps']} steps each.",
        "",
        f"Peer: {info['peer']}.",
        "",
        "| variant | tokens/s | vs peer LASER | MFU |",
        "|---|---|---|---|",
    ]
    for r in rows:
        mfu = None if r["mfu"] is None else 100 * r["mfu"]
        cells = (_fmt(r["tokens_per_s"], ",.0f"), _fmt(r["ratio_to_peer_laser"], ".2f", "x"))
        lines.append(f"| {r['variant']} | {cells[0]} | {cells[1]} | {_fmt(mfu, '.1f', '%')} |")
    f, laser = info["flops"], rows[1]  # rows[1] is "ours laser"
    ratio = laser["ratio_to_peer_laser"]
    lines += [
        "",
        f"- Matmul peak (best jitted float32 jnp.dot of 1024² and 2048², this run): "
        f"{peak / 1e9:.1f} GFLOP/s. MFU = FLOPs per token x tokens/s / peak.",
        f"- FLOPs per token: {f['flops_per_token']:,} = {f['formula']}.",
        f"- Target ours LASER >= {TARGET_RATIO}x peer LASER tokens/s: "
        + ("not measured" if ratio is None else f"{ratio:.2f}x")
        + ("" if ratio is None else " (met)" if ratio >= TARGET_RATIO else " (not met)")
        + ".",
        f"- Target ours LASER MFU >= {TARGET_MFU:.0%} of measured matmul FLOP/s: "
        f"{laser['mfu']:.1%} ({'met' if laser['mfu'] >= TARGET_MFU else 'not met'}).",
        "",
        "Regenerate: `make bench-train` (full record: train.json).",
        "",
    ]
    return "\n".join(lines)


def peer_note(args, raw: dict) -> str:
    """What the peer rows are, or why they are not measured."""
    if args.no_peer:
        return "not measured: --no-peer given"
    if not PEER_PYTHON.exists():
        return f"not measured: {PEER_PYTHON} missing (run bash tools/bench_peer_env.sh)"
    if raw["peer_error"]:
        return f"not measured: {raw['peer_error']}"
    p = raw["peer_runs"][0]
    return (
        f"x-transformers {p['x_transformers']}, torch {p['torch']}, {p['threads']} threads, "
        f"eager, attention via torch SDPA, {p['params']:,} params; LASER = {p['laser_semantics']}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/bench"))
    parser.add_argument("--steps", type=int, default=10, help="steps per timed repetition")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--no-peer", action="store_true")
    args = parser.parse_args(argv)
    if min(args.steps, args.rounds, args.warmup) <= 0:
        print("error: --steps, --rounds, --warmup: accepted: integers > 0", file=sys.stderr)
        return 2
    raw = bench(args.steps, args.rounds, args.warmup, not args.no_peer and PEER_PYTHON.exists())
    flops = flops_per_token()
    rows, peak = summarize(raw, flops)
    m = MODEL
    info = dict(
        config=f"decoder-only LM, {m['num_layers']} layers, d_model {m['model_dim']}, "
        f"{m['num_heads']} heads x {m['head_dim']}, MLP {m['mlp_dim']}, vocab {m['vocab_size']}, "
        f"seq {SEQ}, batch {BATCH}, float32, AdamW (lr 1e-3), causal, no dropout, no biases",
        optim=optim_config().to_dict(),
        ours_params=transformer_lm.param_count(transformer_lm.from_config(model_config("softmax"))),
        backend=jax.default_backend(),
        cpu_count=os.cpu_count(),
        machine=machine.describe(),
        jax=metadata.version("jax"),
        repetition=dict(steps=args.steps, rounds=args.rounds, warmup=args.warmup),
        peer=peer_note(args, raw),
        flops=flops,
        matmul_peak_flops=peak,
    )
    record = {"info": info, "meta": records.meta(), "rows": rows, "raw": raw}
    out = args.out / info["machine"]["name"]  # one result per machine, side by side
    records.write_json(out / "train.json", record)
    records.write_text(out / "train.md", render(rows, peak, info))
    print(f"wrote {out / 'train.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
