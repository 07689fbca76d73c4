"""Training: losses, optimizers, and whole training runs compiled as one program.

After PureJaxRL: a run is a ``lax.scan`` over steps whose data are drawn on the device
from ``fold_in(data_key, step)``, so any chunk of steps can be replayed exactly, and
``jax.vmap`` over stacked per-seed states trains every seed at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

PyTree = Any


class TrainState(NamedTuple):
    """Everything that determines the rest of a run (one seed)."""

    params: PyTree
    opt_state: PyTree
    data_key: jax.Array


def softmax_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Keras's categorical cross-entropy on integer labels, averaged over every position.

    ``logits <float>[..., classes]``, ``labels <int>[...]`` -> scalar.
    """
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def keras_adam(learning_rate: float = 1e-3) -> optax.GradientTransformation:
    """Adam with Keras's defaults (beta1 0.9, beta2 0.999, epsilon 1e-7)."""
    return optax.adam(learning_rate, b1=0.9, b2=0.999, eps=1e-7)


KERAS_OPTIMIZERS = ("adam", "rmsprop")


def keras_rmsprop(learning_rate: float = 1e-3) -> optax.GradientTransformation:
    """RMSprop with Keras's defaults (rho 0.9, epsilon 1e-7 added outside the square root,
    no momentum)."""
    return optax.rmsprop(learning_rate, decay=0.9, eps=1e-7, eps_in_sqrt=False)


def keras_optimizer(name: str, learning_rate: float) -> optax.GradientTransformation:
    """``adam`` or ``rmsprop`` with Keras's defaults."""
    if name == "adam":
        return keras_adam(learning_rate)
    if name == "rmsprop":
        return keras_rmsprop(learning_rate)
    raise ValueError(f"unknown optimizer {name!r}; expected one of {KERAS_OPTIMIZERS}")


def stack_states(states: list[TrainState]) -> TrainState:
    """Stacks per-seed states along a new leading axis for ``vmap``."""
    return jax.tree.map(lambda *xs: jnp.stack(xs), *states)


def make_train_chunk(
    loss_fn: Callable[[PyTree, PyTree], jax.Array],
    sample_fn: Callable[[jax.Array], PyTree],
    optimizer: optax.GradientTransformation,
    num_steps: int,
) -> Callable[[TrainState, jax.Array], tuple[TrainState, jax.Array]]:
    """Builds ``train_chunk(state, first_step) -> (state, losses <float>[num_steps])``.

    Step ``s`` trains on ``sample_fn(fold_in(state.data_key, s))``, so the data of a step do
    not depend on how the run was cut into chunks (a resumed run replays the same stream).
    The chunk's batches are drawn up front in one vectorized call, then scanned over.
    ``loss_fn(params, batch)`` returns a scalar.
    """
    grad_fn = jax.value_and_grad(loss_fn)

    def train_step(state: TrainState, batch: PyTree):
        loss, grads = grad_fn(state.params, batch)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return TrainState(params, opt_state, state.data_key), loss

    def train_chunk(state: TrainState, first_step: jax.Array):
        steps = first_step + jnp.arange(num_steps, dtype=jnp.int32)
        batches = jax.vmap(lambda s: sample_fn(jax.random.fold_in(state.data_key, s)))(steps)
        return jax.lax.scan(train_step, state, batches)

    return train_chunk
