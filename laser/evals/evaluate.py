"""Evaluate a trained LM's checkpoints on the one-shot suite and keep the results as records.

A record is <workdir>/evals/<step>.json, written atomically; evaluating a step whose record
exists with the same settings is skipped, so tables re-render from records without recomputing.
"""

from __future__ import annotations

import time
from pathlib import Path

from laser import records
from laser.evals import checkpoint, scoring, tasks

# Tiny-scale budget: at most this many examples per task (a seeded subset), so that one
# checkpoint on every task takes about half a minute on a 2-core CPU.
TINY_LIMIT = 100


def evaluate(
    workdir: str | Path,
    step: int | None,
    names: tuple[str, ...],
    limit: int = TINY_LIMIT,
    seed: int = 0,
    batch: int = 32,
) -> dict:
    """Accuracy (summed and per-token normalised) of one checkpoint on each task."""
    model, encode, max_len = checkpoint.load_lm(workdir)
    step, params = checkpoint.restore_params(workdir, step)
    fn = scoring.loglik_fn(lambda p, t: model.apply({"params": p}, t))
    out = {}
    for name in names:
        begin = time.time()
        data = tasks.one_shot_examples(name, limit, seed)
        result = scoring.score(fn, params, data, encode, max_len, batch)
        out[name] = {
            "sum": result.accuracy("sum"),
            "per_token": result.accuracy("per_token"),
            "chance": tasks.chance(data),
            "seconds": round(time.time() - begin, 2),
        }
    settings = {"limit": limit, "seed": seed, "max_len": max_len, "shots": 1}
    return {"step": step, "settings": settings, "tasks": out}


def evaluate_run(
    workdir: str | Path,
    steps: list[int] | None = None,
    names: tuple[str, ...] = tasks.TASKS,
    limit: int = TINY_LIMIT,
    seed: int = 0,
) -> list[Path]:
    """Write <workdir>/evals/<step>.json for each step (default: the latest) unless a record
    with the same settings and tasks is already there; returns the record paths."""
    available = checkpoint.steps(workdir)
    steps = steps if steps is not None else available[-1:]
    paths = []
    for step in steps:
        path = Path(workdir) / "evals" / f"{step}.json"
        if path.exists():
            old = records.read_json(path)
            if old["settings"]["limit"] == limit and old["settings"]["seed"] == seed:
                if set(names) <= set(old["tasks"]):
                    paths.append(path)
                    continue
        path.parent.mkdir(parents=True, exist_ok=True)
        records.write_json(path, evaluate(workdir, step, names, limit, seed))
        paths.append(path)
    return paths
