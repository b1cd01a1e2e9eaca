"""Read a training run back: its config, its checkpoint steps, the parameters at a step and,
for a causal-LM run, its model and tokenizer.

The trainer (laser/train/trainer.py) saves {"step", "params", "opt_state"} (and "model_state"
for models with BatchNorm statistics) with Orbax under
<workdir>/checkpoints/<step>/ and the run's config as <workdir>/config.json. Only the
parameters are restored (the optimizer state is not needed to evaluate or to fine-tune).
The one loader of both evaluation (laser.evals.evaluate) and fine-tuning
(laser.train.finetune); it builds models through laser.nn, never laser.train. A workdir may be
a local path or a URI such as gs://bucket/run (laser.records.as_path).
"""

from __future__ import annotations

from pathlib import Path

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from laser import records
from laser.configs import ConfigError


def run_config(workdir: str | Path) -> ml_collections.ConfigDict:
    """The config a run was trained with (ConfigError if the workdir holds no run)."""
    path = records.as_path(workdir) / "config.json"
    if not path.is_file():
        raise ConfigError(f"--checkpoint {workdir}: no config.json; accepted: a run's workdir")
    return ml_collections.ConfigDict(records.read_json(path))


def steps(workdir: str | Path) -> list[int]:
    """Checkpointed steps of a run, ascending (finished saves only)."""
    root = records.as_path(workdir) / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(int(p.name) for p in root.iterdir() if p.name.isdigit() and p.is_dir())


def restore_params(workdir: str | Path, step: int | None = None) -> tuple[int, dict]:
    """(step, params) of the checkpoint at `step` (default: the latest), as host arrays."""
    available = steps(workdir)
    if step is None and available:
        step = available[-1]
    if step not in available:
        raise ConfigError(
            f"--step {step}: no checkpoint in {workdir}; accepted: "
            f"{', '.join(map(str, available)) or 'none (train the run first)'}"
        )
    path = records.resolved(records.as_path(workdir) / "checkpoints" / str(step) / "default")
    with ocp.PyTreeCheckpointer() as ckptr:
        meta = ckptr.metadata(path)
        tree = meta.item_metadata.tree if hasattr(meta, "item_metadata") else meta.tree
        # Restore only the "params" subtree, each leaf as a numpy array on the host.
        restore = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), tree["params"])
        state = ckptr.restore(
            path,
            args=ocp.args.PyTreeRestore(
                item={"params": tree["params"]},
                restore_args={"params": restore},
                partial_restore=True,
            ),
        )
    return step, state["params"]


def load_lm(workdir: str | Path):
    """(model, encode, max_len) of a causal-LM run: its TransformerLM, tokenizer, seq_len."""
    from laser.nn.transformer_lm import from_config

    config = run_config(workdir)
    if config.task != "causal_lm":
        raise ConfigError(
            f"--checkpoint {workdir}: task {config.task!r}; accepted: a causal_lm run"
        )
    if config.data.name == "shakespeare":
        from laser.data import shakespeare

        sp = shakespeare.tokenizer(config.data.vocab_size)
    else:
        from laser.data import tokenizer

        sp = tokenizer.load(config.data.tokenizer_path)
    return from_config(config.model), sp.encode, config.data.seq_len
