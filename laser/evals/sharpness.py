"""How sharp a trained LM's attention is, and how much gradient passes back through it
(paper §3.2, Figure 1).

The paper's argument: the softmax Jacobian dA_i/da_j = A_i (1{i=j} - A_j) scales with the
attention probabilities A, which in its trained 2.2B LM are mostly tiny (~80% below 1e-3, ~20%
below 1e-7), so little gradient reaches the logits a = QK^T, and LASER passes more. This module
measures both halves on held-out data, through the model's own attention module
(laser.nn.MultiHeadAttention sows its probabilities and takes a zero "perturbation" on its
logits; nothing here re-implements attention):

- `probability_stats`: per attention layer, a histogram of log10 A over visible (query, key)
  pairs, the counts below 1e-3 and 1e-7 and the number of visible pairs. Only visible keys are
  counted: a causal mask sets the other half of the matrix to exactly 0, which is not a
  probability the model chose, would put ~half of all entries below 1e-7 at any sharpness, and
  carries no gradient (the paper's Jacobian argument is about the visible ones).
- `gradient_norms`: per layer, the Frobenius norms of the held-out loss gradient with respect
  to the query and key projection kernels and, optionally, to the attention logits.

Both take (model, params, batches) and reduce on the device inside one jit per batch, so only
histograms and norms leave it; at paper scale pass few rows per batch (the logit gradient is
[rows, heads, T, T] per layer). `measure_run` applies them to a run's workdir (its latest
checkpoint, the first `tokens` held-out tokens of its test split).

    python -m laser.evals.sharpness --workdir <run> [--tokens 8192] [--rows 16] [--no-logits]
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import traverse_util

from laser import records
from laser.configs import ConfigError
from laser.evals import checkpoint

THRESHOLDS = (1e-3, 1e-7)  # the paper's two marks (Figure 1 caption, §3.2)
# Histogram edges of log10 A: 0.25 decades from 1e-12 to 1; bin 0 holds A < 1e-12 (exact
# zeros among visible pairs included), the last A = 1.
EDGES = np.linspace(-12.0, 0.0, 49)
WEIGHTS, VISIBLE, LOGITS = "attention_weights", "attention_visible", "attention_logits"
Batch = dict[str, np.ndarray]


def layer_name(path: tuple[str, ...]) -> str:
    """'block_0/attention' for the module path of one attention layer."""
    return "/".join(path)


def _natural(name: str) -> list:
    return [int(t) if t.isdigit() else t for t in name.replace("_", "/").split("/")]


def _by_layer(tree: dict, leaf: str, sown: bool = True) -> dict[str, Any]:
    """{layer: value} of `leaf` under every attention module of a collection (`sown`: the
    value is the first of the tuple that Module.sow keeps), layers in natural order."""
    flat = traverse_util.flatten_dict(tree) if tree else {}
    found = {layer_name(k[:-1]): v[0] if sown else v for k, v in flat.items() if k[-1] == leaf}
    return dict(sorted(found.items(), key=lambda kv: _natural(kv[0])))


def probability_stats(
    weights: jax.Array, visible: jax.Array | None, edges: np.ndarray = EDGES
) -> dict[str, jax.Array]:
    """Histogram and threshold counts of attention probabilities over visible pairs.

    Args:
      weights: [..., T, S] probabilities.
      visible: bool broadcastable to weights (None: all visible).
      edges: increasing log10 edges.
    Returns:
      {"hist": [len(edges)] counts (bin 0: below 10^edges[0]; bin i: [10^e_{i-1}, 10^e_i);
      A = 1 falls in the last), "below": [len(THRESHOLDS)] counts of A < threshold,
      "total": number of visible pairs}, all int32 (exact counts).
    """
    w = weights.astype(jnp.float32)
    vis = jnp.ones(w.shape, bool) if visible is None else jnp.broadcast_to(visible, w.shape)
    count = vis.astype(jnp.int32).reshape(-1)
    log = jnp.log10(jnp.maximum(w, jnp.finfo(jnp.float32).tiny)).reshape(-1)
    idx = jnp.searchsorted(jnp.asarray(edges, jnp.float32), log, side="right")
    idx = jnp.minimum(idx, len(edges) - 1)  # A = 1 (log 0 = the last edge) joins the last bin
    hist = jnp.zeros(len(edges), jnp.int32).at[idx].add(count)
    below = jnp.stack([jnp.sum(count * (w.reshape(-1) < t)) for t in THRESHOLDS])
    return {"hist": hist, "below": below, "total": jnp.sum(count)}


def _logit_perturbations(model: nn.Module, params: dict, inputs: jax.Array) -> dict:
    """Zeros of each attention layer's logit shape, in the "perturbations" collection layout."""
    _, state = jax.eval_shape(
        lambda p, x: model.apply({"params": p}, x, mutable=["intermediates"]), params, inputs
    )
    flat = traverse_util.flatten_dict(state["intermediates"])
    zeros = {
        k[:-1] + (LOGITS,): jnp.zeros(v[0].shape, jnp.float32)
        for k, v in flat.items()
        if k[-1] == WEIGHTS
    }
    return traverse_util.unflatten_dict(zeros)


def _projection_grads(grads: dict, layers: Iterable[str]) -> dict[str, dict[str, jax.Array]]:
    """{layer: {"query": kernel gradient, "key": ...}}: the q/k projections' part of `grads`."""
    flat = traverse_util.flatten_dict(grads)
    return {
        layer: {proj: flat[(*layer.split("/"), proj, "kernel")] for proj in ("query", "key")}
        for layer in layers
    }


def batch_measurements(
    model: nn.Module, params: dict, batch: Batch, logits: bool = True
) -> dict[str, Any]:
    """One held-out batch: per-layer probability stats, the sum of per-token losses, the token
    weight, per layer d(loss sum)/d(q, k kernels) and the squared norm of d(loss sum)/d logits.

    `batch` has "inputs", "targets" [B, T] int and "weights" [B, T] (the LM task's layout).
    """
    inputs = jnp.asarray(batch["inputs"])
    perturb = _logit_perturbations(model, params, inputs) if logits else {}

    def loss_sum(p, z):
        variables = {"params": p} | ({"perturbations": z} if z else {})
        out, state = model.apply(variables, inputs, mutable=["intermediates"])
        losses = optax.softmax_cross_entropy_with_integer_labels(out, batch["targets"])
        return jnp.sum(losses * batch["weights"]), state["intermediates"]

    (loss, inter), (g_params, g_logits) = jax.value_and_grad(
        loss_sum, argnums=(0, 1), has_aux=True
    )(params, perturb)
    weights, visible = _by_layer(inter, WEIGHTS), _by_layer(inter, VISIBLE)
    return {
        "stats": {k: probability_stats(w, visible.get(k)) for k, w in weights.items()},
        "qk": _projection_grads(g_params, weights),
        "logits_sq": {
            k: jnp.sum(jnp.square(g)) for k, g in _by_layer(g_logits, LOGITS, sown=False).items()
        },
        "loss_sum": loss,
        "weight_sum": jnp.sum(jnp.asarray(batch["weights"])),
    }


def measure(
    model: nn.Module, params: dict, batches: Iterable[Batch], logits: bool = True
) -> dict[str, Any]:
    """Figure 1's shares and the gradient norms over held-out batches, as plain JSON data.

    Gradients are of the mean loss over all the batches' weighted tokens: per-batch gradients
    of the loss sum are accumulated (projection kernels) or their squared norms summed (logits,
    one tensor per batch), then divided by the total weight. Returns {"layers": {layer:
    {"hist", "below", "total", "shares", "grad_query", "grad_key"[, "grad_logits"]}},
    "overall": {"hist", "below", "total", "shares"}, "loss", "tokens", "edges", "thresholds"}.
    """
    params = nn.unbox(params)  # a fresh init's params carry logical axis names
    step = jax.jit(lambda p, b: batch_measurements(model, p, b, logits))
    acc: dict[str, Any] | None = None
    for batch in batches:  # accumulated on the device: only sums leave it, at the end
        out = step(params, batch)
        acc = out if acc is None else jax.tree.map(jnp.add, acc, out)
    if acc is None:
        raise ValueError("measure: no batches")
    acc = jax.device_get(acc)
    total_w = float(acc["weight_sum"])
    layers, overall = {}, {"hist": 0.0, "below": 0.0, "total": 0.0}
    for layer, s in acc["stats"].items():
        row = {k: np.asarray(s[k]).tolist() for k in ("hist", "below", "total")}
        row["shares"] = (np.asarray(s["below"]) / max(float(s["total"]), 1.0)).tolist()
        for proj, g in acc["qk"][layer].items():
            row[f"grad_{proj}"] = float(np.linalg.norm(np.asarray(g, np.float64)) / total_w)
        if layer in acc["logits_sq"]:
            # One logit tensor per batch: their squared norms add up, then the root.
            row["grad_logits"] = float(math.sqrt(acc["logits_sq"][layer]) / total_w)
        layers[layer] = row
        for k in overall:
            overall[k] = overall[k] + np.asarray(s[k], np.float64)
    overall = {k: np.asarray(v).tolist() for k, v in overall.items()}
    overall["shares"] = (np.asarray(overall["below"]) / max(overall["total"], 1.0)).tolist()
    return {
        "layers": layers,
        "overall": overall,
        "loss": float(acc["loss_sum"]) / total_w,
        "tokens": total_w,
        "edges": EDGES.tolist(),
        "thresholds": list(THRESHOLDS),
    }


# --- a run's workdir --------------------------------------------------------------------------


def heldout_batches(config, tokens: int, rows: int | None = None) -> Iterator[Batch]:
    """The first ~`tokens` held-out tokens of an LM run's test split, in batches of `rows`
    windows of its seq_len (default: as many rows as keep a batch <= 2048 tokens, at least 1,
    at most the run's batch size). Tiny: Shakespeare's test plays; paper: c4/en validation."""
    d = config.data
    rows = rows or max(1, min(d.batch_size, 2048 // d.seq_len))
    n = max(1, -(-tokens // (rows * d.seq_len)))
    if d.name == "shakespeare":
        from laser.data import batches, shakespeare

        yield from batches.eval_batches(
            shakespeare.tokens("test", d.vocab_size), rows, d.seq_len, n
        )
        return
    from laser.data import c4

    ds = c4.c4_dataset(
        "validation",
        tokenizer_path=d.tokenizer_path,
        seq_len=d.seq_len,
        batch_size=rows,
        seed=0,
        data_dir=d.tfds_data_dir or None,
        name=d.tfds_name,
    )
    yield from ds.take(n).as_numpy_iterator()


def check_run(workdir: str | Path) -> None:
    """ConfigError (one line: the value and what is accepted) unless `workdir` is a causal-LM
    run with a checkpoint."""
    path = records.as_path(workdir)
    if not path.is_dir():
        raise ConfigError(f"--workdir {workdir}: not a directory; accepted: an LM run's workdir")
    config = checkpoint.run_config(workdir)
    if config.get("task") != "causal_lm":
        raise ConfigError(
            f"--workdir {workdir}: task {config.get('task')!r}; accepted: a causal_lm run"
        )
    if not checkpoint.steps(workdir):
        raise ConfigError(
            f"--workdir {workdir}: no checkpoint; accepted: an LM run with a finished save"
        )


def measure_run(
    workdir: str | Path, tokens: int = 8192, rows: int | None = None, logits: bool = True
) -> dict[str, Any]:
    """`measure` of a run's latest checkpoint on its held-out data, with what was measured."""
    check_run(workdir)
    config = checkpoint.run_config(workdir)
    model, _, _ = checkpoint.load_lm(workdir)
    step, params = checkpoint.restore_params(workdir)
    logits = logits and not config.model.attention.get("differential", False)
    out = measure(model, params, heldout_batches(config, tokens, rows), logits)
    status = records.read_status(workdir) or {}
    return out | {
        "workdir": str(workdir),
        "step": step,
        "attention": config.model.attention.kind,
        "seq_len": config.data.seq_len,
        "seed": config.train.seed,
        "profile": config.get("profile", ""),
        "status": status.get("status", "missing"),
        "final": status.get("final", {}),
    }


def cached(workdir: str | Path, tokens: int = 8192, logits: bool = True) -> dict[str, Any]:
    """measure_run, kept in <workdir>/sharpness.json and reused while the run's latest
    checkpoint and the settings are the same."""
    check_run(workdir)
    path = records.as_path(workdir) / "sharpness.json"
    latest = checkpoint.steps(workdir)[-1]
    old = records.read_json(path) if path.is_file() else None
    key = {"tokens": tokens, "logits": logits}
    if old and old.get("step") == latest and old.get("settings") == key:
        return old
    out = measure_run(workdir, tokens, logits=logits) | {"settings": key}
    try:
        records.write_json(path, out)
    except OSError:  # a run we may only read: measure again next time
        pass
    return out


def _shares_text(shares: list[float]) -> str:
    return ", ".join(f"<{t:g}: {100 * s:.2f}%" for t, s in zip(THRESHOLDS, shares, strict=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--tokens", type=int, default=8192)
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--no-logits", action="store_true")
    args = parser.parse_args(argv)
    try:
        out = measure_run(args.workdir, args.tokens, args.rows, not args.no_logits)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{args.workdir} step {out['step']} ({out['attention']}, seq {out['seq_len']}):")
    for layer, row in out["layers"].items():
        shares = _shares_text(row["shares"])
        grads = ", ".join(f"{k[5:]} {v:.3g}" for k, v in row.items() if k.startswith("grad_"))
        print(f"  {layer}: {shares}; |grad| {grads}")
    shares = _shares_text(out["overall"]["shares"])
    print(f"  overall: {shares}; held-out loss {out['loss']:.4f} on {out['tokens']:.0f} tokens")
    return 0


if __name__ == "__main__":
    sys.exit(main())
