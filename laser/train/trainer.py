"""The one generic training loop: `train_and_evaluate(config, workdir)`.

It owns what every experiment shares: the jit-compiled step (value_and_grad, optax update,
global gradient norm), the (data, fsdp) mesh, Orbax checkpoints every N steps and on SIGTERM,
automatic resume from the workdir, divergence detection, evaluation, run records, an optional
wandb mirror and a tqdm bar. The task (laser/train/task.py) brings model, data and loss.

Multi-process runs (laser/train/distributed.py; `laser.main` starts the runtime): every process
runs this loop on its own devices and rows; process 0 alone writes the run records and the
wandb mirror and holds the workdir lock; every process takes part in Orbax checkpoints; a
SIGTERM on any process stops all of them at the same step with a checkpoint. The workdir may be
a local path or a URI etils.epath understands (gs://...; laser/records.py).

Resume contract: data order is a pure function of (seed, step), the step's randomness is
fold_in(seed, step), and on resume the metrics logged after the restored checkpoint are dropped
before they are logged again, so a killed and resumed run writes the metrics of an uninterrupted
one (tests/test_trainer.py kills one with SIGKILL).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp
from tqdm import tqdm

from laser import records
from laser.configs import ConfigError
from laser.nn import partitioning
from laser.train import distributed, sharding
from laser.train.optim import DECAY_MASKS, DECAYS, OPTIMIZERS, make_optimizer
from laser.train.task import Task, task_class

DTYPES = ("float32", "bfloat16")


def validate(config: ml_collections.ConfigDict) -> None:
    """Reject values the run would fail on, before anything is written (ConfigError)."""
    task = task_class(config.task)
    checks = [
        ("model.dtype", config.model.dtype, DTYPES),
        ("optim.name", config.optim.name, OPTIMIZERS),
        ("optim.weight_decay_mask", config.optim.weight_decay_mask, DECAY_MASKS),
        ("optim.decay", config.optim.get("decay", "cosine"), DECAYS),
    ]
    for key, value, accepted in checks:
        if value not in accepted:
            raise ConfigError(f"config {key}={value!r}: accepted: {', '.join(accepted)}")
    for key in ("train.steps", "data.batch_size", "data.seq_len", "train.log_every"):
        section, name = key.split(".")
        if name not in config[section]:  # e.g. no seq_len for images
            continue
        if config[section][name] <= 0:
            raise ConfigError(f"config {key}={config[section][name]!r}: accepted: an integer > 0")
    if config.data.batch_size % jax.process_count():
        raise ConfigError(
            f"config data.batch_size={config.data.batch_size}: accepted: a multiple of the "
            f"{jax.process_count()} processes"
        )
    for key, value, accepted in task.check_config(config):
        raise ConfigError(f"config {key}={value!r}: accepted: {accepted}")


def _truncate_metrics(workdir, step: int) -> None:
    """Drop rows logged after the checkpoint we resume from (they will be logged again)."""
    keep = [r for r in records.read_metrics(workdir) if r["step"] <= step]
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in keep)
    records.write_text(workdir / "metrics.jsonl", text)


class _Stop:
    """SIGTERM sets a flag; the loop checkpoints and leaves at the step boundary `now` says
    (the next one single-process; the one after it, agreed by all, multi-process)."""

    def __init__(self, mesh):
        self.requested = False
        self._old = None
        self._vote = distributed.StopVote(mesh)

    def now(self) -> bool:
        """Whether the run stops at this boundary; call it at every step boundary."""
        return self._vote(self.requested)

    def __enter__(self):
        if hasattr(signal, "SIGTERM") and _in_main_thread():
            self._old = signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, *_):
        self.requested = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _wandb(config, workdir):
    if not config.get("wandb", False):
        return None
    import wandb

    os.environ.setdefault("WANDB_MODE", "offline")  # online only if the user asked for it
    # Stable across processes and restarts (str hash() is salted per process), so a resumed
    # run continues its wandb run.
    run_id = hashlib.sha256(str(records.resolved(workdir)).encode()).hexdigest()[:16]
    local = str(workdir) if records.is_local(workdir) else tempfile.gettempdir()
    return wandb.init(
        dir=local, config=config.to_dict(), name=workdir.name, id=run_id, resume="allow"
    )


@contextlib.contextmanager
def _workdir_lock(workdir):
    """One trainer per workdir: a second one (e.g. a restarted sweep runner while the previous
    child still checkpoints after SIGTERM) waits here until the first has let go. Object stores
    have no locks: a URI workdir is locked on this machine only (a file in the temp dir)."""
    if records.is_local(workdir):
        path = Path(workdir) / ".lock"
    else:
        key = hashlib.sha256(str(workdir).encode()).hexdigest()[:16]
        path = Path(tempfile.gettempdir()) / "laser-locks" / f"{key}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | os.PathLike) -> dict:
    """Train `config` in `workdir` (resuming if it holds a checkpoint); returns final metrics."""
    validate(config)
    workdir = records.as_path(workdir)
    writer = jax.process_index() == 0  # the one process that writes run records
    with contextlib.ExitStack() as stack:

        def prepare():
            records.prepare_workdir(workdir, config.to_dict())
            # Process 0 holds the lock for all: the others run only while it runs, and a
            # lock taken on every host would mean nothing on filesystems without shared locks.
            stack.enter_context(_workdir_lock(workdir))

        distributed.on_primary_first(prepare)
        distributed.check_shared_workdir(workdir)
        try:
            return _run(config, workdir, writer)
        except Exception as e:
            if writer:
                records.set_status(workdir, "failed", error=f"{type(e).__name__}: {e}")
            raise


def _run(config, workdir, writer: bool) -> dict:
    task: Task = task_class(config.task)(config)
    mesh = sharding.make_mesh(config.mesh.data, config.mesh.fsdp)
    total = config.train.steps
    optimizer, lr_fn = make_optimizer(config.optim, total)
    seed = jax.random.key(config.train.seed)
    inputs = task.model_inputs(task.example_batch())

    def init_params(rng):

        return nn.unbox(task.model.init(rng, *inputs)["params"])

    variables = jax.eval_shape(lambda r: task.model.init(r, *inputs), seed)
    shardings = sharding.param_shardings(variables["params"], mesh)
    params = jax.jit(init_params, out_shardings=shardings)(seed)
    # Fine-tuning starts from a pretrained checkpoint; other tasks return `params` as they are.
    params = jax.device_put(task.initial_params(params), shardings)
    # The whole state's layout is pinned, at init and in the step's in and out shardings: the
    # moments sharded like their parameters (jit alone put them all on one device at init), so
    # the first step neither runs with the optimiser state on one device nor the second
    # recompiles for a changed layout.
    replicated = sharding.replicated(mesh)
    opt_shardings = sharding.opt_state_shardings(optimizer, params, shardings, mesh)
    state = {
        "step": jax.device_put(np.zeros([], np.int32), replicated),
        "params": params,
        "opt_state": jax.jit(optimizer.init, out_shardings=opt_shardings)(params),
    }
    if set(variables) - {"params"}:
        # Non-parameter collections (BatchNorm's "batch_stats"): small, replicated, carried in
        # the state (and so in checkpoints); the task's loss takes and returns them. Models
        # with parameters only keep the state above unchanged.
        state["model_state"] = jax.jit(
            lambda r: {k: v for k, v in task.model.init(r, *inputs).items() if k != "params"},
            out_shardings=replicated,
        )(seed)
    state_shardings = jax.tree.map(lambda x: x.sharding, state)

    ckpt = ocp.CheckpointManager(
        records.resolved(workdir / "checkpoints"),
        options=ocp.CheckpointManagerOptions(
            max_to_keep=config.train.get("keep_checkpoints", 2), create=True
        ),
    )
    start = 0
    if ckpt.latest_step() is not None:
        start = ckpt.latest_step()
        abstract_state = jax.tree.map(ocp.utils.to_shape_dtype_struct, state)
        state = ckpt.restore(start, args=ocp.args.StandardRestore(abstract_state))
        if writer:
            _truncate_metrics(workdir, start)
    elif writer and (workdir / "metrics.jsonl").exists():
        _truncate_metrics(workdir, 0)

    # The state is donated: its buffers become the new state's (no second copy of the model
    # and optimiser state in memory); benchmarks/train.py times this same jitted step.
    train_step = jit_train_step(
        task.loss_fn, optimizer, lr_fn, seed, state_shardings, sharding.batch_sharding(mesh)
    )

    @jax.jit
    def eval_step(state, batch):
        return task.loss_fn(state["params"], state.get("model_state", {}), batch, None, False)[1][0]

    def evaluate(state) -> dict[str, dict[str, float]]:
        """{split: {metric: value}}: every "<metric>_sum" of the task's aux (and of its
        host_sums, for metrics computed off-device such as WER) over all eval batches, divided
        by "<metric>_count" where the task gives one, else by "weight_sum"."""
        out = {}
        for split in task.eval_splits:
            sums: dict[str, float] = {}
            host: dict[str, float] = {}  # of this process's rows; summed over processes below
            for batch in task.eval_batches(split):
                aux = _to_host(eval_step(state, sharding.put_batch(batch, mesh)))
                for part, values in ((sums, aux), (host, task.host_sums(aux, batch))):
                    for k, v in values.items():
                        if k.endswith(("_sum", "_count")):
                            part[k] = part.get(k, 0.0) + float(np.sum(v))
            for k, v in distributed.process_sum(host).items():
                sums[k] = sums.get(k, 0.0) + v
            out[split] = _ratios(sums)
        return out

    if writer:
        records.set_status(workdir, "running", step=start)
    wb = _wandb(config, workdir) if writer else None
    t = config.train
    begin = time.time()
    window_items, window_start = 0, time.time()
    last = _final_from_records(workdir, total) if start >= total and writer else {}
    show = t.progress and writer
    bar = tqdm(total=total, initial=start, desc=workdir.name, disable=not show, leave=False)
    # Metrics stay on the device between log steps (no host sync per step, so the host prepares
    # the next batches while the device computes); `losses` holds them until the next flush.
    losses: list[tuple[int, jax.Array]] = []
    with _Stop(mesh) as stop:
        for step in range(start, total):
            local = task.train_batch(step)
            state, metrics = train_step(state, sharding.put_batch(local, mesh))
            done = step + 1
            losses.append((done, metrics["loss"]))
            window_items += task.items(local) * jax.process_count()
            stopping = stop.now()
            log = done % t.log_every == 0 or done == total
            evaluate_now = done % t.eval_every == 0 or done == total
            save = done % t.checkpoint_every == 0 or done == total or stopping
            bar.update(1)
            if not (log or evaluate_now or save):
                continue
            # Before anything is logged or saved: the first non-finite loss since the last
            # flush, if any, ends the run as diverged at that step (nothing after it is saved).
            bad = _first_nonfinite(losses)
            losses = []
            if bad is not None:
                if writer:
                    rows = [_row(bad[0], "train", "loss", bad[1], begin)]
                    records.append_metrics(workdir, rows)
                    records.set_status(workdir, "diverged", step=bad[0], loss=str(bad[1]))
                bar.close()
                return {"status": "diverged", "step": bad[0]}
            rows = []
            if log:
                rate = window_items / max(time.time() - window_start, 1e-9)
                window_items, window_start = 0, time.time()
                values = {k: float(v) for k, v in jax.device_get(metrics).items()}
                values["items_per_second"] = rate
                rows += [_row(done, "train", k, v, begin) for k, v in values.items()]
                last["train/loss"] = values["loss"]
                bar.set_postfix(loss=f"{values['loss']:.3f}", tok_s=f"{rate:,.0f}")
            if evaluate_now:
                for split, values in evaluate(state).items():
                    for name, value in values.items():
                        rows.append(_row(done, split, name, value, begin))
                        last[f"{split}/{name}"] = value
            if rows and writer:
                records.append_metrics(workdir, rows)
                if wb is not None:
                    wb.log({f"{r['split']}/{r['name']}": r["value"] for r in rows}, step=done)
            if save:
                ckpt.save(done, args=ocp.args.StandardSave(state))
            if stopping:
                ckpt.wait_until_finished()
                if writer:
                    records.set_status(workdir, "failed", step=done, error="SIGTERM; resumable")
                bar.close()
                return {"status": "failed", "step": done}
    ckpt.wait_until_finished()
    bar.close()
    final = dict(last)
    if writer:
        records.set_status(workdir, "done", step=total, final=final)
    if wb is not None:
        wb.finish()
    return {"status": "done", "step": total, "final": final}


def _first_nonfinite(losses: list[tuple[int, jax.Array]]) -> tuple[int, float] | None:
    """(step, loss) of the first non-finite loss, fetched from the device in one transfer."""
    values = jax.device_get([loss for _, loss in losses])
    for (step, _), value in zip(losses, values, strict=True):
        if not math.isfinite(float(value)):
            return step, float(value)
    return None


def make_train_step(loss_fn, optimizer: optax.GradientTransformation, lr_fn, seed: jax.Array):
    """The training step (not jitted): value_and_grad of the task's loss, the optax update, the
    global gradient norm and the learning rate. The step's randomness is fold_in(seed, step).
    `loss_fn(params, model_state, batch, rng, train)` returns (loss, (aux, model_state)) as
    Task.loss_fn does; the state carries "model_state" only for models that have one (BatchNorm
    statistics), so checkpoints of the others hold step, params and opt_state alone."""

    def train_step(state, batch):
        rng = jax.random.fold_in(seed, state["step"])
        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
        model_state = state.get("model_state", {})
        (loss, (_, model_state)), grads = grad_fn(state["params"], model_state, batch, rng, True)
        updates, opt_state = optimizer.update(grads, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        metrics = {
            "loss": loss,
            "grad_norm": optax.global_norm(grads),
            "learning_rate": lr_fn(state["step"]),
        }
        new = {"step": state["step"] + 1, "params": params, "opt_state": opt_state}
        if "model_state" in state:
            new["model_state"] = model_state
        return new, metrics

    return train_step


def jit_train_step(
    loss_fn,
    optimizer: optax.GradientTransformation,
    lr_fn,
    seed: jax.Array,
    state_shardings=None,
    batch_sharding=None,
):
    """The trainer's compiled step: make_train_step under jit, the state donated; with
    `state_shardings` (a tree like the state) and `batch_sharding`, the state keeps that layout
    from step to step and the metrics are replicated (the trainer's case; the paper plan
    compiles the same)."""
    step = make_train_step(loss_fn, optimizer, lr_fn, seed)
    if state_shardings is None:
        return jax.jit(step, donate_argnums=0)
    mesh = jax.tree.leaves(state_shardings)[0].mesh
    replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())

    def constrained(state, batch):
        # Traced with the batch's mesh axes, so the models' activation constraints
        # (laser.nn.partitioning.rows) apply; elsewhere those are no-ops.
        with partitioning.batch_rows(mesh, sharding.AXES):
            return step(state, batch)

    return jax.jit(
        constrained,
        in_shardings=(state_shardings, batch_sharding),
        out_shardings=(state_shardings, replicated),
        donate_argnums=0,
    )


TRAIN_ONLY = ("grad_norm", "learning_rate", "items_per_second")


def _to_host(tree):
    """An eval step's aux as NumPy: whole arrays single-process (device_get, as always);
    multi-process, replicated values (the sums) whole and batch-sharded ones (for host_sums)
    as this process's rows, in order, which are the rows of its eval batch."""
    if jax.process_count() == 1:
        return jax.device_get(tree)

    def local(x: jax.Array) -> np.ndarray:
        if x.is_fully_replicated:
            return np.asarray(x.addressable_data(0))
        shards = sorted(x.addressable_shards, key=lambda s: s.index[0].start or 0)
        unique = {s.index[0].start: s for s in shards}.values()  # replicas over fsdp: once
        return np.concatenate([np.asarray(s.data) for s in unique])

    return jax.tree.map(local, tree)


def _final_from_records(workdir, total: int) -> dict[str, float]:
    """The final metrics of a run whose last checkpoint is its last step (e.g. SIGTERM during
    the final save): what the loop would have collected, read back from metrics.jsonl."""
    return {
        f"{r['split']}/{r['name']}": r["value"]
        for r in records.read_metrics(workdir)
        if r["step"] == total and not (r["split"] == "train" and r["name"] in TRAIN_ONLY)
    }


def _ratios(sums: dict[str, float]) -> dict[str, float]:
    """{"loss_sum": 8, "error_sum": 2, "weight_sum": 4} -> {"loss": 2.0, "error": 0.5}; a
    metric with its own "<metric>_count" is divided by that instead of "weight_sum"."""
    out = {}
    for key, total in sums.items():
        if not key.endswith("_sum") or key == "weight_sum":
            continue
        name = key.removesuffix("_sum")
        count = sums.get(f"{name}_count", sums.get("weight_sum", 0.0))
        out[name] = total / max(count, 1e-9)
    return out


def _row(step: int, split: str, name: str, value: float, begin: float) -> dict[str, Any]:
    return {
        "step": step,
        "split": split,
        "name": name,
        "value": value,
        "elapsed": round(time.time() - begin, 3),
    }
