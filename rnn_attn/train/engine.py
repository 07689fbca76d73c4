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
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np
import optax
from jax.sharding import Mesh

from rnn_attn.errors import ConfigError, NonFiniteError
from rnn_attn.memory import host_free_bytes
from rnn_attn.parallel import mesh as meshes
from rnn_attn.train import feed
from rnn_attn.train.callbacks import BestEpoch
from rnn_attn.train.objectives import Objective
from rnn_attn.train.programs import Programs, compile_programs
from rnn_attn.train.run import Callback, Run
from rnn_attn.train.steps import (
    SeedKeys,
    TrainState,
    default_seed_keys,
    init_state,
    init_states,
    make_train_step,
)

PyTree = Any
ON_NONFINITE = ("stop", "skip")
FEEDS = ("device", "host")
SEED_LOOPS = ("vmap", "map")


def resolve_seed_loop(choice: str, mesh: Mesh) -> str:
    """A ``--seed-loop`` choice as ``FitConfig.seed_loop``: ``auto`` is ``map`` on a CPU
    mesh whose data axis is 1 and ``vmap`` elsewhere. On a CPU, batching seeds saves little
    and a loop whose trip count differs by seed (the BiLSTM's projection of a batch's words)
    then waits each iteration for the seeds of the other devices."""
    if choice != "auto":
        return choice
    cpu = mesh.devices.flat[0].platform == "cpu"
    return "map" if cpu and mesh.shape[meshes.DATA] == 1 else "vmap"


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """How ``fit`` trains (an experiment's config decides the values)."""

    seeds: tuple[int, ...]
    epochs: int
    batch_size: int
    eval_batch_size: int = 0  # 0: batch_size
    monitor: str = "val_loss"
    patience: int = 0  # 0: never stop early
    restore_best: bool = False  # end with the best epoch's parameters (Keras's option)
    shuffle: bool = True
    on_nonfinite: str = "stop"  # a NaN/Inf step: stop naming seed and step, or skip it
    checkpoint_every: int = 0  # also stop for callbacks every N steps within an epoch
    feed: str = "device"  # "device": arrays live on the device; "host": batches sent
    seed_loop: str = "vmap"  # a device's seeds batched ("vmap") or one by one ("map")
    # XLA options of the training program, as (name, value) pairs: e.g. the copy task's
    # (("xla_backend_optimization_level", 1),); they may change float rounding.
    compiler_options: tuple[tuple[str, Any], ...] = ()

    def validate(self) -> FitConfig:
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds must be distinct and at least one, got {self.seeds}")
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
        for name in ("eval_batch_size", "patience", "checkpoint_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be an integer >= 0, got {value!r}")
        if self.on_nonfinite not in ON_NONFINITE:
            raise ConfigError(f"on_nonfinite must be one of {ON_NONFINITE}, got "
                              f"{self.on_nonfinite!r}")
        if self.feed not in FEEDS:
            raise ConfigError(f"feed must be one of {FEEDS}, got {self.feed!r}")
        if self.seed_loop not in SEED_LOOPS:
            raise ConfigError(f"seed_loop must be one of {SEED_LOOPS}, got "
                              f"{self.seed_loop!r}")
        return self


@dataclasses.dataclass(frozen=True)
class FitData:
    """The training split (``feed.Split``, or a ``feed.Sampler`` drawing fresh batches)
    and, optionally, the validation split."""

    train: feed.Split | feed.Sampler
    validation: feed.Split | None = None


@dataclasses.dataclass
class FitResult:
    """Per seed (``seeds`` order): ``history[i][k][e-1]`` is metric ``k`` after epoch
    ``e``; ``best_epoch`` is 1-based, as Keras prints epochs; ``step_loss[i, t]`` is the
    training loss of step ``t`` (NaN where the seed did not train). ``state`` and
    ``best_params`` stay stacked on the mesh (``seed_params`` takes one seed's)."""

    config: FitConfig
    state: TrainState
    history: list[dict[str, list[float]]]
    best_epoch: list[int]
    best_value: list[float]
    best_params: PyTree
    stopped_early: list[bool]
    programs: Programs
    step_loss: np.ndarray

    def evaluate(self, split: feed.Split, batch_size: int, *, best: bool = True,
                 prefix: str = "test_") -> list[dict[str, float]]:
        """Each seed's mean loss and metrics over every example of ``split`` (e.g. the
        test split, touched once with the parameters of the best epoch)."""
        plan, arrays = _evaluation_inputs(split, self.config, batch_size, self.programs.mesh)
        params = self.best_params if best else self.state.params
        sums = meshes.fetch(self.programs.evaluate(params, plan, arrays))
        return [means({k: v[i] for k, v in sums.items()}, prefix)
                for i in range(len(self.seeds))]

    @property
    def seeds(self) -> tuple[int, ...]:
        return self.config.seeds

    def seed_params(self, index: int, *, best: bool = False) -> PyTree:
        tree = self.best_params if best else self.state.params
        return jax.tree.map(lambda x: np.asarray(x)[index], meshes.fetch(tree))


def means(sums: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Sums of one seed divided by their ``count`` (flags of the guard left out)."""
    count = max(float(sums["count"]), 1.0)
    return {prefix + k: float(v) / count for k, v in sums.items()
            if k != "count" and not k.startswith("nonfinite")}


def _batch_spec(train: feed.Split | feed.Sampler, batch_size: int) -> dict:
    """Shapes of one training batch (for tracing the train step)."""
    if isinstance(train, feed.Sampler):
        key = jax.ShapeDtypeStruct(train.keys.shape[1:], train.keys.dtype)
        batch = dict(jax.eval_shape(train.sample, key))
    else:
        batch = {k: jax.ShapeDtypeStruct((batch_size,) + train.arrays[k].shape[1:],
                                         train.arrays[k].dtype) for k in ("inputs", "targets")}
    return batch | {"weight": jax.ShapeDtypeStruct((batch_size,), np.float32)}


def _check_data(data: FitData, config: FitConfig) -> None:
    n = len(config.seeds)
    if isinstance(data.train, feed.Sampler):
        if len(data.train.keys) != n:
            raise ConfigError(f"the sampler has keys for {len(data.train.keys)} seeds; "
                              f"expected {n}")
    else:
        feed.check_rows(data.train, n, "training")
    if data.validation is not None:
        feed.check_rows(data.validation, n, "validation")
    if data.validation is None and config.monitor.startswith("val_"):
        raise ConfigError(f"monitor {config.monitor!r} needs validation data")


def _feed_kind(data: FitData, config: FitConfig) -> str:
    return "sample" if isinstance(data.train, feed.Sampler) else config.feed


def _abstract_states(model, optimizer: optax.GradientTransformation, config: FitConfig,
                     seed_keys: SeedKeys, mesh: Mesh) -> tuple[TrainState, TrainState]:
    """Shapes of one seed's initial state, and of all seeds' stacked on the mesh."""
    one = jax.eval_shape(lambda: init_state(model, optimizer, *seed_keys(config.seeds[0])))
    seeds = meshes.per_seed(mesh)
    stacked = jax.tree.map(lambda a: jax.ShapeDtypeStruct((len(config.seeds),) + a.shape,
                                                          a.dtype, sharding=seeds), one)
    return one, stacked


def start_run(objective: Objective, model, data: FitData, config: FitConfig, *,
              optimizer: optax.GradientTransformation, mesh: Mesh,
              seed_keys: SeedKeys = default_seed_keys) -> tuple[Run, TrainState]:
    """Builds the programs (nothing compiled yet) and a ``Run`` at its start whose
    ``state`` and ``best_params`` are still to be set (``set_initial_state``); returns
    it with the shapes of the state."""
    config.validate()
    meshes.check_divisible(config.batch_size, mesh)
    _check_data(data, config)
    one_seed, stacked = _abstract_states(model, optimizer, config, seed_keys, mesh)
    sums_shape = jax.eval_shape(make_train_step(model, objective, optimizer), one_seed,
                                _batch_spec(data.train, config.batch_size))[1]
    sample = data.train.sample if isinstance(data.train, feed.Sampler) else None
    programs = compile_programs(model, objective, optimizer, mesh, sums_shape=sums_shape,
                                on_nonfinite=config.on_nonfinite, sample=sample,
                                feed=_feed_kind(data, config), seed_loop=config.seed_loop,
                                compiler_options=dict(config.compiler_options))
    n = len(config.seeds)
    if isinstance(data.train, feed.Sampler):
        num_batches = data.train.steps_per_epoch
    else:
        num_batches = -(-data.train.examples_per_seed() // config.batch_size)
    check_memory(stacked, data, config, num_batches, mesh)
    run = Run(config, objective, programs, num_batches, None, programs.zero_carry(n), None,
              history=[{} for _ in range(n)], best_value=[math.nan] * n,
              best_epoch=[0] * n, wait=[0] * n, stopped=[False] * n,
              step_loss=np.full((n, config.epochs * num_batches), np.nan, np.float32))
    return run, stacked


def _nbytes(tree) -> int:
    return sum(int(np.prod(x.shape)) * np.dtype(x.dtype).itemsize
               for x in jax.tree.leaves(tree))


def free_memory(mesh: Mesh) -> int:
    """Bytes free for the run's arrays: the host's available memory on CPU; on an
    accelerator, the least free memory of one device times the mesh's devices (the arrays
    are spread over them)."""
    devices = list(mesh.devices.flat)
    stats = [d.memory_stats() for d in devices] if devices[0].platform != "cpu" else []
    if stats and all(s and "bytes_limit" in s for s in stats):
        return len(devices) * min(s["bytes_limit"] - s.get("bytes_in_use", 0) for s in stats)
    return host_free_bytes()


def check_memory(stacked: TrainState, data: FitData, config: FitConfig,
                 num_batches: int, mesh: Mesh) -> None:
    """Refuses (ConfigError, with the figures) a run whose largest arrays would take more
    than half the free memory (``free_memory``): every seed's state about three times over
    (the state, the copy kept to locate a NaN, the best parameters), a segment's batches
    (drawn up front from a sampler; or the index plan and one gathered batch) and the
    splits' device copies. Activations are not counted: the estimate is a floor."""
    seeds, steps = len(config.seeds), _segment_length(config, num_batches)
    if isinstance(data.train, feed.Sampler):
        one = jax.eval_shape(data.train.sample, jax.ShapeDtypeStruct(
            data.train.keys.shape[1:], data.train.keys.dtype))
        batches = seeds * steps * _nbytes(one)
    else:  # the index plan, and one gathered batch of every seed
        per_example = sum(a.nbytes // max(len(a), 1) for a in data.train.arrays.values())
        batches = seeds * config.batch_size * (steps * 4 + per_example)
    splits = sum(_nbytes(split.arrays) for split in (data.train, data.validation)
                 if isinstance(split, feed.Split))
    need = 3 * _nbytes(stacked) + batches + splits
    free = free_memory(mesh)
    if need > free / 2:
        raise ConfigError(
            f"this run needs at least {need / 2**30:.1f} GiB ({seeds} seeds' states "
            f"{3 * _nbytes(stacked) / 2**30:.1f} GiB, a segment's batches "
            f"{batches / 2**30:.1f} GiB, data {splits / 2**30:.1f} GiB), more than half "
            f"the {free / 2**30:.1f} GiB free; expected a smaller model, batch, "
            f"--checkpoint-every or fewer --seeds")


def initial_state(model, optimizer: optax.GradientTransformation, config: FitConfig,
                  seed_keys: SeedKeys, mesh: Mesh) -> TrainState:
    """Every seed initialized (eagerly, see ``steps.init_states``) and placed on the mesh."""
    return meshes.put(init_states(model, optimizer, list(config.seeds), seed_keys),
                      meshes.per_seed(mesh))


def set_initial_state(run: Run, state: TrainState) -> None:
    run.state = state
    # A copy (the segment program may donate the state's buffers).
    run.best_params = run.programs.select(np.zeros(len(run.config.seeds), bool),
                                          state.params, state.params)


def _place_plan(mesh: Mesh, split: feed.Split, index, weight, *, host: bool,
                active=None) -> dict:
    """An index plan on the mesh (fed from the host: the examples themselves)."""
    steps = meshes.sharding(mesh, meshes.SEED, None, meshes.DATA)
    plan = {"weight": meshes.put(weight, steps)}
    if active is not None:
        plan["active"] = meshes.put(active, meshes.per_seed(mesh))
    if host:
        return plan | meshes.put(feed.gather_on_host(split.arrays, index), steps)
    return plan | {"index": meshes.put(index, steps)}


def _evaluation_inputs(split: feed.Split, config: FitConfig, batch_size: int,
                       mesh: Mesh) -> tuple[dict, dict]:
    """``(plan, arrays)`` for the evaluation program over every example of ``split``."""
    # Never larger than a seed's split: the padding would only cost memory.
    size = meshes.round_up(min(batch_size, split.examples_per_seed()), mesh)
    index, weight = feed.eval_plan(split, len(config.seeds), size)
    host = config.feed == "host"
    arrays = {} if host else meshes.put(_xy(split.arrays), meshes.replicated(mesh))
    return _place_plan(mesh, split, index, weight, host=host), arrays


class _Feeder:
    """Places the plans (and, fed from the host, the examples) of one run on the mesh."""

    def __init__(self, data: FitData, config: FitConfig, mesh: Mesh):
        self.data, self.config, self.mesh = data, config, mesh
        self.kind = _feed_kind(data, config)
        rep = meshes.replicated(mesh)
        self.train_arrays = ({} if self.kind != "device" else
                             meshes.put(_xy(data.train.arrays), rep))
        self.val_arrays = self.val_plan = None
        if data.validation is not None:
            self.val_plan, self.val_arrays = _evaluation_inputs(
                data.validation, config, config.eval_batch_size or config.batch_size, mesh)
        self._epoch, self._plan = -1, None

    def segment(self, run: Run, stop: int, length: int) -> dict:
        """Batches ``[run.batch, stop)`` of the current epoch, padded to ``length``."""
        active = np.arange(length)[None, :] < stop - run.batch
        active = active & ~np.asarray(run.stopped)[:, None]
        self.active = active  # the host's copy, to replay a prefix (see _locate_nonfinite)
        if self.kind == "sample":
            return self._sampled(run, active)
        if self._epoch != run.epoch:
            self._epoch = run.epoch
            self._plan = feed.epoch_plan(self.data.train, self.config.seeds, run.epoch,
                                         self.config.batch_size, shuffle=self.config.shuffle)
        index, weight = (x[:, run.batch:stop] for x in self._plan)
        pad = length - (stop - run.batch)
        if pad:
            index = np.concatenate([index, np.repeat(index[:, -1:], pad, 1)], 1)
            weight = np.concatenate([weight, np.zeros((len(weight), pad) + weight.shape[2:],
                                                      weight.dtype)], 1)
        return _place_plan(self.mesh, self.data.train, index, weight,
                           host=self.kind == "host", active=active)

    def _sampled(self, run: Run, active: np.ndarray) -> dict:
        """The keys of the segment's steps (global step numbers) for a ``Sampler``."""
        seeds, length = active.shape
        steps = np.broadcast_to(run.step + np.arange(length), (seeds, length))
        weight = np.ones((seeds, length, self.config.batch_size), np.float32)
        return {"key": meshes.put(feed.step_keys(self.data.train, steps),
                                  meshes.per_seed(self.mesh)),
                "weight": meshes.put(weight, meshes.sharding(self.mesh, meshes.SEED, None,
                                                             meshes.DATA)),
                "active": meshes.put(active, meshes.per_seed(self.mesh))}


def _xy(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.asarray(arrays[k]) for k in ("inputs", "targets")}


def _segment_length(config: FitConfig, num_batches: int) -> int:
    every = config.checkpoint_every
    return min(every, num_batches) if every else num_batches


def _segment_stop(run: Run) -> int:
    """Where the next segment ends: the epoch's end or the next ``checkpoint_every``
    multiple of the global step, whichever comes first."""
    every = run.config.checkpoint_every
    if not every:
        return run.num_batches
    next_multiple = (run.step // every + 1) * every
    return min(run.num_batches, next_multiple - run.epoch * run.num_batches)


def _nonfinite(run: Run, state: TrainState, carry: Mapping[str, Any]) -> np.ndarray:
    """``<bool>[seeds]``: the seed halted on a non-finite loss, or its state is no longer
    finite (a non-finite gradient was applied)."""
    halted = np.asarray(meshes.fetch(carry["halted"]))
    return halted | ~np.asarray(meshes.fetch(run.programs.finite(state)))


def _replay(run: Run, feeder: _Feeder, start: tuple, plan: dict, prefix: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """The segment run again from its ``start`` (state, carry) with only each seed's
    first ``prefix[i]`` steps active: ``(non-finite, halted on the loss)`` per seed."""
    mask = feeder.active & (np.arange(feeder.active.shape[1])[None, :] < prefix[:, None])
    plan = dict(plan) | {"active": meshes.put(mask, meshes.per_seed(feeder.mesh))}
    state, carry, _ = run.programs.segment(*start, plan, feeder.train_arrays)
    return _nonfinite(run, state, carry), np.asarray(meshes.fetch(carry["halted"]))


def _locate_nonfinite(run: Run, feeder: _Feeder, start: tuple, plan: dict,
                      flagged: np.ndarray, taken: int) -> NonFiniteError:
    """The error naming the first flagged seed's first non-finite step, found by
    bisection over replayed prefixes of the segment (the same program, so the same
    numbers; NaN absorbs every later update, so "non-finite after k steps" is monotone
    in k)."""
    lo, hi = np.zeros(len(flagged), int), np.where(flagged, taken, 0)
    while np.any(hi - lo > 1):
        unsettled = hi - lo > 1
        mid = np.where(unsettled, (lo + hi) // 2, hi)
        bad, _ = _replay(run, feeder, start, plan, mid)
        hi, lo = np.where(unsettled & bad, mid, hi), np.where(unsettled & ~bad, mid, lo)
    _, halted = _replay(run, feeder, start, plan, hi)
    i = int(np.flatnonzero(flagged)[0])
    step = run.step + int(lo[i])
    epoch, batch = divmod(step, run.num_batches)
    what = "the loss" if halted[i] else "the gradients (the loss was finite)"
    return NonFiniteError(
        f"seed {run.config.seeds[i]}: training step {step} (epoch {epoch + 1}, batch "
        f"{batch + 1}): {what} went NaN or infinite; the run stopped there and nothing "
        f"after the last checkpoint was saved (on_nonfinite='skip' drops such steps "
        f"instead)")


def _epoch_logs(run: Run, feeder: _Feeder, carry: Mapping[str, Any]) -> list[dict]:
    logs = [means({k: v[i] for k, v in carry["sums"].items()})
            for i in range(len(run.config.seeds))]
    if run.config.on_nonfinite == "skip":
        for i, entry in enumerate(logs):
            entry["skipped_steps"] = float(carry["skipped"][i])
    if feeder.val_plan is not None:
        sums = meshes.fetch(run.programs.evaluate(run.state.params, feeder.val_plan,
                                                  feeder.val_arrays))
        for i, entry in enumerate(logs):
            entry |= means({k: v[i] for k, v in sums.items()}, "val_")
    return logs


def run_segment(run: Run, feeder: _Feeder, callbacks: Sequence[Callback]) -> None:
    """Trains up to the next segment end; at an epoch's end evaluates, appends each
    active seed's logs to its history and calls ``on_epoch_end``."""
    stop = _segment_stop(run)
    plan = feeder.segment(run, stop, _segment_length(run.config, run.num_batches))
    start = (run.state, run.carry)  # kept under "stop" (not donated), to locate a NaN
    run.state, run.carry, losses = run.programs.segment(*start, plan, feeder.train_arrays)
    taken = stop - run.batch
    if run.config.on_nonfinite == "stop":
        flagged = _nonfinite(run, run.state, run.carry)
        if flagged.any():
            raise _locate_nonfinite(run, feeder, start, plan, flagged, taken)
    carry = meshes.fetch(run.carry)
    run.step_loss[:, run.step:run.step + taken] = meshes.fetch(losses)[:, :taken]
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


@dataclasses.dataclass
class Prepared:
    """A run initialized on its mesh with its programs built, ready for ``train``."""

    run: Run
    feeder: _Feeder
    compile_seconds: float = 0.0  # compiling the training program ahead (compile_ahead)


def prepare(objective: Objective, model, data: FitData, config: FitConfig, *,
            optimizer: optax.GradientTransformation, mesh: Mesh | None = None,
            seed_keys: SeedKeys = default_seed_keys, compile_ahead: bool = False
            ) -> Prepared:
    """Initializes every seed and builds the programs (see ``fit`` for the arguments).

    With ``compile_ahead`` the training program is compiled now rather than at the first
    step, e.g. in a background thread while another model trains (XLA compiles on one
    core; the other keeps training)."""
    mesh = mesh or meshes.make_mesh(len(config.seeds), devices=jax.devices()[:1])
    run, stacked = start_run(objective, model, data, config, optimizer=optimizer, mesh=mesh,
                             seed_keys=seed_keys)
    feeder = _Feeder(data, config, mesh)
    # Initialization is eager and single-threaded: it runs beside the compilation.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        state = pool.submit(initial_state, model, optimizer, config, seed_keys, mesh)
        compile_seconds = 0.0
        if compile_ahead:
            start = time.perf_counter()
            plan = feeder.segment(run, _segment_stop(run),
                                  _segment_length(config, run.num_batches))
            compiled = run.programs.segment.lower(stacked, run.carry, plan,
                                                  feeder.train_arrays).compile()
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
    state = run.state
    if run.config.restore_best:
        state = state._replace(params=run.best_params)
    return FitResult(run.config, state, run.history, run.best_epoch, run.best_value,
                     run.best_params, list(run.stopped), run.programs, run.step_loss)


def fit(objective: Objective, model, data: FitData, config: FitConfig, *,
        optimizer: optax.GradientTransformation, mesh: Mesh | None = None,
        callbacks: Sequence[Callback] = (),
        seed_keys: SeedKeys = default_seed_keys) -> FitResult:
    """Trains every seed of ``config.seeds`` (Keras's ``fit``, all seeds at once).

    Args:
      data: ``FitData``: ``feed.Split``s of ``{"inputs", "targets"}`` numpy arrays, or a
        ``feed.Sampler`` that draws each training batch on the device.
      mesh: a ``(seed, data)`` mesh (``parallel.mesh.make_mesh``; default: every seed on
        the first device). ``config.batch_size`` must divide over its data axis.
      callbacks: called in order; ``callbacks.BestEpoch`` (the best epoch by
        ``config.monitor``, early stopping) is added first when absent.
      seed_keys: ``seed -> (init_key, dropout_key)`` (default: ``split(PRNGKey(seed))``).

    Raises:
      ConfigError: bad config or data; NonFiniteError: a NaN/Inf step under "stop".
    """
    return train(prepare(objective, model, data, config, optimizer=optimizer, mesh=mesh,
                         seed_keys=seed_keys), callbacks)
