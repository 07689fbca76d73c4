"""The compiled programs of a run: a segment of training steps and an evaluation, each
for every seed at once.

Per seed, a segment is a ``lax.scan`` of ``train_step`` over ``S`` planned batches
gathered on the device from arrays that stay there; an evaluation is a ``lax.scan`` of
``eval_step`` over the validation batches. Both are ``vmap``ped over the stacked seeds and
jitted on the ``(seed, data)`` mesh: states and plans split over ``seed``, every batch
over ``data``, the arrays replicated. Each program is traced once per run.

A segment also carries each seed's running sums of the epoch and its non-finite guard:
with ``on_nonfinite="stop"`` the first step whose loss or gradients are not finite halts
that seed (no later step of the segment changes it) and records the step, so the host
can stop the run naming the seed and step before anything is saved; with ``"skip"`` the
step's update is dropped and counted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh

from rnn_attn.parallel import mesh as meshes
from rnn_attn.train.objectives import Objective
from rnn_attn.train.steps import TrainState, make_eval_step, make_train_step

PyTree = Any


def _gather(arrays: Mapping[str, jax.Array], plan: Mapping[str, jax.Array],
            data_axis: jax.sharding.NamedSharding | None):
    """One batch of a plan: rows gathered from the device arrays, or (host feed) the plan
    holds the examples themselves."""
    if "index" in plan:
        batch = {k: jnp.take(arrays[k], plan["index"], axis=0) for k in ("inputs", "targets")}
    else:
        batch = {k: plan[k] for k in ("inputs", "targets")}
    batch["weight"] = plan["weight"]
    if data_axis is not None:  # under vmap(spmd_axis_name="seed"): [seed, data] leading
        batch = jax.lax.with_sharding_constraint(batch, data_axis)
    return batch


def zero_carry(sums_shape: Mapping[str, jax.ShapeDtypeStruct]) -> dict[str, Any]:
    """The per-seed loop carry at an epoch's start (see ``make_segment``)."""
    return {"sums": {k: jnp.zeros(s.shape, s.dtype) for k, s in sums_shape.items()},
            "skipped": jnp.zeros((), jnp.int32), "halted": jnp.zeros((), bool),
            "bad_step": jnp.full((), -1, jnp.int32), "bad_loss": jnp.zeros((), bool)}


def make_segment(train_step: Callable, on_nonfinite: str, data_axis=None) -> Callable:
    """``segment(state, carry, plan, arrays) -> (state, carry)`` for one seed; ``plan``
    holds ``[S, ...]`` per step: ``index`` (or the examples), ``weight``, ``active``."""
    halt = on_nonfinite == "stop"

    def segment(state: TrainState, carry, plan, arrays):
        def run(args, p):
            state, carry = args
            new_state, sums = train_step(state, _gather(arrays, p, data_axis))
            bad = (sums["nonfinite_loss"] + sums["nonfinite_grads"]) > 0
            first = bad & (carry["bad_step"] < 0)
            return new_state, {
                "sums": jax.tree.map(jnp.add, carry["sums"], sums),
                "skipped": carry["skipped"] + bad.astype(jnp.int32),
                "halted": carry["halted"] | (bad & halt),
                "bad_step": jnp.where(first, state.step, carry["bad_step"]),
                "bad_loss": jnp.where(first, sums["nonfinite_loss"] > 0, carry["bad_loss"])}

        def step(args, p):
            go = p["active"] & ~args[1]["halted"]
            return jax.lax.cond(go, lambda a: run(a, p), lambda a: a, args), None

        (state, carry), _ = jax.lax.scan(step, (state, carry), plan)
        return state, carry

    return segment


def make_evaluate(eval_step: Callable, data_axis=None) -> Callable:
    """``evaluate(params, plan, arrays) -> sums`` over every planned batch, for one seed
    (summed in batch order, from zeros)."""

    def evaluate(params, plan, arrays):
        def sums(p):
            return eval_step(params, _gather(arrays, p, data_axis))

        shape = jax.eval_shape(sums, jax.tree.map(lambda x: x[0], plan))
        zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shape)
        total, _ = jax.lax.scan(lambda t, p: (jax.tree.map(jnp.add, t, sums(p)), None),
                                zeros, plan)
        return total

    return evaluate


@dataclasses.dataclass(frozen=True)
class Programs:
    """The jitted programs of one (model, objective, optimizer) on one mesh."""

    mesh: Mesh
    segment: Callable  # (state, carry, plan, arrays) -> (state, carry), all seeds
    evaluate: Callable  # (params, plan, arrays) -> sums, all seeds
    select: Callable  # (mask <bool>[seeds], new, old) -> new where mask else old
    zero_carry: Callable  # (num_seeds) -> carry on the mesh


def _plan_shardings(mesh: Mesh, host_feed: bool) -> dict:
    steps = meshes.sharding(mesh, meshes.SEED, None, meshes.DATA)
    plan = {"weight": steps, "active": meshes.per_seed(mesh)}
    if host_feed:
        return plan | {"inputs": steps, "targets": steps}
    return plan | {"index": steps}


def compile_programs(model, objective: Objective, optimizer: optax.GradientTransformation,
                     mesh: Mesh, *, on_nonfinite: str = "stop", host_feed: bool = False,
                     sums_shape: Mapping[str, jax.ShapeDtypeStruct]) -> Programs:
    """Builds (lazily compiled) ``Programs``; ``sums_shape`` is one step's sums."""
    # Each example batch split over the data axis (None: no split to ask for).
    data_axis = meshes.sharding(mesh, meshes.DATA) if mesh.shape[meshes.DATA] > 1 else None
    seed, rep = meshes.per_seed(mesh), meshes.replicated(mesh)
    segment = jax.jit(
        jax.vmap(make_segment(make_train_step(model, objective, optimizer), on_nonfinite,
                              data_axis), in_axes=(0, 0, 0, None), spmd_axis_name=meshes.SEED),
        in_shardings=(seed, seed, _plan_shardings(mesh, host_feed), rep),
        out_shardings=(seed, seed), donate_argnums=(0, 1))
    eval_plan = {k: v for k, v in _plan_shardings(mesh, host_feed).items() if k != "active"}
    evaluate = jax.jit(
        jax.vmap(make_evaluate(make_eval_step(model, objective), data_axis),
                 in_axes=(0, 0, None), spmd_axis_name=meshes.SEED),
        in_shardings=(seed, eval_plan, rep), out_shardings=seed)

    def select(mask, new, old):
        def one(n, o):
            return jnp.where(mask.reshape(mask.shape + (1,) * (n.ndim - 1)), n, o)
        return jax.tree.map(one, new, old)

    def zeros(num_seeds):
        return jax.vmap(lambda _: zero_carry(sums_shape))(jnp.arange(num_seeds))

    return Programs(mesh, segment, evaluate,
                    jax.jit(select, out_shardings=seed),
                    jax.jit(zeros, static_argnums=0, out_shardings=seed))
