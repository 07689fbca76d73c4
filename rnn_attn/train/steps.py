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


SeedKeys = Callable[[int], tuple[jax.Array, jax.Array]]


def default_seed_keys(seed: int) -> tuple[jax.Array, jax.Array]:
    """A seed's ``(init_key, dropout_key)``: ``split(PRNGKey(seed))``."""
    init_key, dropout_key = jax.random.split(jax.random.PRNGKey(seed))
    return init_key, dropout_key


def init_state(
    model, optimizer: optax.GradientTransformation, init_key: jax.Array, dropout_key: jax.Array
) -> TrainState:
    """Initializes eagerly, outside ``jit``: the orthogonal initializer's QR vmapped inside
    ``jit`` has hung XLA's CPU thread pool (see ``initializers.orthogonal``)."""
    params = model.init(init_key)
    return TrainState(params, optimizer.init(params), dropout_key, jnp.zeros((), jnp.int32))


def source_keys(seed_keys: SeedKeys, init_seed: int, dropout_seed: int) -> tuple:
    """A run's ``(init_key, dropout_key)`` from its initialization and dropout seeds:
    ``seed_keys(init_seed)`` itself when the two are one seed (the default derivation),
    else the init key of the one and the dropout key of the other."""
    if init_seed == dropout_seed:
        return seed_keys(init_seed)
    return seed_keys(init_seed)[0], seed_keys(dropout_seed)[1]


def init_states(
    model,
    optimizer: optax.GradientTransformation,
    seeds: list[int],
    seed_keys: SeedKeys = default_seed_keys,
    *,
    dropout_seeds: list[int] | None = None,
) -> TrainState:
    """Every seed's ``init_state(model, optimizer, *seed_keys(seed))``, stacked on a
    leading axis, as host (numpy) arrays ready to be placed on a mesh. ``seeds`` are the
    initialization seeds; ``dropout_seeds`` (default: the same) the dropout keys'
    (``source_keys``)."""
    pairs = list(zip(seeds, seeds if dropout_seeds is None else dropout_seeds, strict=True))
    once = {
        pair: jax.device_get(init_state(model, optimizer, *source_keys(seed_keys, *pair)))
        for pair in dict.fromkeys(pairs)
    }
    return jax.tree.map(
        lambda *xs: np.stack([np.asarray(x) for x in xs]), *(once[p] for p in pairs)
    )


def regularization(model, params: PyTree) -> jax.Array:
    penalty = getattr(model, "regularization", None)
    return jnp.zeros(()) if penalty is None else penalty(params)


def batch_sums(
    objective: Objective, outputs, targets, weight, loss_per_example, penalty
) -> dict[str, jax.Array]:
    """Weighted sums over the batch; divided by ``count`` after the epoch."""
    sums = {
        "loss": jnp.sum(loss_per_example * weight) + penalty * jnp.sum(weight),
        "count": jnp.sum(weight),
    }
    for name, fn in objective.metrics:
        sums[name] = jnp.sum(fn(outputs, targets) * weight)
    return sums


def all_finite(tree: PyTree) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))


def make_train_step(
    model,
    objective: Objective,
    optimizer: optax.GradientTransformation,
    *,
    skip_nonfinite: bool = True,
    bind: Callable | None = None,
) -> Callable[..., tuple[TrainState, dict]]:
    """``train_step(state, batch, hyper=None) -> (state, sums)``, training ``bind(hyper)``'s
    model and optimizer when ``bind`` is given (a trial's, ``trials.Bind``). Step ``s``
    draws its dropout key from ``fold_in(dropout_key, s)``, so a run depends on its config
    only, never on where it was interrupted. ``sums["nonfinite_loss"]`` is 1.0 when the
    loss is not finite (else 0.0). With ``skip_nonfinite`` a step whose loss or
    gradients are not finite is dropped: it changes nothing but the step counter, its
    sums are zero and ``sums["nonfinite_grads"]`` says when the gradients were to blame.
    Without it every update is applied and the gradients are not checked: at tiny
    batches that check and the branch cost as much as the step, and a non-finite
    gradient leaves the parameters non-finite for good (NaN absorbs every optimizer
    update), which ``engine`` detects once per segment and then locates exactly."""

    def train_step(state: TrainState, batch: Batch, hyper=None):
        model_, optimizer_ = (model, optimizer) if bind is None else bind(hyper)
        key = jax.random.fold_in(state.dropout_key, state.step)
        weight = batch["weight"]

        def loss_fn(params):
            outputs = model_.apply(params, batch["inputs"], train=True, key=key)
            per_example = objective.loss(outputs, batch["targets"])
            penalty = regularization(model_, params)
            # Every planned batch holds a real example (feed.batches pads only the last
            # one, a sampler's weights are 1), so the floor never hides a 0/0.
            mean = jnp.sum(per_example * weight) / jnp.maximum(jnp.sum(weight), 1.0)
            return mean + penalty, (outputs, per_example, penalty)

        (loss, (outputs, per_example, penalty)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            state.params
        )
        loss_ok = jnp.isfinite(loss)
        grads_ok = all_finite(grads) if skip_nonfinite else jnp.ones((), bool)
        ok = loss_ok & grads_ok

        def update(args):
            params, opt_state = args
            updates, opt_state = optimizer_.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state

        if skip_nonfinite:
            params, opt_state = jax.lax.cond(
                ok, update, lambda args: args, (state.params, state.opt_state)
            )
        else:
            params, opt_state = update((state.params, state.opt_state))
        sums = batch_sums(objective, outputs, batch["targets"], weight, per_example, penalty)
        sums = {k: jnp.where(ok, v, 0.0) for k, v in sums.items()}
        sums["nonfinite_loss"] = (~loss_ok).astype(jnp.float32)
        sums["nonfinite_grads"] = (~grads_ok).astype(jnp.float32)
        new_state = TrainState(params, opt_state, state.dropout_key, state.step + 1)
        return new_state, sums

    return train_step


def make_eval_step(model, objective: Objective, bind: Callable | None = None) -> Callable:
    """``eval_step(params, batch, hyper=None) -> sums`` (inference mode: no dropout; the
    loss includes the penalty of ``bind(hyper)``'s model when ``bind`` is given)."""

    def eval_step(params, batch, hyper=None):
        model_ = model if bind is None else bind(hyper)[0]
        outputs = model_.apply(params, batch["inputs"], train=False)
        per_example = objective.loss(outputs, batch["targets"])
        return batch_sums(
            objective,
            outputs,
            batch["targets"],
            batch["weight"],
            per_example,
            regularization(model_, params),
        )

    return eval_step
