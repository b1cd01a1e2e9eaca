"""Parameter counts of Flax models, from shapes only."""

from __future__ import annotations

import flax.linen as nn
import jax
import numpy as np


def count_params(model: nn.Module, *inputs: jax.Array, **kwargs) -> int:
    """Number of trainable parameters ("params" collection) of `model` initialised on `inputs`;
    jax.eval_shape, so nothing is allocated (the paper's 7.7B model counts on a laptop)."""
    shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), *inputs, **kwargs))
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(shapes["params"])))
