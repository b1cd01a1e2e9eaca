"""Run the Appendix A.5 numerical study and write run records (see config.py).

    python -m experiments.appendix_a5.run --profile tiny --workdir results/runs/appendix_a5/tiny \
        [key=value ...]

One metrics row per (triple, method): name "rel_err/<method>". Resumes after the last complete
triple; a workdir holding a run of another config is refused.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

import laser
from laser import configs, records, reference

CONFIG = Path(__file__).with_name("config.py")
METHODS = ("vanilla_laser", "laser", "laser_exact", "softmax")


def attention_outputs(q, k, v, is_causal: bool) -> dict[str, jax.Array]:
    """The four computations compared in A.5, in the inputs' dtype."""
    return {
        "vanilla_laser": jnp.log(
            jax.nn.dot_product_attention(q, k, jnp.exp(v), is_causal=is_causal)
        ),
        "laser": laser.dot_product_attention(q, k, v, kind="laser", is_causal=is_causal),
        "laser_exact": laser.dot_product_attention(
            q, k, v, kind="laser_exact", is_causal=is_causal
        ),
        "softmax": laser.dot_product_attention(q, k, v, kind="softmax", is_causal=is_causal),
    }


def reference_outputs(q, k, v, is_causal: bool) -> dict[str, np.ndarray]:
    """float64 softmax and LASER outputs of the (rounded) inputs, [T, N, H]: laser.reference,
    the exact reference the attention tests use too."""
    B, T, N, _ = q.shape
    vis = reference.visible_mask(B, N, T, k.shape[1], is_causal=is_causal)
    outputs = reference.outputs(q, k, v, vis=vis)
    return {kind: np.ascontiguousarray(out[0]) for kind, out in outputs.items()}


def sample(config, index: int):
    """Triple `index`: a pure function of (seed, index)."""
    rng = np.random.default_rng([config.seed, index])
    shape = (1, config.seq_len, config.num_heads, config.head_dim)
    stds = (config.q_std, config.k_std, config.v_std)
    return [jnp.asarray(rng.standard_normal(shape) * s, config.dtype) for s in stds]


def run(config, workdir: Path) -> None:
    records.prepare_workdir(workdir, config.to_dict())
    done = {
        r["step"] for r in records.read_metrics(workdir) if r["name"] == f"rel_err/{METHODS[-1]}"
    }
    records.set_status(workdir, "running")
    compute = jax.jit(attention_outputs, static_argnums=3)
    start = time.time()
    for index in tqdm(range(config.samples), desc="A.5 triples", initial=0):
        if index in done:
            continue
        q, k, v = sample(config, index)
        ours = compute(q, k, v, config.is_causal)
        refs = reference_outputs(q, k, v, config.is_causal)
        rows = []
        for method in METHODS:
            expected = refs["softmax" if method == "softmax" else "laser"]
            got = np.asarray(ours[method].astype(jnp.float32), np.float64)[0]
            err = float(np.linalg.norm(got - expected) / np.linalg.norm(expected))
            rows.append(
                dict(
                    step=index,
                    split="sample",
                    name=f"rel_err/{method}",
                    value=err,
                    elapsed=time.time() - start,
                )
            )
        records.append_metrics(workdir, rows)
    records.set_status(workdir, "done", samples=config.samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="tiny")
    parser.add_argument("--workdir", required=True, type=Path)
    parser.add_argument("overrides", nargs="*", help="config overrides key=value")
    args = parser.parse_args(argv)
    try:
        config = configs.load(f"{CONFIG}:{args.profile}", args.overrides)
        run(config, args.workdir)
    except configs.ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
