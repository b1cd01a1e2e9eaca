"""The machine a benchmark ran on: CPU model, cores, the instruction sets XLA:CPU's kernels use,
and a short name for the folder its results go to (results/bench/<name>/), so results measured
on different CPUs sit side by side instead of overwriting each other.

The same 2 cores have measured 140 and 431 GFLOP/s of float32 matmul on two of this project's
machines, so a timing means little without the CPU it came from.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
from pathlib import Path

# The x86 instruction sets that decide XLA:CPU's (Eigen/oneDNN) matmul throughput, best last.
ISA = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16")


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(
            line.split(":", 1)[1].strip() for line in out.splitlines() if "Model name" in line
        )
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str]:
    """The ISA flags of the first processor in /proc/cpuinfo (empty where there is none)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return []
    line = next((x for x in text.splitlines() if x.startswith("flags")), "")
    have = set(line.split(":", 1)[-1].split())
    return [f for f in ISA if f in have]


def slug(model: str, flags: list[str]) -> str:
    """'Intel(R) Xeon(R) Processor', [..., 'avx512f'] -> 'intel-xeon-avx512'."""
    words = re.sub(r"\((r|tm)\)|\bprocessor\b|\bcpu\b|@.*$", " ", model.lower()).split()
    isa = next(
        (
            n
            for f, n in (("amx_bf16", "amx"), ("avx512f", "avx512"), ("avx2", "avx2"))
            if f in flags
        ),
        "",
    )
    return "-".join(re.sub(r"[^a-z0-9]+", "", w) for w in [*words, isa] if w) or "unknown"


def describe() -> dict:
    model, flags = cpu_model(), cpu_flags()
    # The load at the start says whether other work shared the cores (timings and ratios are
    # then noisier; the tables print it).
    load = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    return dict(cpu=model, cores=os.cpu_count(), isa=flags, name=slug(model, flags), load=load)


def line(info: dict, peak_flops: float | None = None) -> str:
    """One line for a results table: CPU, cores, ISA flags, matmul peak if measured."""
    text = f"{info['cpu']}, {info['cores']} cores, {' '.join(info['isa']) or 'no AVX2'}"
    if peak_flops is not None:
        text += f"; float32 matmul peak {peak_flops / 1e9:.0f} GFLOP/s"
    if info.get("load") is not None:
        text += f"; load average {info['load']:.1f} at the start (other work on the cores if > 0.5)"
    return text
