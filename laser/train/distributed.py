"""Multi-process runs on JAX's own multi-controller runtime (`jax.distributed`).

`laser.main` calls `initialize` before anything touches a JAX backend. It starts the runtime
when the run is one process of several: under a launcher JAX detects by itself (Slurm's srun
with more than one task, Open MPI's mpirun with more than one rank, a Cloud TPU VM), or when
given `--coordinator HOST:PORT --num-processes N --process-id I` (any other launcher, or two
shells on one machine). Alone it does nothing and the run stays single-process.

Every process runs the same program on its own devices; the trainer (laser/train/trainer.py)
needs three agreements between them, all here:
  - `on_primary_first`: process 0 alone prepares the workdir (it writes the run records), and
    the others learn whether that worked instead of waiting for it in a collective forever;
  - `check_shared_workdir`: every process must see process 0's files (checkpoints are written
    by all of them into one directory): a shared filesystem or an object store such as gs://;
  - `StopVote`: a SIGTERM reaches one process (or all, at different moments); all of them must
    leave the loop at the same step, or one would wait in the next step's collectives forever.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from laser import records
from laser.configs import ConfigError


def _count(name: str) -> int:
    try:
        return int(os.environ.get(name, "1"))
    except ValueError:
        return 1


def _cloud_tpu_vm() -> bool:
    try:  # set when libtpu and a TPU are present; no network call
        from jax._src.cloud_tpu_init import running_in_cloud_tpu_vm
    except ImportError:
        return False
    return bool(running_in_cloud_tpu_vm)


def detect_launcher() -> str | None:
    """ "slurm", "openmpi" or "tpu" when this process is one of a multi-process launch that
    JAX's own cluster detection handles, else None.

    Slurm: an srun step of more than one task (SLURM_STEP_NUM_TASKS; a batch script outside
    srun is one process even when the allocation has several tasks). Open MPI: more than one
    rank. TPU: any Cloud TPU VM (JAX finds the pod's hosts from the TPU metadata; on a single
    host it starts a runtime of one process, which is harmless)."""
    slurm = ("SLURM_JOB_ID", "SLURM_STEP_NODELIST", "SLURM_NTASKS", "SLURM_PROCID")
    if all(k in os.environ for k in slurm) and _count("SLURM_STEP_NUM_TASKS") > 1:
        return "slurm"
    if "OMPI_MCA_orte_hnp_uri" in os.environ and _count("OMPI_COMM_WORLD_SIZE") > 1:
        return "openmpi"
    if _cloud_tpu_vm():
        return "tpu"
    return None


def check_args(coordinator: str | None, num_processes: int | None, process_id: int | None) -> None:
    """ConfigError (one line) unless the three flags are all absent or all valid."""
    given = {
        "--coordinator": coordinator,
        "--num-processes": num_processes,
        "--process-id": process_id,
    }
    if all(v is None for v in given.values()):
        return
    for flag, value in given.items():
        if value is None:
            others = " ".join(f"{k} {v}" for k, v in given.items() if v is not None)
            raise ConfigError(
                f"{others}: accepted only together with {flag} (all of --coordinator "
                "HOST:PORT, --num-processes N, --process-id I, or none)"
            )
    host, sep, port = coordinator.rpartition(":")
    if not (sep and host and port.isdigit() and 0 < int(port) < 65536):
        raise ConfigError(f"--coordinator {coordinator!r}: accepted: HOST:PORT, e.g. 10.0.0.1:1234")
    if num_processes < 1:
        raise ConfigError(f"--num-processes {num_processes}: accepted: an integer >= 1")
    if not 0 <= process_id < num_processes:
        raise ConfigError(
            f"--process-id {process_id}: accepted: 0 .. {num_processes - 1} "
            f"(--num-processes {num_processes})"
        )


def initialize(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
) -> str | None:
    """Start jax.distributed if this is one process of several; returns how it was launched
    ("flags", "slurm", "openmpi", "tpu") or None (single process, nothing done). Must run
    before anything initialises a JAX backend (jax.devices(), a jit, ...)."""
    check_args(coordinator, num_processes, process_id)
    how = "flags" if coordinator is not None else detect_launcher()
    if how is None:
        return None
    # CPU processes exchange collectives through gloo (XLA's CPU client has no other
    # cross-process implementation); GPU and TPU clients ignore this setting.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if how == "flags":
        jax.distributed.initialize(coordinator, num_processes, process_id)
    else:
        jax.distributed.initialize()  # JAX reads the launcher's environment itself
    return how


def on_primary_first(fn: Callable[[], None]) -> None:
    """Run `fn` on process 0 only; then every process raises if it failed (process 0 its own
    error, the others a RuntimeError pointing to it), so none waits for a run that never
    starts. Single-process: just `fn()`."""
    error = None
    if jax.process_index() == 0:
        try:
            fn()
        except Exception as e:  # re-raised below, after the others have been told
            error = e
    if jax.process_count() > 1:
        failed = int(multihost_utils.broadcast_one_to_all(np.int32(error is not None)))
        if failed and error is None:
            raise RuntimeError("process 0 could not prepare the run; see its output")
    if error is not None:
        raise error


def check_shared_workdir(workdir) -> None:
    """Every process must see the workdir process 0 prepared (Orbax writes each process's
    shards of a checkpoint into one directory). Process 0 writes a random token there; each
    process reads it back; a ConfigError on every process names those that read something else
    (node-local disks: use a shared filesystem or gs://). Nothing to do single-process."""
    if jax.process_count() == 1:
        return
    path = records.as_path(workdir) / ".processes"
    token = int.from_bytes(os.urandom(3), "little")
    if jax.process_index() == 0:
        records.write_text(path, str(token))
    # The broadcast is also the barrier: process 0 enters it after writing.
    token = int(multihost_utils.broadcast_one_to_all(np.int32(token)))
    try:
        seen = int(path.read_text())
    except (OSError, ValueError):
        seen = -1
    ok = np.asarray(multihost_utils.process_allgather(np.int32(seen == token)))
    blind = [int(i) for i in np.flatnonzero(ok == 0)]
    if blind:
        raise ConfigError(
            f"--workdir {workdir}: processes {blind} do not see process 0's files there; "
            "accepted: a directory every process sees (a shared filesystem, gs://...)"
        )


def process_sum(values: dict[str, float]) -> dict[str, float]:
    """`values` summed over processes (same keys on every process); as given single-process."""
    if jax.process_count() == 1 or not values:
        return values
    keys = sorted(values)
    local = np.asarray([values[k] for k in keys], np.float64)
    # float32 on the wire unless x64 is on: these are host sums of counts and edit distances.
    total = np.asarray(multihost_utils.process_allgather(local)).sum(axis=0)
    return {k: float(v) for k, v in zip(keys, total, strict=True)}


class StopVote:
    """Whether all processes stop at this step boundary: the OR of their stop requests.

    Single-process: the local request, at once. Multi-process: each boundary dispatches a tiny
    all-reduce (max over one flag per device) of the requests and reads the previous
    boundary's result, which is ready or nearly so (it queued behind the previous step), so
    the vote adds no host stall; every process reads the same value at the same boundary and
    all stop together, one step after the signal. Every process must call `__call__` once at
    every boundary (the all-reduces line up like any other collective).
    """

    def __init__(self, mesh: Mesh):
        self._multi = jax.process_count() > 1
        self._pending: jax.Array | None = None
        if self._multi:
            self._flags = NamedSharding(mesh, PartitionSpec(mesh.axis_names))
            self._local = len(mesh.local_devices)
            self._max = jax.jit(
                lambda f: f.max(), out_shardings=NamedSharding(mesh, PartitionSpec())
            )

    def __call__(self, requested: bool) -> bool:
        if not self._multi:
            return requested
        previous = self._pending
        flags = np.full((self._local,), int(requested), np.int32)
        self._pending = self._max(jax.make_array_from_process_local_data(self._flags, flags))
        return previous is not None and bool(previous)
