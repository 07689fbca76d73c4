"""One training engine for every epoch-trained experiment: Keras's ``fit`` for all seeds at
once, as compiled programs on a ``(seed, data)`` mesh.

``fit(objective, model, data, config)`` trains every seed of ``config.seeds`` for
``config.epochs`` epochs. An epoch is one compiled ``lax.scan`` over batches gathered on
the device (``programs``), ``vmap``ped over the seeds, so ``--seeds N`` is one program;
after it, one compiled evaluation of every validation example. What happens between
(best epoch, early stopping, checkpoints, progress, samples of generated text) is done
by callbacks (``callbacks``) that read and update the host-side ``Run``.

Epochs are cut into segments only where a callback needs the state mid-epoch
(``checkpoint_every``); a short segment is padded with inactive steps, so there is one
training program. Seed ``s`` sees the same batches (``feed.epoch_plan``) and dropout keys
(``fold_in(dropout_key, step)``) whatever the mesh, the segmenting or an interruption.

Here are the public API (``FitConfig`` and ``FitData``, defined beside the ``Run`` that
holds them in ``run``; ``prepare``, ``train``, ``fit``, ``FitResult``) and the segment
loop. How a run starts (its programs, its ``Run``, every seed's initial state) is
``start``; the batch plans and their layout on the mesh are ``plans``, built and placed
by the ``feeder``; the memory check and the non-finite guard are ``guards``.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np
import optax
from jax.sharding import Mesh

from rnn_attn.parallel import mesh as meshes
from rnn_attn.train import feed, guards, trials
from rnn_attn.train.callbacks import BestEpoch
from rnn_attn.train.feeder import Feeder, evaluation_inputs
from rnn_attn.train.objectives import Objective
from rnn_attn.train.programs import Programs
from rnn_attn.train.run import Callback, FitConfig, FitData, Run, means
from rnn_attn.train.start import initial_state, set_initial_state, start_run
from rnn_attn.train.steps import SeedKeys, TrainState, default_seed_keys

PyTree = Any


def resolve_seed_loop(choice: str, mesh: Mesh) -> str:
    """A ``--seed-loop`` choice as ``FitConfig.seed_loop``: ``auto`` is ``map`` on a CPU
    mesh whose data axis is 1 and ``vmap`` elsewhere. On a CPU, batching seeds saves little
    and a loop whose trip count differs by seed (the BiLSTM's projection of a batch's words)
    then waits each iteration for the seeds of the other devices."""
    if choice != "auto":
        return choice
    cpu = mesh.devices.flat[0].platform == "cpu"
    return "map" if cpu and mesh.shape[meshes.DATA] == 1 else "vmap"


@dataclasses.dataclass
class FitResult:
    """Per seed (``seeds`` order): ``history[i][k][e-1]`` is metric ``k`` after epoch
    ``e``; ``best_epoch`` is 1-based, as Keras prints epochs; ``step_loss[i, t]`` is the
    training loss of step ``t`` (NaN where the seed did not train). ``state`` and
    ``best_params`` stay stacked on the mesh (``seed_params`` takes one seed's); ``records``
    is what callbacks kept (``Run.records``, restored on resume)."""

    config: FitConfig
    state: TrainState
    history: list[dict[str, list[float]]]
    best_epoch: list[int]
    best_value: list[float]
    best_params: PyTree
    stopped_early: list[bool]
    programs: Programs
    step_loss: np.ndarray
    records: dict[str, Any] = dataclasses.field(default_factory=dict)  # Run.records
    hyper: Any = dataclasses.field(default_factory=dict)  # each slot's, on the mesh (trials)

    def evaluate(
        self, split: feed.Split, batch_size: int, *, best: bool = True, prefix: str = "test_"
    ) -> list[dict[str, float]]:
        """Each seed's mean loss and metrics over every example of ``split`` (e.g. the
        test split, touched once with the parameters of the best epoch). A model that
        reads token ids gets ``split``'s checked first (``feed.check_ids``)."""
        feed.check_ids(split, self.programs.vocab_size, "evaluated")
        plan, arrays = evaluation_inputs(
            split,
            len(self.seeds),
            batch_size,
            self.programs.mesh,
            host=self.programs.feed == "host",
        )
        params = self.best_params if best else self.state.params
        sums = meshes.fetch(self.programs.evaluate(params, plan, arrays, self.hyper))
        return [means({k: v[i] for k, v in sums.items()}, prefix) for i in range(len(self.seeds))]

    @property
    def seeds(self) -> tuple[int, ...]:
        return self.config.seeds

    def seed_params(self, index: int, *, best: bool = False) -> PyTree:
        tree = self.best_params if best else self.state.params
        return jax.tree.map(lambda x: np.asarray(x)[index], meshes.fetch(tree))


def _epoch_logs(run: Run, feeder: Feeder, carry: Mapping[str, Any]) -> list[dict]:
    """Each seed's figures of the epoch just run: the training means of a seed that
    trained in it (``{}`` for one stopped early) and the validation means."""
    logs = []
    for i in range(len(run.config.seeds)):
        sums = {k: v[i] for k, v in carry["sums"].items()}
        if run.stopped[i]:
            logs.append({})
            continue
        guards.check_epoch_trained(run, i, sums, float(carry["skipped"][i]))
        logs.append(means(sums))
    if run.config.on_nonfinite == "skip":
        for i, entry in enumerate(logs):
            entry["skipped_steps"] = float(carry["skipped"][i])
    if feeder.val_plan is not None:
        sums = meshes.fetch(
            run.programs.evaluate(
                run.state.params, feeder.val_plan, feeder.val_arrays, feeder.hyper
            )
        )
        for i, entry in enumerate(logs):
            entry |= means({k: v[i] for k, v in sums.items()}, "val_")
    return logs


def run_segment(run: Run, feeder: Feeder, callbacks: Sequence[Callback]) -> None:
    """Trains up to the next segment end; at an epoch's end evaluates, appends each
    active seed's logs to its history and calls ``on_epoch_end``, then ``on_epoch_closed``."""
    stop = run.segment_stop()
    plan = feeder.segment(run, stop, run.config.segment_length(run.num_batches))
    start = (run.state, run.carry)  # kept under "stop" (not donated), to locate a NaN
    run.state, run.carry, losses = run.programs.segment(
        *start, plan, feeder.train_arrays, feeder.hyper
    )
    taken = stop - run.batch
    if run.config.on_nonfinite == "stop":
        flagged = guards.nonfinite(run, run.state, run.carry)
        if flagged.any():
            raise guards.locate_nonfinite(run, feeder, start, plan, flagged, taken)
    carry = meshes.fetch(run.carry)
    run.step_loss[:, run.step : run.step + taken] = meshes.fetch(losses)[:, :taken]
    run.batch = stop
    for callback in callbacks:
        callback.on_segment_end(run)
    if run.batch < run.num_batches:
        return
    run.logs = _epoch_logs(run, feeder, carry)
    for i, entry in enumerate(run.logs):
        if not run.stopped[i]:
            for k, v in entry.items():
                run.history[i].setdefault(k, []).append(v)
    run.epoch, run.batch = run.epoch + 1, 0
    run.carry = run.programs.zero_carry(len(run.config.seeds))
    for callback in callbacks:
        callback.on_epoch_end(run)
    for callback in callbacks:
        callback.on_epoch_closed(run)


@dataclasses.dataclass
class Prepared:
    """A run initialized on its mesh with its programs built, ready for ``train``."""

    run: Run
    feeder: Feeder
    compile_seconds: float = 0.0  # compiling the training program ahead (compile_ahead)


def prepare(
    objective: Objective,
    model,
    data: FitData,
    config: FitConfig,
    *,
    optimizer: optax.GradientTransformation,
    mesh: Mesh | None = None,
    seed_keys: SeedKeys = default_seed_keys,
    compile_ahead: bool = False,
    bind: trials.Bind | None = None,
) -> Prepared:
    """Initializes every seed and builds the programs (see ``fit`` for the arguments).

    With ``compile_ahead`` the training program is compiled now rather than at the first
    step, e.g. in a background thread while another model trains (XLA compiles on one
    core; the other keeps training)."""
    mesh = mesh or meshes.make_mesh(len(config.seeds), devices=jax.devices()[:1])
    model, optimizer = trials.bound(model, optimizer, config, bind)
    run, stacked = start_run(
        objective,
        model,
        data,
        config,
        optimizer=optimizer,
        mesh=mesh,
        seed_keys=seed_keys,
        bind=bind,
    )
    feeder = Feeder(data, config, mesh)
    # Initialization is eager and single-threaded: it runs beside the compilation.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        state = pool.submit(initial_state, model, optimizer, config, seed_keys, mesh)
        compile_seconds = 0.0
        if compile_ahead:
            start = time.perf_counter()
            plan = feeder.segment(run, run.segment_stop(), config.segment_length(run.num_batches))
            compiled = run.programs.segment.lower(
                stacked, run.carry, plan, feeder.train_arrays, feeder.hyper
            ).compile()
            run.programs = dataclasses.replace(run.programs, segment=compiled)
            compile_seconds = time.perf_counter() - start
        set_initial_state(run, state.result())
    if compile_ahead and config.on_nonfinite == "stop":
        run.programs.finite(run.state)  # compiled now (jit's cache), not at the first check
    return Prepared(run, feeder, compile_seconds)


def train(prepared: Prepared, callbacks: Sequence[Callback] = ()) -> FitResult:
    """Trains a prepared run to its end (see ``fit``)."""
    run, feeder = prepared.run, prepared.feeder
    if not any(isinstance(c, BestEpoch) for c in callbacks):
        callbacks = [BestEpoch(), *callbacks]
    for callback in callbacks:
        callback.on_fit_start(run)
    while not run.done:
        run_segment(run, feeder, callbacks)
    for callback in callbacks:
        callback.on_fit_end(run)
    if run.config.check_updates and run.initial_digests is not None:
        guards.check_parameters_changed(run, run.initial_digests)
    state = run.state
    if run.config.restore_best:
        state = state._replace(params=run.best_params)
    return FitResult(
        run.config,
        state,
        run.history,
        run.best_epoch,
        run.best_value,
        run.best_params,
        list(run.stopped),
        run.programs,
        run.step_loss,
        run.records,
        feeder.hyper,
    )


def fit(
    objective: Objective,
    model,
    data: FitData,
    config: FitConfig,
    *,
    optimizer: optax.GradientTransformation,
    mesh: Mesh | None = None,
    callbacks: Sequence[Callback] = (),
    seed_keys: SeedKeys = default_seed_keys,
    bind: trials.Bind | None = None,
) -> FitResult:
    """Trains every seed of ``config.seeds`` (Keras's ``fit``, all seeds at once), or
    every trial (``config.hyperparameters``: settings x seeds, ``train.trials``).

    Args:
      data: ``FitData``: ``feed.Split``s of ``{"inputs", "targets"}`` numpy arrays, or a
        ``feed.Sampler`` that draws each training batch on the device.
      mesh: a ``(seed, data)`` mesh (``parallel.mesh.make_mesh``; default: every seed on
        the first device). ``config.batch_size`` must divide over its data axis.
      callbacks: called in order; ``callbacks.BestEpoch`` (the best epoch by
        ``config.monitor``, early stopping) is added first when absent.
      seed_keys: ``seed -> (init_key, dropout_key)`` (default: ``split(PRNGKey(seed))``).
      bind: with ``config.hyperparameters``, a trial's ``(model, optimizer)`` from its
        hyperparameters (traced scalars; ``trials.Bind``); ``model`` and ``optimizer``
        are then unused.

    Raises:
      ConfigError: bad config or data (a token id outside the model's ``vocab_size``
        included); NonFiniteError: a NaN/Inf step under "stop"; DegenerateRunError: a
        seed whose parameters ended bit-identical to its initial ones (unless
        ``config.check_updates`` is False), or whose every step of an epoch was skipped
        as non-finite under "skip".
    """
    prepared = prepare(
        objective,
        model,
        data,
        config,
        optimizer=optimizer,
        mesh=mesh,
        seed_keys=seed_keys,
        bind=bind,
    )
    return train(prepared, callbacks)
