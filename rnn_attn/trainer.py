"""The epoch training loop the experiments share: Keras's ``fit``, made pure and resumable.

A model is anything with ``init(key) -> params`` and ``apply(params, inputs, *, train,
key) -> outputs``, optionally ``regularization(params) -> scalar`` (added to the loss, as
Keras adds its regularizers). An ``Objective`` says what is minimized and what is reported,
per example. ``fit`` runs one seed:

* epoch ``e`` visits the training examples in the order ``epoch_order(n, seed, e)`` and
  step ``s`` draws its dropout key from ``fold_in(dropout_key, s)``, so the run depends
  only on its config, never on where it was interrupted;
* after each epoch it evaluates every validation example (the last batch padded and
  masked, never dropped), records a ``History`` (``loss``, ``accuracy``, ... for the
  training data, running averages over the epoch with dropout on, as Keras reports them;
  ``val_*`` for the validation data) and, with a ``Checkpointer``, saves the state, the
  best epoch's parameters and the history with Orbax, also every ``checkpoint_every``
  steps within an epoch (with the epoch's running sums and its position in the epoch's
  order); ``resume`` continues from the newest readable checkpoint and ends bit-identical
  to an uninterrupted run (same seed, same devices). Checkpoints are numbered by
  optimizer steps taken;
* it keeps the best epoch by ``monitor`` and can stop early after ``patience`` epochs
  without improvement.

The train and eval steps are pure functions of (state, batch) jitted once per shape;
states and batches live on the device the caller chose, so several seeds can train side
by side on several devices (``run_parallel``), or, with a ``mesh`` (``distributed.data_mesh``),
one seed's state is replicated over the mesh and each batch split over its ``data`` axis
(data parallelism; the same numbers as one device, up to the order of float additions).
"""

from __future__ import annotations

import dataclasses
import math
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from rnn_attn import distributed
from rnn_attn.checkpoints import Checkpointer
from rnn_attn.config import (
    ON_NONFINITE,
    ConfigError,
    check_resume_compatible,
    checkpoints_exist,
)
from rnn_attn.data.batching import eval_batches, train_batches

PyTree = Any
PerExample = Callable[[jax.Array, jax.Array], jax.Array]


# -- objectives -------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Objective:
    """Per-example loss and metrics: ``fn(outputs, targets) -> <float>[batch]``.

    ``higher_is_better`` names the metrics to maximize (for picking the best epoch).
    """

    loss: PerExample
    metrics: tuple[tuple[str, PerExample], ...] = ()
    higher_is_better: tuple[str, ...] = ()


def _binary_accuracy(logits, labels):
    return ((logits > 0) == (labels > 0.5)).astype(jnp.float32)


def binary_classification() -> Objective:
    """One logit per example, labels in {0, 1}: binary cross-entropy and accuracy
    (Keras's ``binary_crossentropy`` on a sigmoid output, computed stably on the logit)."""
    return Objective(
        loss=lambda logits, labels: optax.sigmoid_binary_cross_entropy(
            logits, labels.astype(logits.dtype)),
        metrics=(("accuracy", _binary_accuracy),),
        higher_is_better=("accuracy", "val_accuracy"),
    )


def categorical_classification() -> Objective:
    """Logits ``[batch, classes]``, integer labels: cross-entropy and accuracy.

    ``cross_entropy`` is reported beside ``loss`` because ``loss`` includes the model's
    regularization penalty (as Keras's does) and a perplexity must not.
    """
    return Objective(
        loss=optax.softmax_cross_entropy_with_integer_labels,
        metrics=(("accuracy", lambda logits, labels: (jnp.argmax(logits, -1) == labels)
                  .astype(jnp.float32)),
                 ("cross_entropy", optax.softmax_cross_entropy_with_integer_labels)),
        higher_is_better=("accuracy", "val_accuracy"),
    )


def mean_absolute_error() -> Objective:
    """Regression with Keras's ``mae`` loss; outputs ``[batch]`` or ``[batch, 1]``."""
    def mae(outputs, targets):
        return jnp.abs(outputs.reshape(targets.shape) - targets)
    return Objective(loss=mae, metrics=(("mae", mae),))


# -- state and steps --------------------------------------------------------------------------

class TrainState(NamedTuple):
    """One seed's state: everything the rest of the run depends on besides its config."""

    params: PyTree
    opt_state: PyTree
    dropout_key: jax.Array
    step: jax.Array  # <int32>[]: optimizer steps taken


def init_state(model, optimizer: optax.GradientTransformation, key: jax.Array) -> TrainState:
    """Initializes eagerly (outside ``jit``: see ``initializers.orthogonal``)."""
    init_key, dropout_key = jax.random.split(key)
    params = model.init(init_key)
    return TrainState(params, optimizer.init(params), dropout_key, jnp.zeros((), jnp.int32))


def _regularization(model, params):
    penalty = getattr(model, "regularization", None)
    return jnp.zeros(()) if penalty is None else penalty(params)


def _sums(objective: Objective, outputs, targets, weight, loss_per_example, penalty):
    """Weighted sums over the batch; divided by ``count`` after the epoch."""
    sums = {"loss": jnp.sum(loss_per_example * weight) + penalty * jnp.sum(weight),
            "count": jnp.sum(weight)}
    for name, fn in objective.metrics:
        sums[name] = jnp.sum(fn(outputs, targets) * weight)
    return sums


class NonFiniteError(ConfigError):
    """The loss or the gradients of a training step were NaN or infinite."""


def _all_finite(tree: PyTree) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))


def make_train_step(model, objective: Objective, optimizer: optax.GradientTransformation):
    """``train_step(state, batch) -> (state, sums)``; ``batch`` holds ``inputs``,
    ``targets`` and ``weight`` (0 for padding examples, which then change nothing).

    A step whose loss or gradients are not finite changes nothing but the step counter:
    its update is dropped, its sums are zero, and ``sums["nonfinite_loss"]`` /
    ``sums["nonfinite_grads"]`` (1.0 or 0.0) say what went wrong, so ``fit`` can stop
    with the step named, or skip it."""

    def train_step(state: TrainState, batch: Mapping[str, jax.Array]):
        key = jax.random.fold_in(state.dropout_key, state.step)
        weight = batch["weight"]

        def loss_fn(params):
            outputs = model.apply(params, batch["inputs"], train=True, key=key)
            per_example = objective.loss(outputs, batch["targets"])
            penalty = _regularization(model, params)
            mean = jnp.sum(per_example * weight) / jnp.maximum(jnp.sum(weight), 1.0)
            return mean + penalty, (outputs, per_example, penalty)

        (loss, (outputs, per_example, penalty)), grads = jax.value_and_grad(
            loss_fn, has_aux=True)(state.params)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        loss_ok, grads_ok = jnp.isfinite(loss), _all_finite(grads)
        ok = loss_ok & grads_ok
        keep = lambda new, old: jax.tree.map(lambda n, o: jnp.where(ok, n, o), new, old)  # noqa: E731
        sums = _sums(objective, outputs, batch["targets"], weight, per_example, penalty)
        sums = {k: jnp.where(ok, v, 0.0) for k, v in sums.items()}
        sums["nonfinite_loss"] = (~loss_ok).astype(jnp.float32)
        sums["nonfinite_grads"] = (~grads_ok).astype(jnp.float32)
        new_state = TrainState(keep(params, state.params), keep(opt_state, state.opt_state),
                               state.dropout_key, state.step + 1)
        return new_state, sums

    return train_step


def make_eval_step(model, objective: Objective):
    """``eval_step(params, batch) -> sums`` (inference mode: no dropout)."""

    def eval_step(params, batch):
        outputs = model.apply(params, batch["inputs"], train=False)
        per_example = objective.loss(outputs, batch["targets"])
        return _sums(objective, outputs, batch["targets"], batch["weight"], per_example,
                     _regularization(model, params))

    return eval_step


def _copy(tree: PyTree) -> PyTree:
    # The train step donates its state's buffers: anything kept across steps is a copy.
    return jax.tree.map(jnp.copy, tree)


def _add(a, b):
    return b if a is None else jax.tree.map(jnp.add, a, b)


def _means(sums: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    sums = jax.device_get(sums)
    count = max(float(sums["count"]), 1.0)
    return {prefix + k: float(v) / count for k, v in sums.items()
            if k != "count" and not k.startswith("nonfinite")}


# -- the loop ---------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class FitOptions:
    """How ``fit`` runs (the experiment's config decides the values)."""

    epochs: int
    batch_size: int
    seed: int = 0  # shuffling; dropout keys come from the state
    eval_batch_size: int = 0  # 0: batch_size
    monitor: str = "val_loss"
    patience: int = 0  # 0: never stop early
    restore_best: bool = False  # end with the best epoch's parameters (Keras's option)
    shuffle: bool = True
    # A step with a non-finite loss or gradient: "stop" (raise NonFiniteError naming the
    # step; nothing after the last checkpoint is saved) or "skip" (drop that update).
    on_nonfinite: str = "stop"
    # With a checkpointer: also save every this many optimizer steps within an epoch
    # (0: at the end of each epoch only).
    checkpoint_every: int = 0

    def validate(self) -> FitOptions:
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
        if self.on_nonfinite not in ON_NONFINITE:
            raise ConfigError(f"on_nonfinite must be 'stop' or 'skip', got "
                              f"{self.on_nonfinite!r}")
        for name in ("eval_batch_size", "patience", "checkpoint_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be an integer >= 0, got {value!r}")
        return self


@dataclasses.dataclass
class FitResult:
    """What ``fit`` returns: the final state, the per-epoch history and the best epoch."""

    state: TrainState
    history: dict[str, list[float]]
    best_epoch: int  # 1-based, as Keras prints epochs
    best_value: float
    best_params: PyTree
    stopped_early: bool

    def at_epoch(self, epoch: int) -> dict[str, float]:
        return {k: v[epoch - 1] for k, v in self.history.items()}


def _is_better(monitor: str, objective: Objective, value: float, best: float) -> bool:
    if math.isnan(best):
        return not math.isnan(value)
    return value > best if monitor in objective.higher_is_better else value < best


class _Progress:
    """A tqdm bar per epoch (or nothing); ``position`` keeps parallel seeds' bars apart."""

    def __init__(self, enabled: bool, position: int = 0):
        self.enabled, self.position = enabled, position

    def bar(self, total: int, desc: str):
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit="batch", disable=not self.enabled,
                    file=sys.stderr, position=self.position, leave=self.position == 0,
                    dynamic_ncols=True)


def _to_device(batch: Mapping[str, np.ndarray], device) -> dict[str, jax.Array]:
    if isinstance(device, jax.sharding.NamedSharding):  # data parallel: split the batch
        return distributed.put_batch(batch, device)
    return {k: jax.device_put(v, device) for k, v in batch.items()}


def _rename(batch: Mapping[str, np.ndarray], inputs: str, targets: str):
    return {"inputs": batch[inputs], "targets": batch[targets], "weight": batch["weight"]}


def evaluate(eval_step, params, arrays: Mapping[str, np.ndarray], batch_size: int, *,
             device=None, prefix: str = "val_") -> dict[str, float]:
    """Mean loss and metrics over every example of ``arrays`` (``inputs``, ``targets``).

    ``device``: a device, or a batch sharding (``distributed.batch_sharding``; then
    ``batch_size`` must be a multiple of its mesh size)."""
    total = None
    for batch in eval_batches(arrays, batch_size):
        total = _add(total, eval_step(params, _to_device(_rename(batch, "inputs", "targets"),
                                                         device)))
    return _means(total, prefix)


def fit(
    model,
    objective: Objective,
    optimizer: optax.GradientTransformation,
    state: TrainState,
    train: Mapping[str, np.ndarray],
    validation: Mapping[str, np.ndarray] | None,
    options: FitOptions,
    *,
    checkpointer: Checkpointer | None = None,
    config_record: Mapping[str, Any] | None = None,
    resume: bool = False,
    device=None,
    progress: bool = True,
    progress_position: int = 0,
    name: str = "",
    on_epoch_end: Callable[[int, dict[str, float], TrainState], None] | None = None,
    compiled: tuple[Callable, Callable] | None = None,
    mesh: jax.sharding.Mesh | None = None,
) -> FitResult:
    """Trains one seed for ``options.epochs`` epochs (Keras's ``fit``).

    Args:
      train, validation: ``{"inputs": <...>[n, ...], "targets": <...>[n, ...]}`` numpy arrays.
      state: from ``init_state``; placed on ``device`` (default: JAX's default device).
      checkpointer: saves after every epoch; with ``resume`` the run continues from its
        newest checkpoint (refused if ``config_record`` differs from the saved one). A new
        run into a directory that already holds checkpoints is refused, never overwritten.
      on_epoch_end: called as ``on_epoch_end(epoch, logs, state)`` after each epoch's
        checkpoint (1-based epoch; ``logs`` the history's new entries).
      compiled: ``(train_step, eval_step)`` already jitted, to share compilations
        between seeds; built here otherwise.
      mesh: data parallelism (``device`` then unused): the state is replicated over the
        mesh and every batch split over its ``data`` axis; ``options.batch_size`` must be
        a multiple of the mesh size (ConfigError otherwise), evaluation batches are
        rounded up to one (the padding is masked out). With several processes every
        process calls ``fit`` with the same arguments.

    Returns:
      A ``FitResult``; ``history[k][e-1]`` is metric ``k`` after epoch ``e``.
    """
    options.validate()
    if validation is None and options.monitor.startswith("val_"):
        raise ConfigError(f"monitor {options.monitor!r} needs validation data")
    if mesh is not None:
        distributed.check_batch_size(options.batch_size, mesh.size)
    train_step, eval_step = compiled or jit_steps(model, objective, optimizer, mesh=mesh)
    device = distributed.batch_sharding(mesh) if mesh is not None else (
        device or jax.devices()[0])
    place = (lambda tree: distributed.put_replicated(tree, mesh)) if mesh is not None else (
        lambda tree: jax.device_put(tree, device))
    state = place(state)
    record = dict(config_record or {})
    history: dict[str, list[float]] = {}
    best_value, best_epoch, best_params = math.nan, 0, _copy(state.params)
    wait, first_epoch, stopped = 0, 0, False
    num_batches = -(-len(train["targets"]) // options.batch_size)
    # The running sums of an epoch start from zeros of the train step's sums.
    sums_shape = jax.eval_shape(train_step, state, _to_device(
        next(train_batches(train, options.batch_size, seed=0, epoch=0, shuffle=False)),
        device))[1]

    def zero_sums():
        return place(jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), sums_shape))

    start_batch, epoch_sums, skipped = 0, zero_sums(), 0

    latest = checkpointer.latest_step() if checkpointer is not None else None
    if latest is not None:
        if not resume:
            raise checkpoints_exist(checkpointer.directory, latest)
        latest, tree, saved = checkpointer.restore_newest_good(
            {"state": state, "best_params": best_params})
        check_resume_compatible(saved.get("config", {}), record)
        state = place(tree["state"])
        best_params = place(tree["best_params"])
        if saved.get("epoch_sums"):  # float32 sums round-trip JSON exactly
            epoch_sums = place({k: np.asarray(v, epoch_sums[k].dtype)
                                for k, v in saved["epoch_sums"].items()})
        history = {k: list(v) for k, v in saved["history"].items()}
        best_value, best_epoch = float(saved["best_value"]), int(saved["best_epoch"])
        wait, first_epoch, stopped = int(saved["wait"]), int(saved["epoch"]), bool(saved["stopped"])
        start_batch, skipped = int(saved.get("batch", 0)), int(saved.get("skipped", 0))

    def save(epoch: int, batch: int) -> None:
        """Checkpoint after ``batch`` batches of epoch ``epoch`` (0-based; ``batch`` 0: the
        epoch is done and ``epoch`` counts the epochs done)."""
        sums = {k: float(v) for k, v in jax.device_get(epoch_sums).items()} if batch else {}
        checkpointer.save(
            epoch * num_batches + batch, {"state": state, "best_params": best_params},
            {"config": record, "epoch": epoch, "batch": batch, "epoch_sums": sums,
             "skipped": skipped,
             "history": history, "best_value": best_value, "best_epoch": best_epoch,
             "wait": wait, "stopped": stopped})

    progress_bars = _Progress(progress, progress_position)
    eval_size = options.eval_batch_size or options.batch_size
    if mesh is not None:
        eval_size = distributed.round_up(eval_size, mesh)
    every = options.checkpoint_every if checkpointer is not None else 0
    for epoch in range(first_epoch, options.epochs):
        if stopped:
            break
        bar = progress_bars.bar(num_batches, f"{name} epoch {epoch + 1}/{options.epochs}")
        bar.update(start_batch)
        pending = None
        batches = train_batches(train, options.batch_size, seed=options.seed, epoch=epoch,
                                shuffle=options.shuffle, start_batch=start_batch)
        for index, batch in enumerate(batches, start=start_batch):
            state, sums = train_step(state, _to_device(batch, device))
            epoch_sums = jax.tree.map(jnp.add, epoch_sums, sums)
            if pending is not None:  # keep one step in flight: an honest bar, a busy device
                skipped += _check_finite(pending, options, epoch, index - 1, num_batches, name)
                bar.update(1)
            pending = sums
            done = index + 1
            if every and (epoch * num_batches + done) % every == 0 and done < num_batches:
                # Every step so far must be known finite before it goes into a checkpoint.
                skipped += _check_finite(pending, options, epoch, index, num_batches, name)
                bar.update(1)
                pending = None
                save(epoch, done)
        if pending is not None:
            skipped += _check_finite(pending, options, epoch, num_batches - 1, num_batches,
                                     name)
            bar.update(1)
        logs = _means(epoch_sums)
        if options.on_nonfinite == "skip":
            logs["skipped_steps"] = float(skipped)
        if validation is not None:
            logs |= evaluate(eval_step, state.params, validation, eval_size, device=device)
        bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()})
        bar.close()
        if not progress:  # one line per epoch instead of the bar, as Keras's verbose=2
            print(f"{name + ' ' if name else ''}epoch {epoch + 1}/{options.epochs}: "
                  + ", ".join(f"{k} {v:.4f}" for k, v in logs.items()), flush=True)
        for k, v in logs.items():
            history.setdefault(k, []).append(v)
        value = logs.get(options.monitor, math.nan)
        if _is_better(options.monitor, objective, value, best_value):
            best_value, best_epoch, best_params, wait = value, epoch + 1, _copy(state.params), 0
        else:
            wait += 1
            stopped = options.patience > 0 and wait >= options.patience
        start_batch, epoch_sums, skipped = 0, zero_sums(), 0
        if checkpointer is not None:
            save(epoch + 1, 0)
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, logs, state)
    if checkpointer is not None:
        checkpointer.wait()
    if options.restore_best:
        state = state._replace(params=best_params)
    return FitResult(state, history, best_epoch, best_value, best_params, stopped)


def _check_finite(sums, options: FitOptions, epoch: int, index: int, num_batches: int,
                  name: str) -> int:
    """Waits for a step's sums; 1 if the step was non-finite and skipped, 0 if fine;
    raises ``NonFiniteError`` naming the step under ``on_nonfinite='stop'``."""
    flags = jax.device_get({k: sums[k] for k in ("nonfinite_loss", "nonfinite_grads")})
    if not (flags["nonfinite_loss"] or flags["nonfinite_grads"]):
        return 0
    if options.on_nonfinite == "skip":
        return 1
    what = "the loss" if flags["nonfinite_loss"] else "the gradients (the loss was finite)"
    raise NonFiniteError(
        f"{name + ': ' if name else ''}training step {epoch * num_batches + index} (epoch "
        f"{epoch + 1}, batch {index + 1}): {what} went NaN or infinite; stopped before "
        f"applying it, nothing after the last checkpoint was saved (on_nonfinite='skip' "
        f"drops such steps instead)")


def jit_steps(model, objective: Objective, optimizer: optax.GradientTransformation, *,
              mesh: jax.sharding.Mesh | None = None):
    """The jitted ``(train_step, eval_step)``; the train step donates its state.

    With ``mesh``: state and parameters replicated, batches split over ``data``, results
    (the new state, the metric sums) replicated; XLA inserts the gradient all-reduce."""
    if mesh is None:
        return (jax.jit(make_train_step(model, objective, optimizer), donate_argnums=0),
                jax.jit(make_eval_step(model, objective)))
    rep, batch = distributed.replicated(mesh), distributed.batch_sharding(mesh)
    return (jax.jit(make_train_step(model, objective, optimizer), donate_argnums=0,
                    in_shardings=(rep, batch), out_shardings=(rep, rep)),
            jax.jit(make_eval_step(model, objective), in_shardings=(rep, batch),
                    out_shardings=rep))


# -- several runs -----------------------------------------------------------------------------

def run_parallel(run_one: Callable[[Any, Any, int], Any], jobs: Iterable[Any], *,
                 devices: list | None = None) -> list[Any]:
    """Runs ``run_one(job, device, slot)`` for every job, one thread per device: jobs (e.g.
    (model, seed) pairs) train side by side on different devices, since JAX releases the
    GIL while a device computes, and one after another on the same device. Results come
    back in job order; the first exception is re-raised once the other threads stop
    (they finish their current job; no new one starts)."""
    jobs = list(jobs)
    devices = list(devices or jax.devices())[: max(1, len(jobs))]
    results: dict[int, Any] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()
    queue = list(enumerate(jobs))

    def worker(slot: int, device):
        while True:
            with lock:
                if not queue or errors:
                    return
                index, job = queue.pop(0)
            try:
                results[index] = run_one(job, device, slot)
            except BaseException as e:  # noqa: BLE001 - re-raised below
                with lock:
                    errors.append(e)
                return

    threads = [threading.Thread(target=worker, args=(slot, d), daemon=True)
               for slot, d in enumerate(devices)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return [results[i] for i in range(len(jobs))]
