"""One seed's training state and its pure train and eval steps.

A model is anything with ``init(key) -> params`` and ``apply(params, inputs, *, train,
key) -> outputs``, optionally ``regularization(params) -> scalar`` (added to the loss, as
Keras adds its regularizers). A batch is ``{"inputs", "targets", "weight"}`` with
``weight`` 0 on padding examples, which then change nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from rnn_attn.train.objectives import Objective

PyTree = Any
Batch = Mapping[str, jax.Array]


class TrainState(NamedTuple):
    """One seed's state (stacked along a leading seed axis in the engine)."""

    params: PyTree
    opt_state: PyTree
    dropout_key: jax.Array
    step: jax.Array  # <int32>[]: optimizer steps taken


def init_state(model, optimizer: optax.GradientTransformation, key: jax.Array) -> TrainState:
    """Initializes eagerly, outside ``jit``: the orthogonal initializer's QR vmapped inside
    ``jit`` has hung XLA's CPU thread pool (see ``initializers.orthogonal``)."""
    init_key, dropout_key = jax.random.split(key)
    params = model.init(init_key)
    return TrainState(params, optimizer.init(params), dropout_key, jnp.zeros((), jnp.int32))


def init_states(model, optimizer: optax.GradientTransformation, seeds: list[int]) -> TrainState:
    """Every seed's ``init_state(model, optimizer, PRNGKey(seed))``, stacked on a leading
    axis, as host (numpy) arrays ready to be placed on a mesh."""
    states = [jax.device_get(init_state(model, optimizer, jax.random.PRNGKey(s)))
              for s in seeds]
    return jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *states)


def regularization(model, params: PyTree) -> jax.Array:
    penalty = getattr(model, "regularization", None)
    return jnp.zeros(()) if penalty is None else penalty(params)


def batch_sums(objective: Objective, outputs, targets, weight, loss_per_example,
               penalty) -> dict[str, jax.Array]:
    """Weighted sums over the batch; divided by ``count`` after the epoch."""
    sums = {"loss": jnp.sum(loss_per_example * weight) + penalty * jnp.sum(weight),
            "count": jnp.sum(weight)}
    for name, fn in objective.metrics:
        sums[name] = jnp.sum(fn(outputs, targets) * weight)
    return sums


def all_finite(tree: PyTree) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))


def make_train_step(model, objective: Objective, optimizer: optax.GradientTransformation
                    ) -> Callable[[TrainState, Batch], tuple[TrainState, dict]]:
    """``train_step(state, batch) -> (state, sums)``.

    Step ``s`` draws its dropout key from ``fold_in(dropout_key, s)``, so a run depends on
    its config only, never on where it was interrupted. A step whose loss or gradients are
    not finite changes nothing but the step counter: its update is dropped, its sums are
    zero and ``sums["nonfinite_loss"]`` / ``sums["nonfinite_grads"]`` (1.0 or 0.0) say what
    went wrong."""

    def train_step(state: TrainState, batch: Batch):
        key = jax.random.fold_in(state.dropout_key, state.step)
        weight = batch["weight"]

        def loss_fn(params):
            outputs = model.apply(params, batch["inputs"], train=True, key=key)
            per_example = objective.loss(outputs, batch["targets"])
            penalty = regularization(model, params)
            mean = jnp.sum(per_example * weight) / jnp.maximum(jnp.sum(weight), 1.0)
            return mean + penalty, (outputs, per_example, penalty)

        (loss, (outputs, per_example, penalty)), grads = jax.value_and_grad(
            loss_fn, has_aux=True)(state.params)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        loss_ok, grads_ok = jnp.isfinite(loss), all_finite(grads)
        ok = loss_ok & grads_ok

        def keep(new, old):
            return jax.tree.map(lambda n, o: jnp.where(ok, n, o), new, old)

        sums = batch_sums(objective, outputs, batch["targets"], weight, per_example, penalty)
        sums = {k: jnp.where(ok, v, 0.0) for k, v in sums.items()}
        sums["nonfinite_loss"] = (~loss_ok).astype(jnp.float32)
        sums["nonfinite_grads"] = (~grads_ok).astype(jnp.float32)
        new_state = TrainState(keep(params, state.params), keep(opt_state, state.opt_state),
                               state.dropout_key, state.step + 1)
        return new_state, sums

    return train_step


def make_eval_step(model, objective: Objective) -> Callable[[PyTree, Batch], dict]:
    """``eval_step(params, batch) -> sums`` (inference mode: no dropout)."""

    def eval_step(params, batch):
        outputs = model.apply(params, batch["inputs"], train=False)
        per_example = objective.loss(outputs, batch["targets"])
        return batch_sums(objective, outputs, batch["targets"], batch["weight"], per_example,
                          regularization(model, params))

    return eval_step
