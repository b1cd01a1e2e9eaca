"""Device mesh and logical partitioning rules (data + fsdp axes).

Batches are split over both axes; parameters are sharded over "fsdp" along their "embed" axis
(ZeRO-3 style) and replicated over "data". With one device everything is replicated; the same
code runs multi-process after jax.distributed.initialize() (laser/train/distributed.py).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXES = ("data", "fsdp")
RULES = (
    ("batch", AXES),
    ("embed", "fsdp"),
    ("vocab", None),
    ("heads", None),
    ("kv", None),
    ("mlp", None),
)


def make_mesh(data: int = -1, fsdp: int = 1) -> Mesh:
    """A (data, fsdp) mesh over all devices; -1 = whatever is left."""
    n = jax.device_count()
    if data == -1:
        data = n // fsdp
    if data * fsdp != n:
        raise ValueError(
            f"mesh: got data={data} x fsdp={fsdp}; accepted: a product equal to the {n} devices"
        )
    return Mesh(np.asarray(_devices()).reshape(data, fsdp), AXES)


def _devices() -> list:
    """All devices, each process's together (in process order): a batch sharded over the
    flattened (data, fsdp) axes then gives process i the i-th contiguous block of rows, the
    rows laser.data.batches.local_rows hands it. Single-process: jax.devices() as it is."""
    if jax.process_count() == 1:
        return jax.devices()
    return sorted(jax.devices(), key=lambda d: (d.process_index, d.id))


def param_shardings(abstract_variables, mesh: Mesh):
    """NamedShardings for (possibly boxed) variables from their logical axis names."""
    specs = nn.get_partition_spec(abstract_variables)
    return nn.logical_to_mesh_sharding(specs, mesh, RULES)


def opt_state_shardings(optimizer: optax.GradientTransformation, params, shardings, mesh: Mesh):
    """Shardings of `optimizer.init(params)`: each moment like the parameter it mirrors,
    everything else (step counts) replicated. jit alone would not give this: the moments are
    zeros that do not depend on the parameters' values, so their layout is XLA's choice."""
    abstract = jax.eval_shape(optimizer.init, params)
    return optax.tree_map_params(
        optimizer,
        lambda _, s: s,
        abstract,
        shardings,
        transform_non_params=lambda _: replicated(mesh),
        is_leaf=lambda x: isinstance(x, jax.ShapeDtypeStruct),
    )


def batch_sharding(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec(AXES))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def put_batch(batch: dict[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
    """This process's rows of a global batch -> global arrays sharded over (data, fsdp)."""
    sharding = batch_sharding(mesh)
    return {
        k: jax.make_array_from_process_local_data(sharding, np.asarray(v)) for k, v in batch.items()
    }
