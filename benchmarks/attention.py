"""Benchmark: forward and forward+backward time of each attention kind, relative to softmax.

    python -m benchmarks.attention --out results/bench [--seq-lens 256,512] [--repeats 5]

All kinds are timed in the same process, interleaved repetition by repetition, so that their
ratios to softmax share the machine's state. Writes <out>/<machine>/attention.json (every
timing, the backend and devices) and <out>/<machine>/attention.md (benchmarks/machine.py names
the machine). It measures; it asserts nothing.
Targets from the issue, on a CPU at seq 1024: laser <= 1.05x and laser_exact <= 1.5x softmax
(forward+backward); the markdown table states whether this run met them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import laser
from analysis.tables import markdown
from benchmarks import machine
from laser import records

TARGETS = {"laser": 1.05, "laser_exact": 1.5}  # fwd+bwd vs softmax at seq 1024


# "paper_snippet" is the paper's JAX snippet verbatim (column max over all keys, no masking
# logic, no underflow marker): it shows how much of laser's cost is the trick itself.
VARIANTS = (*laser.KINDS, "paper_snippet")


def _paper_snippet(q, k, v, is_causal):
    m = jax.lax.stop_gradient(jnp.max(v, axis=1, keepdims=True))
    return jnp.log(jax.nn.dot_product_attention(q, k, jnp.exp(v - m), is_causal=is_causal)) + m


def _functions(kind: str, is_causal: bool):
    def fwd(q, k, v):
        if kind == "paper_snippet":
            return _paper_snippet(q, k, v, is_causal)
        return laser.dot_product_attention(q, k, v, kind=kind, is_causal=is_causal)

    def loss(q, k, v, cot):
        return jnp.sum(fwd(q, k, v) * cot)

    # value_and_grad, as a trainer does: with jax.grad alone XLA drops the forward P·V product
    # of softmax (its gradient does not need it) but not of LASER (d log(out) needs out).
    return jax.jit(fwd), jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))


def _time(fn, args, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return times


def bench(seq_lens, batch, heads, head_dim, repeats, is_causal, dtype) -> list[dict]:
    rows = []
    for seq in seq_lens:
        rng = np.random.default_rng(seq)
        q, k, v, cot = (
            jnp.asarray(rng.standard_normal((batch, seq, heads, head_dim)), dtype) for _ in range(4)
        )
        fns = {kind: _functions(kind, is_causal) for kind in VARIANTS}
        for fwd, grad in fns.values():  # compile and warm up
            jax.block_until_ready(fwd(q, k, v))
            jax.block_until_ready(grad(q, k, v, cot))
        times = {(kind, p): [] for kind in VARIANTS for p in ("fwd", "fwd+bwd")}
        for _ in range(repeats):  # interleaved: every kind sees the same machine state
            for kind, (fwd, grad) in fns.items():
                times[(kind, "fwd")] += _time(fwd, (q, k, v), 1)
                times[(kind, "fwd+bwd")] += _time(grad, (q, k, v, cot), 1)
        for (kind, part), ts in times.items():
            base = statistics.median(times[("softmax", part)])
            rows.append(
                dict(
                    seq_len=seq,
                    kind=kind,
                    part=part,
                    median_s=statistics.median(ts),
                    ratio_to_softmax=statistics.median(ts) / base,
                    times_s=ts,
                )
            )
        print(
            f"seq {seq}: "
            + ", ".join(
                f"{r['kind']} {r['part']} {r['ratio_to_softmax']:.2f}x" for r in rows[-len(times) :]
            ),
            flush=True,
        )
    return rows


def render(rows: list[dict], info: dict) -> str:
    import pandas as pd

    df = pd.DataFrame(rows)
    table = df.pivot_table(index="seq_len", columns=["part", "kind"], values="ratio_to_softmax")
    secs = df.pivot_table(index="seq_len", columns=["part", "kind"], values="median_s")
    out = []
    for seq in table.index:
        row = {"seq_len": seq}
        for part in ("fwd", "fwd+bwd"):
            row[f"softmax {part} (s)"] = f"{secs.loc[seq, (part, 'softmax')]:.4f}"
            for kind in VARIANTS[1:]:
                row[f"{kind} {part}"] = f"{table.loc[seq, (part, kind)]:.2f}x"
        out.append(row)
    lines = [
        "# Attention kinds: time relative to softmax (same run, interleaved)",
        "",
        f"Machine: {machine.line(info['machine'])}.",
        "",
        f"Backend {info['backend']}, devices {info['devices']}; batch {info['batch']}, "
        f"{info['heads']} heads x {info['head_dim']}, {info['dtype']}, causal={info['is_causal']}, "
        f"median of {info['repeats']} repetitions.",
        "",
        markdown(pd.DataFrame(out)),
        "",
    ]
    if 1024 in table.index:
        for kind, target in TARGETS.items():
            got = table.loc[1024, ("fwd+bwd", kind)]
            verdict = "met" if got <= target else "not met"
            lines.append(
                f"- {kind} fwd+bwd at seq 1024: {got:.2f}x softmax (target <= {target}x: {verdict})"
            )
    lines += ["", "Regenerate: `make bench-attention`.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/bench"))
    parser.add_argument("--seq-lens", default="256,512,1024,2048,4096")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--no-causal", action="store_true")
    args = parser.parse_args(argv)
    try:
        seq_lens = [int(s) for s in args.seq_lens.split(",")]
        assert all(s > 0 for s in seq_lens)
    except (ValueError, AssertionError):
        print(
            f"error: --seq-lens {args.seq_lens!r}: accepted: comma-separated integers > 0",
            file=sys.stderr,
        )
        return 2
    info = dict(
        machine=machine.describe(),
        backend=jax.default_backend(),
        devices=[str(d) for d in jax.devices()],
        batch=args.batch,
        heads=args.heads,
        head_dim=args.head_dim,
        dtype=args.dtype,
        is_causal=not args.no_causal,
        repeats=args.repeats,
    )
    rows = bench(
        seq_lens,
        args.batch,
        args.heads,
        args.head_dim,
        args.repeats,
        not args.no_causal,
        jnp.dtype(args.dtype),
    )
    suffix = "" if info["backend"] == "cpu" else f"_{info['backend']}"
    out = args.out / info["machine"]["name"]  # one result per machine, side by side
    records.write_json(
        out / f"attention{suffix}.json", {"info": info, "meta": records.meta(), "rows": rows}
    )
    records.write_text(out / f"attention{suffix}.md", render(rows, info))
    print(f"wrote {out / f'attention{suffix}.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
