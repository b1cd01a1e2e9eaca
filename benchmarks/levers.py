"""XLA:CPU options as levers on the train step: tokens/s of benchmarks/train.py's step per option.

    python -m benchmarks.levers --out results/bench [--steps 5] [--rounds 3] [--only NAME ...]

Writes <out>/<machine>/levers.{json,md}. XLA reads its flags once per process, so each variant
(one XLA_FLAGS setting, or none) runs in its own subprocess: it compiles the step (the trainer's
`jit_train_step` at bench-train's size) for softmax and LASER, warms up, and times `--steps`
steps of each. Rounds visit the variants in alternating order, so they share the machine's state;
medians over rounds are reported, relative to the default in the same run. It measures and
asserts nothing; a variant that changes the arithmetic (fast math) is marked so, since the
suite keeps only changes that leave its deterministic results identical.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import machine

ROOT = Path(__file__).resolve().parents[1]
# name: (XLA_FLAGS, changes the arithmetic?)
VARIANTS = {
    "default": ("", False),
    "concurrency scheduler": ("--xla_cpu_enable_concurrency_optimized_scheduler=true", False),
    "no XNNPACK/YNNPACK fusions": (
        "--xla_cpu_use_xnnpack=false --xla_cpu_experimental_ynn_fusion_type=",
        False,
    ),
    "oneDNN": ("--xla_cpu_use_onednn=true", False),
    "vector width 512": ("--xla_cpu_prefer_vector_width=512", False),
    "fast math": ("--xla_cpu_enable_fast_math=true", True),
}
KINDS = ("softmax", "laser")


def child(steps: int, warmup: int) -> dict:
    """In this process (XLA_FLAGS already set): tokens/s and last loss of each attention kind."""
    import jax

    from benchmarks import profile_step
    from benchmarks import train as bench_train

    out = {}
    for kind in KINDS:
        step, state = bench_train.make_ours(kind)
        batch = profile_step._batch()
        for _ in range(warmup):
            state, metrics = step(state, batch)
        jax.block_until_ready(metrics)
        start = time.perf_counter()
        for _ in range(steps):
            state, metrics = step(state, batch)
        jax.block_until_ready((state, metrics))
        tokens = bench_train.BATCH * bench_train.SEQ * steps
        out[kind] = dict(
            tokens_per_s=tokens / (time.perf_counter() - start), loss=float(metrics["loss"])
        )
    return out


def run_variant(name: str, steps: int, warmup: int) -> dict:
    flags, _ = VARIANTS[name]
    env = dict(os.environ, XLA_FLAGS=" ".join(filter(None, [os.environ.get("XLA_FLAGS"), flags])))
    cmd = [sys.executable, "-m", "benchmarks.levers", "--child", "--steps", str(steps)]
    cmd += ["--warmup", str(warmup)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    if proc.returncode != 0:
        return dict(error=proc.stderr.strip().splitlines()[-1][:300] if proc.stderr else "failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def render(names: list[str], raw: dict, info: dict) -> str:
    med = {
        n: {
            k: statistics.median(r[k]["tokens_per_s"] for r in raw[n] if "error" not in r)
            if any("error" not in r for r in raw[n])
            else None
            for k in KINDS
        }
        for n in names
    }
    base = med["default"]
    lines = [
        "# XLA:CPU options on the tiny LM train step (same run, interleaved rounds)",
        "",
        f"Machine: {machine.line(info['machine'])}.",
        "",
        f"Step: benchmarks/train.py's; {info['steps']} timed steps per kind per round, median of "
        f"{info['rounds']} rounds; each variant in its own process (XLA_FLAGS).",
        "",
        "| variant | XLA_FLAGS | softmax tokens/s | vs default | laser tokens/s | vs default "
        "| laser / softmax | loss as default |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n in names:
        m, flags = med[n], VARIANTS[n][0] or "(none)"
        if m["softmax"] is None:
            err = next(r["error"] for r in raw[n] if "error" in r)
            lines.append(f"| {n} | `{flags}` | failed: {err} | | | | | |")
            continue
        same = all(
            r[k]["loss"] == d[k]["loss"]
            for r, d in zip(raw[n], raw["default"], strict=False)
            if "error" not in r and "error" not in d
            for k in KINDS
        )
        cells = [f"{m[k]:,.0f} | {m[k] / base[k]:.2f}x" for k in KINDS]
        lines.append(
            f"| {n} | `{flags}` | {cells[0]} | {cells[1]} | {m['laser'] / m['softmax']:.2f} | "
            f"{'yes' if same else 'no'}{' (may change arithmetic)' if VARIANTS[n][1] else ''} |"
        )
    lines += ["", "Regenerate: `make bench-levers` (full record: levers.json).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/bench")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", action="append", default=None, help="variant name, repeatable")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.steps, args.warmup)))
        return 0
    unknown = [n for n in args.only or () if n not in VARIANTS]
    if min(args.steps, args.rounds, args.warmup) <= 0 or unknown:
        print(
            f"error: --only {unknown[0]!r}: accepted: {', '.join(VARIANTS)}"
            if unknown
            else "error: --steps, --rounds, --warmup: accepted: integers > 0",
            file=sys.stderr,
        )
        return 2
    names = ["default", *[n for n in VARIANTS if n != "default" and n in (args.only or VARIANTS)]]
    raw = {n: [] for n in names}
    for r in range(args.rounds):
        for n in names[:: 1 if r % 2 == 0 else -1]:
            raw[n].append(run_variant(n, args.steps, args.warmup))
            print(f"round {r + 1}/{args.rounds} {n}: {raw[n][-1]}", flush=True)
    from laser import records

    info = dict(machine=machine.describe(), steps=args.steps, rounds=args.rounds)
    out = f"{args.out}/{info['machine']['name']}"
    records.write_json(f"{out}/levers.json", {"info": info, "meta": records.meta(), "raw": raw})
    records.write_text(f"{out}/levers.md", render(names, raw, info))
    print(f"wrote {out}/levers.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
