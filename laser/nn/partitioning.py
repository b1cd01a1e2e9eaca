"""Activation layouts under the trainer's mesh: `rows(x)` keeps an activation sharded by its
batch rows, a no-op unless traced inside `batch_rows(mesh, axes)` (the trainer's step is).

Why: with parameters sharded over their "embed" axis (fsdp), XLA's sharding propagation may
give an activation or its gradient the weights' layout and gather the rows of every fsdp peer
onto each device (measured on the 301M profile, benchmarks/paper_plan.py: temporaries growing
with the fsdp width). Models mark their [batch, ...] activations with `rows`; the trainer says
which mesh axes hold the rows. A context variable rather than flax's logical_axis_rules: under
those rules flax also constrains DenseGeneral's flattened kernels, which fails.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

_ROWS: contextvars.ContextVar[tuple[Mesh, tuple[str, ...]] | None] = contextvars.ContextVar(
    "laser_batch_rows", default=None
)


@contextlib.contextmanager
def batch_rows(mesh: Mesh, axes: tuple[str, ...]) -> Iterator[None]:
    """Within this context (at trace time), `rows` shards axis 0 over `axes` of `mesh`."""
    token = _ROWS.set((mesh, tuple(axes)))
    try:
        yield
    finally:
        _ROWS.reset(token)


def rows(x: jax.Array) -> jax.Array:
    """x [batch rows, ...] constrained to rows over the context's axes, the rest whole."""
    spec = _ROWS.get()
    if spec is None:
        return x
    mesh, axes = spec
    layout = NamedSharding(mesh, PartitionSpec(axes, *[None] * (x.ndim - 1)))
    return jax.lax.with_sharding_constraint(x, layout)
