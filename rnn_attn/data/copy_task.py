"""The copy task of reference document 001, drawn with ``jax.random``.

An input is ``length`` integers uniform over ``[0, cardinality)``; its target is the first
``n_copy`` of them followed by zeros (so the target has the input's length). Because the
pairs come from ``jax.random``, a whole training run can draw them inside one compiled
program.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def check_copy_task(length: int, n_copy: int, cardinality: int) -> None:
    """Raises ValueError with one clear line if the problem is ill-posed."""
    if not isinstance(length, int) or length < 1:
        raise ValueError(f"sequence length must be an integer >= 1, got {length!r}")
    if not isinstance(n_copy, int) or n_copy < 1:
        raise ValueError(f"number of copied values must be an integer >= 1, got {n_copy!r}")
    if n_copy > length:
        raise ValueError(
            f"cannot copy {n_copy} values from sequences of length {length}: "
            f"expected n_copy <= length"
        )
    if not isinstance(cardinality, int) or cardinality < 2:
        raise ValueError(f"cardinality must be an integer >= 2, got {cardinality!r}")


def sample_copy_task(
    key: jax.Array, batch_size: int, length: int, n_copy: int, cardinality: int
) -> tuple[jax.Array, jax.Array]:
    """Draws ``batch_size`` pairs.

    Returns:
      ``(inputs, targets)``, both ``<int32>[batch_size, length]``; ``targets[:, :n_copy] ==
      inputs[:, :n_copy]`` and ``targets[:, n_copy:] == 0``.
    """
    inputs = jax.random.randint(key, (batch_size, length), 0, cardinality, dtype=jnp.int32)
    copied = jnp.arange(length) < n_copy
    targets = jnp.where(copied, inputs, 0)
    return inputs, targets


def one_hot(values: jax.Array, cardinality: int, dtype=jnp.float32) -> jax.Array:
    """``<int>[...]`` -> ``<dtype>[..., cardinality]``."""
    return jax.nn.one_hot(values, cardinality, dtype=dtype)
