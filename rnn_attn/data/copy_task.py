"""The copy task of reference document 001, drawn with ``jax.random``.

An input is ``length`` integers uniform over ``[0, cardinality)``; its target is the first
``n_copy`` of them followed by zeros (so the target has the input's length). Because the
pairs come from ``jax.random``, a whole training run can draw them inside one compiled
program.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rnn_attn import memory


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

    Called with a concrete key, pairs that would take more than half the default device's
    free memory are refused first (one ValueError, ``rnn_attn.memory.check_fits``); under
    ``jit`` nothing is allocated while tracing, and the engine checks a run's batches.
    """
    if not memory.traced(key):
        memory.check_fits(
            f"copy-task pairs of batch_size {batch_size} and length {length} (inputs and targets)",
            2 * batch_size * length * 4,
            "a smaller batch_size or length",
            dtype="int32",
            device=True,
        )
    inputs = jax.random.randint(key, (batch_size, length), 0, cardinality, dtype=jnp.int32)
    copied = jnp.arange(length) < n_copy
    targets = jnp.where(copied, inputs, 0)
    return inputs, targets


def one_hot(values: jax.Array, cardinality: int, dtype=jnp.float32) -> jax.Array:
    """``<int>[...]`` -> ``<dtype>[..., cardinality]``; concrete values whose one-hot
    array would take more than half the default device's free memory are refused first
    (one ValueError; traced ones are not checked: nothing is allocated while tracing)."""
    if not memory.traced(values):
        memory.check_fits(
            f"one-hot vectors of cardinality {cardinality} for values of shape "
            f"{tuple(np.shape(values))}",
            int(np.prod(np.shape(values))) * cardinality * np.dtype(dtype).itemsize,
            "a smaller cardinality or fewer values",
            dtype=np.dtype(dtype),
            device=True,
        )
    return jax.nn.one_hot(values, cardinality, dtype=dtype)


def repeat_keys(seed: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """A repeat's ``(init, data, test)`` keys, ``split(PRNGKey(seed), 3)``: every model
    of a run sees the same pairs seed for seed."""
    init, data, test = jax.random.split(jax.random.PRNGKey(seed), 3)
    return init, data, test


# The validation pairs' key: fold_in(PRNGKey(0), VALIDATION_STREAM), a stream apart from
# every seed's repeat_keys.
VALIDATION_STREAM = 0x56414C  # "VAL"


def validation_pairs(
    examples: int, length: int, n_copy: int, cardinality: int
) -> dict[str, np.ndarray]:
    """``{"inputs", "targets"}``: ``examples`` pairs drawn once from the validation
    stream, the same for every seed (a sweep chooses each model's setting on them)."""
    key = jax.random.fold_in(jax.random.PRNGKey(0), VALIDATION_STREAM)
    inputs, targets = sample_copy_task(key, examples, length, n_copy, cardinality)
    return {"inputs": np.asarray(inputs), "targets": np.asarray(targets)}
