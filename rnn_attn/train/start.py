"""How a run starts: its programs built (not yet compiled), its host record (``Run``),
and every seed's initial state placed on the mesh."""

from __future__ import annotations

import math

import jax
import numpy as np
import optax
from jax.sharding import Mesh

from rnn_attn.parallel import mesh as meshes
from rnn_attn.train import feed, guards, trials
from rnn_attn.train.feeder import batch_shapes
from rnn_attn.train.objectives import Objective
from rnn_attn.train.programs import compile_programs
from rnn_attn.train.run import FitConfig, FitData, Run
from rnn_attn.train.steps import (
    SeedKeys,
    TrainState,
    default_seed_keys,
    init_state,
    init_states,
    make_train_step,
)


def _abstract_states(
    model,
    optimizer: optax.GradientTransformation,
    config: FitConfig,
    seed_keys: SeedKeys,
    mesh: Mesh,
) -> tuple[TrainState, TrainState]:
    """Shapes of one seed's initial state, and of all seeds' stacked on the mesh."""
    one = jax.eval_shape(lambda: init_state(model, optimizer, *seed_keys(config.seeds[0])))
    seeds = meshes.per_seed(mesh)
    stacked = jax.tree.map(
        lambda a: jax.ShapeDtypeStruct((len(config.seeds),) + a.shape, a.dtype, sharding=seeds), one
    )
    return one, stacked


def _num_batches(data: FitData, config: FitConfig) -> int:
    """Steps of one epoch: a sampler's, or a seed's examples in batches."""
    if isinstance(data.train, feed.Sampler):
        return data.train.steps_per_epoch
    return -(-data.train.examples_per_seed() // config.batch_size)


def check_memory_ahead(
    model,
    optimizer: optax.GradientTransformation,
    data: FitData,
    config: FitConfig,
    *,
    mesh: Mesh,
    seed_keys: SeedKeys = default_seed_keys,
) -> None:
    """``guards.check_memory`` of a run before anything of it is built (from shapes
    alone), e.g. for every model of a sweep before the first one trains."""
    _, stacked = _abstract_states(model, optimizer, config, seed_keys, mesh)
    guards.check_memory(stacked, data, config, _num_batches(data, config), mesh)


def start_run(
    objective: Objective,
    model,
    data: FitData,
    config: FitConfig,
    *,
    optimizer: optax.GradientTransformation,
    mesh: Mesh,
    seed_keys: SeedKeys = default_seed_keys,
    bind: trials.Bind | None = None,
) -> tuple[Run, TrainState]:
    """Builds the programs (nothing compiled yet) and a ``Run`` at its start whose
    ``state`` and ``best_params`` are still to be set (``set_initial_state``); returns
    it with the shapes of the state. ``model`` and ``optimizer`` are those that
    initialize the states (``trials.bound``); ``bind``, a trial's, when slots are trials."""
    config.validate()
    meshes.check_divisible(config.batch_size, mesh)
    data.check(config, feed.vocabulary_of(model))
    one_seed, stacked = _abstract_states(model, optimizer, config, seed_keys, mesh)
    sums_shape = jax.eval_shape(
        make_train_step(model, objective, optimizer, bind=bind),
        one_seed,
        batch_shapes(data.train, config.batch_size),
        trials.hyper_shapes(config),
    )[1]
    sample = data.train.sample if isinstance(data.train, feed.Sampler) else None
    programs = compile_programs(
        model,
        objective,
        optimizer,
        mesh,
        sums_shape=sums_shape,
        on_nonfinite=config.on_nonfinite,
        sample=sample,
        feed=data.feed_kind(config),
        seed_loop=config.seed_loop,
        compiler_options=dict(config.compiler_options),
        bind=bind,
    )
    n, num_batches = len(config.seeds), _num_batches(data, config)
    guards.check_memory(stacked, data, config, num_batches, mesh)
    run = Run(
        config,
        objective,
        programs,
        num_batches,
        None,
        programs.zero_carry(n),
        None,
        history=[{} for _ in range(n)],
        best_value=[math.nan] * n,
        best_epoch=[0] * n,
        wait=[0] * n,
        stopped=[False] * n,
        step_loss=np.full((n, config.epochs * num_batches), np.nan, np.float32),
    )
    return run, stacked


def initial_state(
    model,
    optimizer: optax.GradientTransformation,
    config: FitConfig,
    seed_keys: SeedKeys,
    mesh: Mesh,
) -> tuple[TrainState, list[bytes]]:
    """Every seed initialized (eagerly, see ``steps.init_states``; from its init and
    dropout seeds, ``config.source_seeds``) and placed on the mesh,
    with the ``guards.digests`` of the initial parameters (a resumed run's too: its end
    is compared with where training began)."""
    host = init_states(
        model,
        optimizer,
        list(config.source_seeds("init")),
        seed_keys,
        dropout_seeds=list(config.source_seeds("dropout")),
    )
    return meshes.put(host, meshes.per_seed(mesh)), guards.digests(host.params)


def set_initial_state(run: Run, initial: tuple[TrainState, list[bytes]]) -> None:
    state, run.initial_digests = initial
    run.state = state
    # A copy (the segment program may donate the state's buffers).
    run.best_params = run.programs.select(
        np.zeros(len(run.config.seeds), bool), state.params, state.params
    )
