"""The paper-scale plan, compiled: `make paper-plan` -> results/tables/paper_plan.md.

    python -m benchmarks.paper_plan --out results/tables/paper_plan.md [--only PROFILE ...]

For every paper profile in PLAN, the trainer's own train step (laser.train.trainer.
jit_train_step with the profile's task, optimiser and (data, fsdp) shardings) is compiled ahead
of time on abstract inputs (jax.jit(...).lower(ShapeDtypeStructs).compile(): nothing is
allocated) on a simulated CPU mesh (--xla_force_host_platform_device_count, set in a subprocess
per profile so the flag applies) of 2 x fsdp devices, each with the batch rows one of the
paper's chips holds (global batch / paper chips). Per device, the program is then the paper's:
the data axis (2 here, chips / fsdp there) changes only the size of its collectives.

Measured (XLA's analysis of the compiled CPU program): bytes per device of arguments, outputs,
aliased (donated) buffers and temporaries (memory_analysis), FLOPs per device and step
(cost_analysis). Exact from the shardings: parameter and optimiser-state bytes per device.
Extrapolated: everything at the paper's chip count (FLOPs x chips; step time at 40% of a chip's
published bf16 peak), and, for an entry given `compile_layers` (none so far: the 2.2B model's
32 layers compile in ~45 s and 1 GB here), every measured number on the line through two
reduced layer counts. XLA:CPU is compiled with its memory-optimised scheduler and still draws
little from rematerialisation (the plan compiles the 301M profile without remat too and reports
both): its temporaries bound an accelerator compile's from above.

Adding a profile (BERT, the 7.7B model, ...) is one line in PLAN.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import machine

ROOT = Path(__file__).resolve().parents[1]
GB = 1e9
FITS = (16, 80, 95)  # GB of HBM: TPU v5e, A100/H100 80 GB, TPU v5p
# Published bf16 peaks (cloud.google.com/tpu/docs/v5e, /v5p); float32 matmuls run at the bf16
# rate under JAX's default precision on TPU, so the same peak serves both dtypes.
PEAK = {"v5e": 197e12, "v5p": 459e12}
MFU = 0.4
# XLA:CPU's default scheduler optimises for concurrency, not memory; this one is closer to what
# an accelerator compile does with its memory (301M at 4 layers: 14.7 -> 12.1 GB temporaries).
SCHEDULER = "--xla_cpu_enable_concurrency_optimized_scheduler=false"
CALIBRATE = "c4_lm:paper-301m"  # compiled once more without remat: what remat buys on XLA:CPU


@dataclasses.dataclass(frozen=True)
class Entry:
    """A paper profile and what the paper says about its hardware."""

    config: str
    profile: str
    chips: int  # the paper's TPU v5 chips for this run
    chips_source: str = "paper §4"
    layers_key: str = ""  # config key of the layer count, if it may be compiled reduced
    compile_layers: tuple[int, int] | None = None  # two reduced layer counts to fit a line to
    wall_clock_h: float | None = None  # the paper's training time
    overrides: tuple[str, ...] = ()  # key=value, as after `--config.`

    def load(self):
        from laser import configs

        return configs.load(f"{ROOT / self.config}:{self.profile}", list(self.overrides))

    @property
    def name(self) -> str:
        return f"{Path(self.config).parent.name}:{self.profile}"


C4 = "experiments/c4_lm/config.py"
PLAN = (
    Entry(C4, "paper-234m", 64, "assumed: as the 300M", "model.num_layers"),
    Entry(C4, "paper-301m", 64, "paper §4: 64 chips", "model.num_layers"),
    Entry(C4, "paper-435m", 64, "assumed: as the 300M", "model.num_layers"),
    Entry(C4, "paper-1.1b", 128, "paper §4: 128 chips", "model.num_layers"),
    Entry(C4, "paper-2.2b", 256, "paper §4: 256 chips", "model.num_layers", None, 27.22),
    Entry(
        "experiments/scaling_7b/config.py",
        "paper-7.7b",
        256,
        "assumed: as the 2.2B",
        "model.num_layers",
    ),
    Entry(
        "experiments/diff_transformer/config.py",
        "paper-2.2b",
        256,
        "assumed: as the 2.2B",
        "model.num_layers",
    ),
    Entry("experiments/bert_mlm/config.py", "paper", 256, "assumed: as the 2.2B LM"),
    Entry("experiments/vit_imagenet/config.py", "paper", 8, "assumed: AlgoPerf's 8 accelerators"),
    Entry(
        "experiments/conformer_librispeech/config.py",
        "paper",
        8,
        "assumed: AlgoPerf's 8 accelerators",
    ),
)


def compile_one(entry: Entry, layers: int | None, devices: int, remat: bool | None = None) -> dict:
    """Compile the entry's train step here (XLA_FLAGS already set); its analysis as a dict."""
    import flax.linen as nn
    import jax
    import numpy as np

    from laser.data import librispeech
    from laser.train import sharding
    from laser.train.optim import make_optimizer
    from laser.train.task import task_class
    from laser.train.trainer import jit_train_step

    # The plan reads no data: the Conformer's task would otherwise load its tokenizer.
    librispeech.tokenizer = lambda config: None
    config = entry.load()
    fsdp = config.mesh.fsdp
    global_batch = config.data.batch_size
    per_chip = global_batch / entry.chips
    out = {"fsdp": fsdp, "global_batch": global_batch, "per_chip_batch": per_chip}
    problems = []
    if entry.chips % fsdp:
        problems.append(f"paper chips {entry.chips} not a multiple of mesh.fsdp {fsdp}")
    if global_batch % entry.chips:
        problems.append(f"batch {global_batch} not divisible over {entry.chips} chips")
    with config.unlocked():
        config.data.batch_size = max(int(per_chip), 1) * devices
        section, key = entry.layers_key.rsplit(".", 1) if entry.layers_key else ("", "")
        if layers is not None:
            config[section][key] = layers
        elif key:
            layers = config[section][key]  # compiled whole: report the full count
        if remat is not None:
            config.model.remat = remat
    task = task_class(config.task)(config)
    mesh = sharding.make_mesh(-1, fsdp)
    optimizer, lr_fn = make_optimizer(config.optim, config.train.steps)
    seed = jax.random.key(0)
    example = task.example_batch()
    inputs = task.model_inputs(example)
    variables = jax.eval_shape(lambda r: task.model.init(r, *inputs), seed)
    params = nn.unbox(variables["params"])
    shardings = sharding.param_shardings(variables["params"], mesh)
    # The shardings must divide the dimensions they split (at the paper's fsdp width).
    flat_s = jax.tree.leaves(shardings)
    for (path, leaf), s in zip(jax.tree_util.tree_leaves_with_path(params), flat_s, strict=True):
        for dim, axes in zip(leaf.shape, s.spec, strict=False):
            axes = (axes,) if isinstance(axes, str) else tuple(axes or ())
            ways = math.prod(mesh.shape[a] for a in axes)
            if dim % ways:
                name = jax.tree_util.keystr(path)
                problems.append(f"{name} dim {dim} over {'x'.join(axes)} {ways}")
    if problems:
        return {**out, "problems": problems}
    replicated = sharding.replicated(mesh)
    opt_shardings = sharding.opt_state_shardings(optimizer, params, shardings, mesh)
    opt_abstract = jax.eval_shape(optimizer.init, params)

    def typed(tree, shards):
        return jax.tree.map(
            lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s), tree, shards
        )

    def device_bytes(tree) -> int:
        return int(
            sum(
                math.prod(a.sharding.shard_shape(a.shape)) * np.dtype(a.dtype).itemsize
                for a in jax.tree.leaves(tree)
            )
        )

    state = {
        "step": jax.ShapeDtypeStruct((), np.int32, sharding=replicated),
        "params": typed(params, shardings),
        "opt_state": typed(opt_abstract, opt_shardings),
    }
    others = {k: v for k, v in variables.items() if k != "params"}
    if others:
        state["model_state"] = jax.tree.map(
            lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=replicated), others
        )
    batch_sharding = sharding.batch_sharding(mesh)
    batch = {
        k: jax.ShapeDtypeStruct(v.shape, v.dtype, sharding=batch_sharding)
        for k, v in example.items()
    }
    state_shardings = jax.tree.map(lambda a: a.sharding, state)
    step = jit_train_step(task.loss_fn, optimizer, lr_fn, seed, state_shardings, batch_sharding)
    begin = time.time()
    compiled = step.lower(state, batch).compile()
    seconds = time.time() - begin
    memory = compiled.memory_analysis()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return {
        **out,
        "problems": [],
        "devices": devices,
        "mesh": dict(mesh.shape),
        "layers": layers,
        "batch_per_device": config.data.batch_size // devices,
        "params_total": int(sum(math.prod(a.shape) for a in jax.tree.leaves(params))),
        "params_bytes": device_bytes(state["params"]),
        "opt_bytes": device_bytes(state["opt_state"]),
        "argument_bytes": memory.argument_size_in_bytes,
        "output_bytes": memory.output_size_in_bytes,
        "alias_bytes": memory.alias_size_in_bytes,
        "temp_bytes": memory.temp_size_in_bytes,
        "flops": float(cost.get("flops", float("nan"))),
        "compile_s": seconds,
        "steps": config.train.steps,
    }


def run_child(entry: Entry, layers: int | None, remat: bool | None = None) -> dict:
    """compile_one in a fresh process with 2 x fsdp simulated devices."""
    fsdp = entry.load().mesh.fsdp
    devices = 2 * fsdp
    flags = f"--xla_force_host_platform_device_count={devices} {SCHEDULER}"
    env = dict(os.environ, XLA_FLAGS=flags)
    spec = json.dumps(dataclasses.asdict(entry))
    cmd = [sys.executable, "-m", "benchmarks.paper_plan", "--child", spec, "--devices"]
    cmd += [str(devices)] + (["--layers", str(layers)] if layers is not None else [])
    cmd += [] if remat is None else ["--remat", str(int(remat))]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        error = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return {"problems": [f"compile failed: {error[:300]}"]}
    result = json.loads(out.stdout.strip().splitlines()[-1])
    # XLA's SPMD partitioner warns when it must gather an array to change its layout.
    result["regathers"] = out.stderr.count("Involuntary full rematerialization")
    return result


MEASURED = (
    "params_bytes",
    "opt_bytes",
    "argument_bytes",
    "output_bytes",
    "alias_bytes",
    "temp_bytes",
    "flops",
    "params_total",
)


def measure(entry: Entry) -> dict:
    """The entry's analysis at its full layer count: compiled whole, or as the line through
    two reduced compiles (every measured quantity is affine in the layer count)."""
    if entry.compile_layers is None:
        return {**run_child(entry, None), "extrapolated_from": None}
    config = entry.load()
    section, key = entry.layers_key.rsplit(".", 1)
    full = config[section][key]
    a, b = entry.compile_layers
    low, high = run_child(entry, a), run_child(entry, b)
    if low.get("problems") or high.get("problems"):
        return {**low, "problems": low.get("problems") or high.get("problems")}
    out = dict(high)
    for k in MEASURED:
        per_layer = (high[k] - low[k]) / (b - a)
        out[k] = high[k] + per_layer * (full - b)
    out["layers"] = full
    out["extrapolated_from"] = (a, b)
    out["points"] = {a: low, b: high}
    out["compile_s"] = low["compile_s"] + high["compile_s"]
    return out


def _gb(x: float) -> str:
    return f"{x / GB:.2f}"


def render(
    rows: list[tuple[Entry, dict]], cpu: str, total_s: float, calibration: tuple | None
) -> str:
    lines = [
        "# The paper-scale plan, compiled",
        "",
        "Generated by `make paper-plan` (`python -m benchmarks.paper_plan`) on "
        f"{cpu}, {total_s / 60:.1f} min. Each profile's own train step (the trainer's "
        "`jit_train_step`, its task, optimiser and (data, fsdp) shardings) was compiled ahead of "
        "time on abstract inputs on a simulated CPU mesh of 2 x fsdp devices, each holding the "
        "batch rows of one of the paper's chips (global batch / chips), so the per-device "
        "program is the paper's; the data axis only changes its collectives' size.",
        "",
        "**Measured** (XLA's memory_analysis and cost_analysis of the compiled XLA:CPU program, "
        "per device): arguments, temporaries, FLOPs. **Exact** (from the shardings): "
        "parameter and optimiser-state bytes per device. **Extrapolated**: rows marked "
        "'L: a,b -> n' (none yet) were compiled with a and b layers and every measured number "
        "taken on the line through them at n layers; FLOPs x chips; step time at 40% of a chip's "
        "published bf16 peak (TPU v5e 197, v5p 459 TFLOP/s). Peak memory per device = "
        "arguments + outputs - aliased (donated state) + temporaries. XLA:CPU (even with its "
        "memory-optimised scheduler, used here) draws little from rematerialisation (see "
        "below), and TPU and GPU compilers fuse and schedule for memory: read the temporaries, "
        "and so 'fits', as an upper bound. 'regathers': XLA's count of 'involuntary full "
        "rematerialization' warnings, arrays it gathers to change their layout (their cost is "
        "in the numbers).",
        "",
        "| profile | params | paper chips (data x fsdp) | batch/chip | layers | params/chip GB "
        "| opt state/chip GB | temps/chip GB | peak/chip GB | fits 16 / 80 / 95 GB "
        "| TFLOP/step (all chips) | step s @40% v5e / v5p | compiled on: devices, s, regathers |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for entry, r in rows:
        if r.get("problems"):
            cells = [entry.name, "-", f"{entry.chips}", "-", "-", *["-"] * 8]
            cells[4] = "not compiled: " + "; ".join(r["problems"])
            lines.append("| " + " | ".join(cells) + " |")
            continue
        peak = r["argument_bytes"] + r["output_bytes"] - r["alias_bytes"] + r["temp_bytes"]
        fits = " / ".join("yes" if peak <= g * GB else "no" for g in FITS)
        step = {k: r["flops"] / (MFU * p) for k, p in PEAK.items()}
        data = entry.chips // r["fsdp"]
        layers = str(r["layers"] or "all")
        if r.get("extrapolated_from"):
            a, b = r["extrapolated_from"]
            layers = f"L: {a},{b} -> {r['layers']}"
        cells = [
            entry.name,
            f"{r['params_total'] / 1e6:,.0f}M",
            f"{entry.chips} ({data} x {r['fsdp']}; {entry.chips_source})",
            f"{r['per_chip_batch']:g}",
            layers,
            _gb(r["params_bytes"]),
            _gb(r["opt_bytes"]),
            _gb(r["temp_bytes"]),
            _gb(peak),
            fits,
            f"{r['flops'] * entry.chips / 1e12:,.0f}",
            f"{step['v5e']:.3f} / {step['v5p']:.3f}",
            f"{r['devices']} ({r['mesh']['data']} x {r['mesh']['fsdp']}), "
            f"{r['compile_s']:.0f} s, {r.get('regathers', '-')}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
        hours = {k: v * r["steps"] / 3600 for k, v in step.items()}
        text = (
            f"- {entry.name}: {r['steps']:,} steps at 40% of peak: {hours['v5e']:.1f} h (v5e) / "
            f"{hours['v5p']:.1f} h (v5p)"
        )
        if entry.wall_clock_h:
            paper_step = entry.wall_clock_h * 3600 / r["steps"]
            mfu = {k: r["flops"] / (paper_step * p) for k, p in PEAK.items()}
            text += (
                f"; the paper: {entry.wall_clock_h} h to its best test loss, i.e. at least "
                f"{paper_step:.3f} s/step if the best is the last of {r['steps']:,} steps, which "
                f"this step's FLOPs make {mfu['v5e']:.0%} (v5e) / {mfu['v5p']:.0%} (v5p) of "
                "peak (a best reached earlier means slower steps, a lower utilisation)"
            )
        notes.append(text + ".")
    lines += ["", "Time for the paper's step budget (extrapolated):", "", *notes, ""]
    if calibration and not calibration[2].get("problems"):
        name, on, off = calibration
        lines += [
            f"Rematerialisation on XLA:CPU (measured, {name}): {_gb(on['temp_bytes'])} GB of "
            f"temporaries per device and {on['flops'] / 1e12:.1f} TFLOP with remat (the "
            f"profile's setting), {_gb(off['temp_bytes'])} GB and {off['flops'] / 1e12:.1f} "
            "TFLOP without: the CPU compile recomputes but frees little memory, so the "
            "temporaries above bound an accelerator compile's from above.",
            "",
        ]
    lines += [
        "Paper chips: §4 gives 64 (300M), 128 (1.1B), 256 (2.2B) TPU v5 chips and not which "
        "v5 (e or p); the other counts are assumptions named in the table. A profile whose "
        "batch or sharding does not divide (e.g. a model dimension over the fsdp axis) is "
        "listed as not compiled, with the reason. Add a profile: one line in "
        "`benchmarks/paper_plan.py` PLAN.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "results" / "tables" / "paper_plan.md"))
    parser.add_argument("--only", action="append", default=None, help="entry name, repeatable")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--devices", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--layers", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--remat", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    entries = {e.name: e for e in PLAN}
    if args.child:
        remat = None if args.remat is None else bool(args.remat)
        fields = json.loads(args.child)
        entry = Entry(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})
        print(json.dumps(compile_one(entry, args.layers, args.devices, remat)))
        return 0
    unknown = [n for n in args.only or () if n not in entries]
    if unknown:
        print(f"error: --only {unknown[0]!r}: accepted: {', '.join(entries)}", file=sys.stderr)
        return 2
    begin, rows = time.time(), []
    for entry in PLAN:
        if args.only and entry.name not in args.only:
            continue
        t = time.time()
        rows.append((entry, measure(entry)))
        print(f"{entry.name}: {time.time() - t:.0f} s {rows[-1][1].get('problems') or ''}")
    calibration = None
    measured = dict((e.name, r) for e, r in rows)
    if CALIBRATE in measured and not measured[CALIBRATE].get("problems"):
        calibration = (CALIBRATE, measured[CALIBRATE], run_child(entries[CALIBRATE], None, False))
    text = render(rows, machine.line(machine.describe()), time.time() - begin, calibration)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
