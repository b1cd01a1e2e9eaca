"""Device mesh and logical partitioning rules (data + fsdp axes).

Batches are split over both axes; parameters are sharded over "fsdp" along their "embed" axis
(ZeRO-3 style) and replicated over "data". With one device everything is replicated; the same
code runs multi-host after jax.distributed.initialize().
"""

from __future__ import annotations

import flax.linen as nn
import jax
import numpy as np
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
    return Mesh(np.asarray(jax.devices()).reshape(data, fsdp), AXES)


def param_shardings(abstract_variables, mesh: Mesh):
    """NamedShardings for (possibly boxed) variables from their logical axis names."""
    specs = nn.get_partition_spec(abstract_variables)
    return nn.logical_to_mesh_sharding(specs, mesh, RULES)


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
