"""Where the tiny LM train step's time goes: a JAX profiler trace of benchmarks/train.py's step.

    python -m benchmarks.profile_step --out results/bench [--steps 5] [--attention softmax,laser]

Writes <out>/<machine>/profile.{json,md}. The step is benchmarks/train.py's (the trainer's own
`jit_train_step` at the benchmark's size). For each attention kind it traces `--steps` steps
with `jax.profiler.trace`, reads the trace's XLA:CPU op events (those carrying an `hlo_op`
stat; their durations are thread time, summed over XLA's worker threads), and files each op
under what it computes, read from the compiled HLO:

- part: forward / backward (`transpose(jvp(...))` in the op's JAX name) / optimiser and loss;
  component: attention core (scores, softmax or LASER, weighted sum), q/k/v/out projections,
  MLP, LayerNorm, embedding and output layer, optimiser, other;
- kind: matmul (the fusion calls a `dot`), exp/log, reduce, elementwise/copy.

It measures and asserts nothing; shares are of the step's summed op time (wall time x busy
threads), so they add to 100% and compare variants measured in the same run.
"""

from __future__ import annotations

import argparse
import collections
import glob
import re
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import machine
from benchmarks import train as bench_train
from laser import records

_INSTR = re.compile(r"^\s*(?:ROOT )?%([\w.\-]+) = .*? ([a-z][\w\-]*)\(")
_CALLS = re.compile(r"calls=%([\w.\-]+)")
_OPNAME = re.compile(r'op_name="([^"]*)"')
_COMPUTATION = re.compile(r"^(?:ENTRY )?%([\w.\-]+) ")
KINDS = ("matmul", "exp/log", "reduce", "elementwise/copy")
MATMUL = {"dot", "convolution"}
EXPLOG = {"exponential", "log", "log-plus-one", "exponential-minus-one", "tanh", "logistic"}


def parse_hlo(text: str) -> dict[str, dict]:
    """Per instruction of the compiled module: its opcode, JAX op name and the opcodes it runs
    (its own, plus those of the computation it calls, for fusions)."""
    bodies: dict[str, set[str]] = collections.defaultdict(set)
    instrs, current = {}, None
    for line in text.splitlines():
        if line and not line[0].isspace():
            m = _COMPUTATION.match(line)
            current = m.group(1) if m and line.rstrip().endswith("{") else None
            continue
        m = _INSTR.match(line)
        if not m:
            continue
        name, opcode = m.groups()
        if current:
            bodies[current].add(opcode)
        calls, op_name = _CALLS.search(line), _OPNAME.search(line)
        instrs[name] = dict(
            opcode=opcode,
            calls=calls.group(1) if calls else None,
            op_name=op_name.group(1) if op_name else "",
        )
    for info in instrs.values():
        info["ops"] = {info["opcode"]} | bodies.get(info["calls"], set())
    return instrs


def classify(info: dict) -> tuple[str, str, str]:
    """(part, component, kind) of one compiled instruction."""
    ops, name = info["ops"], info["op_name"]
    kind = (
        "matmul"
        if ops & MATMUL
        else "exp/log"
        if ops & EXPLOG
        else "reduce"
        if "reduce" in ops
        else "elementwise/copy"
    )
    part = "backward" if "transpose(jvp" in name else "forward" if "jvp(" in name else "optimiser"
    path = name.split("/")
    if "TransformerLM" not in name:
        component = "optimiser" if part == "optimiser" else "loss"
    elif any(p.startswith("ln_") or p == "ln_final" for p in path):
        component = "LayerNorm"
    elif any(p in ("query", "key", "value", "out") for p in path):
        component = "q/k/v/out projections"
    elif "attention" in path:
        component = "attention core"
    elif "mlp" in name:
        component = "MLP"
    elif any(p in ("embed", "token_embed", "logits", "output") for p in path) or "embed" in name:
        component = "embedding/output"
    else:
        component = "other (model)"
    return part, component, kind


def _batch():
    b, s, v = bench_train.BATCH, bench_train.SEQ, bench_train.MODEL["vocab_size"]
    tokens = np.random.default_rng(0).integers(0, v, (b, s + 1))
    return {
        "inputs": jnp.asarray(tokens[:, :-1], jnp.int32),
        "targets": jnp.asarray(tokens[:, 1:], jnp.int32),
        "weights": jnp.ones((b, s), jnp.float32),
    }


def profile(attention: str, steps: int) -> dict:
    """Op time of `steps` traced steps of one attention kind, grouped; wall time per step."""
    step, state = bench_train.make_ours(attention)
    batch = _batch()
    instrs = parse_hlo(step.lower(state, batch).compile().as_text())
    for _ in range(2):  # compile and warm up
        state, metrics = step(state, batch)
    jax.block_until_ready(metrics)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        with jax.profiler.trace(tmp):
            for _ in range(steps):
                state, metrics = step(state, batch)
            jax.block_until_ready((state, metrics))
        wall = (time.perf_counter() - start) / steps
        (path,) = glob.glob(f"{tmp}/**/*.xplane.pb", recursive=True)
        data = jax.profiler.ProfileData.from_file(path)
    by_op: collections.Counter = collections.Counter()
    for plane in data.planes:
        for line in plane.lines:
            for event in line.events:
                if any(k == "hlo_op" for k, _ in event.stats):
                    by_op[event.name] += event.duration_ns / steps
    groups: collections.Counter = collections.Counter()
    top = []
    for name, ns in by_op.items():
        info = instrs.get(name, dict(ops=set(), op_name="", opcode="?"))
        key = classify(info)
        groups[key] += ns
        top.append(dict(op=name, ns=ns, group=list(key), jax_name=info["op_name"]))
    top.sort(key=lambda r: -r["ns"])
    return dict(
        attention=attention,
        wall_s_per_step=wall,
        op_ns_per_step=sum(by_op.values()),
        groups=[dict(part=p, component=c, kind=k, ns=ns) for (p, c, k), ns in groups.items()],
        top=top[:15],
    )


def _table(results: list[dict], key) -> list[str]:
    """Rows of op-time shares (per variant) grouped by key(group) -> label."""
    labels = sorted({key(g) for r in results for g in r["groups"]})
    shares = []
    for r in results:
        sums = collections.Counter()
        for g in r["groups"]:
            sums[key(g)] += g["ns"]
        shares.append({lab: 100 * sums[lab] / r["op_ns_per_step"] for lab in labels})
    labels.sort(key=lambda lab: -shares[0][lab])
    head = "| " + " | ".join(["group"] + [f"{r['attention']} % of op time" for r in results])
    lines = [head + " |", "|" + "---|" * (1 + len(results))]
    for lab in labels:
        lines.append(f"| {lab} | " + " | ".join(f"{s[lab]:.1f}" for s in shares) + " |")
    return lines


def render(results: list[dict], info: dict) -> str:
    lines = [
        "# Where the tiny LM train step's time goes (JAX profiler trace, XLA:CPU)",
        "",
        f"Machine: {machine.line(info['machine'])}.",
        "",
        f"Step: benchmarks/train.py's ({info['config']}); {info['steps']} traced steps per kind, "
        "after 2 warm-up steps. Op time = durations of the trace's XLA op events summed over "
        "XLA's threads (so it exceeds wall time when both cores work).",
        "",
        "| attention | wall s/step | op time s/step | busy threads (op/wall) |",
        "|---|---|---|---|",
    ]
    for r in results:
        op = r["op_ns_per_step"] / 1e9
        lines.append(
            f"| {r['attention']} | {r['wall_s_per_step']:.3f} | {op:.3f} | "
            f"{op / r['wall_s_per_step']:.2f} |"
        )
    lines += ["", "By component (forward + backward):", ""]
    lines += _table(results, lambda g: g["component"])
    lines += ["", "By kind of computation:", ""]
    lines += _table(results, lambda g: g["kind"])
    lines += ["", "By part of the step:", ""]
    lines += _table(results, lambda g: g["part"])
    for r in results:
        lines += ["", f"Largest ops, {r['attention']}:", "", "| op | ms/step | group | JAX name |"]
        lines.append("|---|---|---|---|")
        for t in r["top"][:10]:
            jax_name = t["jax_name"].removeprefix("jit(train_step)/")
            lines.append(
                f"| {t['op']} | {t['ns'] / 1e6:.1f} | {' / '.join(t['group'])} | {jax_name} |"
            )
    lines += ["", "Regenerate: `make bench-profile` (full record: profile.json).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/bench")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--attention", default="softmax,laser")
    args = parser.parse_args(argv)
    kinds = args.attention.split(",")
    bad = [k for k in kinds if k not in ("softmax", "laser", "laser_exact")]
    if args.steps <= 0 or bad:
        print(
            f"error: --steps {args.steps} / --attention {args.attention}: accepted: steps > 0, "
            "kinds from softmax,laser,laser_exact",
            file=sys.stderr,
        )
        return 2
    results = [profile(k, args.steps) for k in kinds]
    m = bench_train.MODEL
    info = dict(
        machine=machine.describe(),
        steps=args.steps,
        config=f"{m['num_layers']} layers, d {m['model_dim']}, {m['num_heads']} x "
        f"{m['head_dim']} heads, MLP {m['mlp_dim']}, vocab {m['vocab_size']}, "
        f"seq {bench_train.SEQ}, batch {bench_train.BATCH}, float32, AdamW",
    )
    out = f"{args.out}/{info['machine']['name']}"
    records.write_json(
        f"{out}/profile.json", {"info": info, "meta": records.meta(), "runs": results}
    )
    records.write_text(f"{out}/profile.md", render(results, info))
    print(f"wrote {out}/profile.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
