"""The compiled programs of a run: a segment of training steps and an evaluation, each
for every seed at once.

Per seed, a segment is a ``lax.scan`` of ``train_step`` over ``S`` planned batches
gathered on the device from arrays that stay there; an evaluation is a ``lax.scan`` of
``eval_step`` over the validation batches. Both are ``vmap``ped over the stacked seeds and
jitted on the ``(seed, data)`` mesh: states and plans split over ``seed``, every batch
over ``data``, the arrays replicated. Each program is traced once per run.

A segment also carries each seed's running sums of the epoch and its non-finite guard:
with ``on_nonfinite="stop"`` the first step whose loss is not finite halts that seed (no
later step of the segment changes it), and ``finite`` tells the host whether a seed's
state is still finite after the segment (a non-finite gradient leaves it non-finite), so
the host can stop the run naming the seed and step before anything is saved; with
``"skip"`` a step whose loss or gradients are not finite is dropped and counted. A segment
returns each step's mean training loss beside the carry (NaN for a step not taken), for loss curves.

With trials (``trials.py``) both programs also take each slot's hyperparameters
(``hyper``: ``{name: [slots]}``, split over ``seed`` like the states; ``{}`` without),
and ``bind`` makes a trial's model and optimizer from them inside the step.

Seeds run batched (``vmap``) by default; ``seed_loop="map"`` instead runs each device's
seeds one after another (``shard_map`` over ``seed``, then ``lax.map``), which on a CPU at
tiny batches (the copy task's one pair per step) costs less than batching them.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from rnn_attn.errors import ConfigError
from rnn_attn.parallel import mesh as meshes
from rnn_attn.train.feed import vocabulary_of
from rnn_attn.train.objectives import Objective
from rnn_attn.train.plans import BatchPlan
from rnn_attn.train.steps import TrainState, all_finite, make_eval_step, make_train_step

PyTree = Any


def _gather(
    arrays: Mapping[str, jax.Array], plan: BatchPlan, data_axis: jax.sharding.NamedSharding | None
):
    """One batch of a plan: rows gathered from the device arrays, or the plan holds the
    examples themselves (fed from the host, or drawn by a sampler)."""
    if plan.index is not None:
        batch = {k: jnp.take(arrays[k], plan.index, axis=0) for k in ("inputs", "targets")}
    else:
        batch = {k: plan.examples[k] for k in ("inputs", "targets")}
    batch["weight"] = plan.weight
    if data_axis is not None:  # under vmap(spmd_axis_name="seed"): [seed, data] leading
        batch = jax.lax.with_sharding_constraint(batch, data_axis)
    return batch


def zero_carry(sums_shape: Mapping[str, jax.ShapeDtypeStruct]) -> dict[str, Any]:
    """The per-seed loop carry at an epoch's start (see ``make_segment``)."""
    return {
        "sums": {k: jnp.zeros(s.shape, s.dtype) for k, s in sums_shape.items()},
        "skipped": jnp.zeros((), jnp.int32),
        "halted": jnp.zeros((), bool),
        "bad_step": jnp.full((), -1, jnp.int32),
        "bad_loss": jnp.zeros((), bool),
    }


def make_segment(
    train_step: Callable, on_nonfinite: str, data_axis=None, sample: Callable | None = None
) -> Callable:
    """``segment(state, carry, plan, arrays, hyper) -> (state, carry, losses <float>[S])``
    for one seed (``hyper``: its trial's hyperparameters, ``{}`` for none); ``plan`` is a
    ``BatchPlan`` of ``[S, ...]`` arrays: ``index`` (or the examples, or the sampling
    ``key``), ``weight``, ``active``."""
    halt = on_nonfinite == "stop"

    def run(args, p, arrays, hyper):
        state, carry = args
        new_state, sums = train_step(state, _gather(arrays, p, data_axis), hyper)
        bad = (sums["nonfinite_loss"] + sums["nonfinite_grads"]) > 0
        first = bad & (carry["bad_step"] < 0)
        # count >= 1 for a step taken (see train_step); a skipped one's is NaN, not 0/0.
        loss = jnp.where(bad, jnp.nan, sums["loss"] / jnp.maximum(sums["count"], 1.0))
        return (
            new_state,
            {
                "sums": jax.tree.map(jnp.add, carry["sums"], sums),
                "skipped": carry["skipped"] + bad.astype(jnp.int32),
                "halted": carry["halted"] | (bad & halt),
                "bad_step": jnp.where(first, state.step, carry["bad_step"]),
                "bad_loss": jnp.where(first, sums["nonfinite_loss"] > 0, carry["bad_loss"]),
            },
        ), loss.astype(jnp.float32)

    def segment(state: TrainState, carry, plan: BatchPlan, arrays, hyper):
        if sample is not None:  # every step's batch drawn at once: fewer ops per step
            plan = dataclasses.replace(plan, key=None, examples=dict(jax.vmap(sample)(plan.key)))

        def step(args, p):
            go = p.active & ~args[1]["halted"]
            return jax.lax.cond(
                go,
                lambda a: run(a, p, arrays, hyper),
                lambda a: (a, jnp.full((), jnp.nan, jnp.float32)),
                args,
            )

        (state, carry), losses = jax.lax.scan(step, (state, carry), plan)
        return state, carry, losses

    return segment


def make_evaluate(eval_step: Callable, data_axis=None) -> Callable:
    """``evaluate(params, plan, arrays, hyper) -> sums`` over every planned batch, for one
    seed (summed in batch order, from zeros)."""

    def evaluate(params, plan, arrays, hyper):
        def sums(p):
            return eval_step(params, _gather(arrays, p, data_axis), hyper)

        shape = jax.eval_shape(sums, jax.tree.map(lambda x: x[0], plan))
        zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shape)
        total, _ = jax.lax.scan(lambda t, p: (jax.tree.map(jnp.add, t, sums(p)), None), zeros, plan)
        return total

    return evaluate


@dataclasses.dataclass(frozen=True)
class Programs:
    """The jitted programs of one (model, objective, optimizer) on one mesh."""

    mesh: Mesh
    segment: Callable  # (state, carry, plan, arrays, hyper) -> (state, carry, losses), all seeds
    evaluate: Callable  # (params, plan, arrays, hyper) -> sums, all seeds
    select: Callable  # (mask <bool>[seeds], new, old) -> new where mask else old
    zero_carry: Callable  # (num_seeds) -> carry on the mesh
    finite: Callable  # (state) -> <bool>[seeds]: every parameter and optimizer value finite
    feed: str = "device"  # how the plans arrive (plans.FEEDS): they are BatchPlan.of_feed's
    # The model's vocabulary when it reads token ids: an evaluated split's ids are checked
    # against it on the host first (feed.check_ids); None: no ids to check.
    vocab_size: int | None = None


def _over_seeds(fn: Callable, mesh: Mesh, seed_loop: str, in_axes: tuple) -> Callable:
    """``fn`` of one seed run over the stacked seeds: ``vmap``ped (the seed axis split
    over the mesh by ``spmd_axis_name``) or, ``seed_loop="map"``, each device's seeds one
    after another (``in_axes`` None: an argument every seed shares)."""
    if seed_loop == "vmap":
        return jax.vmap(fn, in_axes=in_axes, spmd_axis_name=meshes.SEED)

    def each_device(*args):
        mapped = [a for a, axis in zip(args, in_axes, strict=True) if axis is not None]

        def one(xs):
            it = iter(xs)
            return fn(
                *(
                    next(it) if axis is not None else a
                    for a, axis in zip(args, in_axes, strict=True)
                )
            )

        return jax.lax.map(one, mapped)

    each_device.__name__ = fn.__name__  # the program's name in JAX's logs: segment, evaluate
    specs = tuple(P(meshes.SEED) if axis is not None else P() for axis in in_axes)
    return jax.shard_map(
        each_device, mesh=mesh, in_specs=specs, out_specs=P(meshes.SEED), check_vma=False
    )


def compile_programs(
    model,
    objective: Objective,
    optimizer: optax.GradientTransformation,
    mesh: Mesh,
    *,
    sums_shape: Mapping[str, jax.ShapeDtypeStruct],
    on_nonfinite: str = "stop",
    feed: str = "device",
    sample: Callable | None = None,
    seed_loop: str = "vmap",
    compiler_options: Mapping[str, Any] | None = None,
    bind: Callable | None = None,
) -> Programs:
    """Builds (lazily compiled) ``Programs``; ``sums_shape`` is one step's sums; ``feed``
    is how batches arrive (``device`` rows, ``host`` examples, or ``sample``d from keys
    by ``sample``); ``bind``: a trial's model and optimizer from its hyperparameters
    (``trials.Bind``; None: ``model`` and ``optimizer`` for every slot)."""
    if seed_loop == "map" and mesh.shape[meshes.DATA] > 1:
        raise ConfigError(
            f"seed_loop 'map' runs a device's seeds one after another and "
            f"cannot split a batch; expected a data axis of 1, got "
            f"{mesh.shape[meshes.DATA]}"
        )
    # Each example batch split over the data axis (None: no split to ask for).
    data_axis = meshes.sharding(mesh, meshes.DATA) if mesh.shape[meshes.DATA] > 1 else None
    seed, rep = meshes.per_seed(mesh), meshes.replicated(mesh)
    step = make_train_step(
        model, objective, optimizer, skip_nonfinite=on_nonfinite == "skip", bind=bind
    )
    segment = _segment_program(
        make_segment(step, on_nonfinite, data_axis, sample),
        mesh,
        seed_loop,
        feed,
        donate=on_nonfinite == "skip",
        compiler_options=compiler_options,
    )
    # Evaluation reads a split (rows on the device, or examples from the host).
    evaluate = jax.jit(
        _over_seeds(
            make_evaluate(make_eval_step(model, objective, bind), data_axis),
            mesh,
            seed_loop,
            (0, 0, None, 0),
        ),
        in_shardings=(seed, BatchPlan.of_feed(feed, training=False).shardings(mesh), rep, seed),
        out_shardings=seed,
    )
    zeros = functools.partial(_zero_carries, sums_shape)
    return Programs(
        mesh,
        segment,
        evaluate,
        jax.jit(_select, out_shardings=seed),
        jax.jit(zeros, static_argnums=0, out_shardings=seed),
        jax.jit(_finite, out_shardings=seed),
        feed,
        vocabulary_of(model),
    )


def _segment_program(
    segment: Callable,
    mesh: Mesh,
    seed_loop: str,
    feed: str,
    *,
    donate: bool,
    compiler_options: Mapping[str, Any] | None,
) -> Callable:
    """The jitted training segment over every seed: states, carries, plans and
    hyperparameters split over ``seed``, the arrays replicated. Under "stop" the state
    before a segment is kept (not ``donate``d), to locate a non-finite step."""
    seed, rep = meshes.per_seed(mesh), meshes.replicated(mesh)
    plan = BatchPlan.of_feed(feed, training=True).shardings(mesh)
    return jax.jit(
        _over_seeds(segment, mesh, seed_loop, (0, 0, 0, None, 0)),
        in_shardings=(seed, seed, plan, rep, seed),
        out_shardings=(seed, seed, seed),
        donate_argnums=(0, 1) if donate else (),
        compiler_options=dict(compiler_options or {}) or None,
    )


def _select(mask, new, old):
    """Per seed (``mask <bool>[seeds]``), ``new``'s leaves where set, else ``old``'s."""

    def one(n, o):
        return jnp.where(mask.reshape(mask.shape + (1,) * (n.ndim - 1)), n, o)

    return jax.tree.map(one, new, old)


def _zero_carries(sums_shape, num_seeds):
    return jax.vmap(lambda _: zero_carry(sums_shape))(jnp.arange(num_seeds))


def _finite(state):
    return jax.vmap(lambda st: all_finite((st.params, st.opt_state)))(state)
