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

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np
import optax
from jax.sharding import Mesh

from rnn_attn.errors import ConfigError, NonFiniteError
from rnn_attn.parallel import mesh as meshes
from rnn_attn.train import feed
from rnn_attn.train.callbacks import BestEpoch
from rnn_attn.train.objectives import Objective
from rnn_attn.train.programs import Programs, compile_programs
from rnn_attn.train.run import Callback, Run
from rnn_attn.train.steps import TrainState, init_states, make_train_step

PyTree = Any
ON_NONFINITE = ("stop", "skip")
FEEDS = ("device", "host")


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
        return self


@dataclasses.dataclass(frozen=True)
class FitData:
    """The training split and, optionally, the validation split (``feed.Split``)."""

    train: feed.Split
    validation: feed.Split | None = None


@dataclasses.dataclass
class FitResult:
    """Per seed (``seeds`` order): ``history[i][k][e-1]`` is metric ``k`` after epoch
    ``e``; ``best_epoch`` is 1-based, as Keras prints epochs. ``state`` and
    ``best_params`` stay stacked on the mesh (``seed_params`` takes one seed's)."""

    config: FitConfig
    state: TrainState
    history: list[dict[str, list[float]]]
    best_epoch: list[int]
    best_value: list[float]
    best_params: PyTree
    stopped_early: list[bool]
    programs: Programs

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


def start_run(objective: Objective, model, data: FitData, config: FitConfig, *,
              optimizer: optax.GradientTransformation, mesh: Mesh) -> Run:
    """Initializes every seed (eagerly, see ``steps.init_states``) on the mesh and builds
    the programs; nothing is compiled yet."""
    config.validate()
    meshes.check_divisible(config.batch_size, mesh)
    for name, split in (("training", data.train), ("validation", data.validation)):
        if split is not None:
            feed.check_rows(split, len(config.seeds), name)
    if data.validation is None and config.monitor.startswith("val_"):
        raise ConfigError(f"monitor {config.monitor!r} needs validation data")
    seeds = meshes.per_seed(mesh)
    state = meshes.put(init_states(model, optimizer, list(config.seeds)), seeds)
    one_seed = jax.tree.map(lambda x: x[0], state)
    batch = {"inputs": jax.ShapeDtypeStruct((config.batch_size,) + data.train.arrays[
        "inputs"].shape[1:], data.train.arrays["inputs"].dtype),
        "targets": jax.ShapeDtypeStruct((config.batch_size,) + data.train.arrays[
            "targets"].shape[1:], data.train.arrays["targets"].dtype),
        "weight": jax.ShapeDtypeStruct((config.batch_size,), np.float32)}
    sums_shape = jax.eval_shape(make_train_step(model, objective, optimizer),
                                one_seed, batch)[1]
    programs = compile_programs(model, objective, optimizer, mesh, sums_shape=sums_shape,
                                on_nonfinite=config.on_nonfinite,
                                host_feed=config.feed == "host")
    n = len(config.seeds)
    num_batches = -(-data.train.examples_per_seed() // config.batch_size)
    # A copy (the segment program donates the state's buffers).
    best_params = programs.select(np.zeros(n, bool), state.params, state.params)
    return Run(config, objective, programs, num_batches, state, programs.zero_carry(n),
               best_params,
               history=[{} for _ in range(n)], best_value=[math.nan] * n,
               best_epoch=[0] * n, wait=[0] * n, stopped=[False] * n)


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
        self.host = config.feed == "host"
        rep = meshes.replicated(mesh)
        self.train_arrays = {} if self.host else meshes.put(_xy(data.train.arrays), rep)
        self.val_arrays = self.val_plan = None
        if data.validation is not None:
            self.val_plan, self.val_arrays = _evaluation_inputs(
                data.validation, config, config.eval_batch_size or config.batch_size, mesh)
        self._epoch, self._plan = -1, None

    def segment(self, run: Run, stop: int, length: int) -> dict:
        """Batches ``[run.batch, stop)`` of the current epoch, padded to ``length``."""
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
        active = np.arange(length)[None, :] < stop - run.batch
        active = active & ~np.asarray(run.stopped)[:, None]
        return _place_plan(self.mesh, self.data.train, index, weight, host=self.host,
                           active=active)


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


def _check_finite(run: Run, carry: Mapping[str, np.ndarray]) -> None:
    """Raises ``NonFiniteError`` naming the first seed that halted on a NaN/Inf step."""
    for i, halted in enumerate(carry["halted"]):
        if not halted:
            continue
        step = int(carry["bad_step"][i])
        epoch, batch = divmod(step, run.num_batches)
        what = ("the loss" if carry["bad_loss"][i] else
                "the gradients (the loss was finite)")
        raise NonFiniteError(
            f"seed {run.config.seeds[i]}: training step {step} (epoch {epoch + 1}, batch "
            f"{batch + 1}): {what} went NaN or infinite; stopped before applying it, nothing "
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
    run.state, run.carry = run.programs.segment(run.state, run.carry, plan,
                                                feeder.train_arrays)
    carry = meshes.fetch(run.carry)
    _check_finite(run, carry)
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


def fit(objective: Objective, model, data: FitData, config: FitConfig, *,
        optimizer: optax.GradientTransformation, mesh: Mesh | None = None,
        callbacks: Sequence[Callback] = ()) -> FitResult:
    """Trains every seed of ``config.seeds`` (Keras's ``fit``, all seeds at once).

    Args:
      data: ``FitData`` of ``feed.Split``s (``{"inputs", "targets"}`` numpy arrays).
      mesh: a ``(seed, data)`` mesh (``parallel.mesh.make_mesh``; default: every seed on
        the first device). ``config.batch_size`` must divide over its data axis.
      callbacks: called in order; ``callbacks.BestEpoch`` (the best epoch by
        ``config.monitor``, early stopping) is added first when absent.

    Raises:
      ConfigError: bad config or data; NonFiniteError: a NaN/Inf step under "stop".
    """
    mesh = mesh or meshes.make_mesh(len(config.seeds), devices=jax.devices()[:1])
    run = start_run(objective, model, data, config, optimizer=optimizer, mesh=mesh)
    if not any(isinstance(c, BestEpoch) for c in callbacks):
        callbacks = [BestEpoch(), *callbacks]
    feeder = _Feeder(data, config, mesh)
    for callback in callbacks:
        callback.on_fit_start(run)
    while not run.done:
        run_segment(run, feeder, callbacks)
    for callback in callbacks:
        callback.on_fit_end(run)
    state = run.state
    if config.restore_best:
        state = state._replace(params=run.best_params)
    return FitResult(config, state, run.history, run.best_epoch, run.best_value,
                     run.best_params, list(run.stopped), run.programs)
