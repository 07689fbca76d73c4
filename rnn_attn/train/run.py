"""A run as the host sees it: what it trains on and how (``FitData``, ``FitConfig``), its
progress, and the hooks that read and change it.

``engine.fit`` keeps a ``Run`` (every seed's state on the mesh, the epoch and batch done,
each seed's history and best epoch) and calls each ``Callback`` between its compiled
segments; callbacks (``train.callbacks``) do everything that is not training: best epoch
and early stopping, checkpoints, progress, samples.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from rnn_attn.errors import ConfigError, DegenerateRunError
from rnn_attn.seed_sources import SOURCES
from rnn_attn.train import feed
from rnn_attn.train.programs import Programs
from rnn_attn.train.steps import TrainState

PyTree = Any
ON_NONFINITE = ("stop", "skip")
FEEDS = ("device", "host")
SEED_LOOPS = ("vmap", "map")


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """How ``fit`` trains (an experiment's config decides the values).

    ``seeds`` numbers the run's slots, the stacked axis every program maps over. With
    ``hyperparameters`` (``(name, one value per slot)`` pairs) a slot is a trial, a seed
    under one setting (``rnn_attn.train.trials``): a seed number then repeats, once per
    setting, and the (seed, setting) pairs are distinct."""

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
    # A seed whose parameters end bit-identical to its initial ones is refused
    # (DegenerateRunError); False for a run meant to leave them (e.g. a learning rate of 0).
    check_updates: bool = True
    # XLA options of the training program, as (name, value) pairs: e.g. the copy task's
    # (("xla_backend_optimization_level", 1),); they may change float rounding.
    compiler_options: tuple[tuple[str, Any], ...] = ()
    # Swept hyperparameters, (name, one value per slot) pairs (trials.py); () for none.
    hyperparameters: tuple[tuple[str, tuple[float, ...]], ...] = ()
    # Each seed's (init, data, dropout) seeds (rnn_attn.seed_sources), when they are not
    # all its seed number; () for that default.
    sources: tuple[tuple[int, int, int], ...] = ()

    def validate(self) -> FitConfig:
        for name, values in self.hyperparameters:
            if len(values) != len(self.seeds):
                raise ConfigError(
                    f"hyperparameter {name!r} has {len(values)} values for "
                    f"{len(self.seeds)} slots; expected one per slot"
                )
        slots = list(zip(self.seeds, *(v for _, v in self.hyperparameters), strict=True))
        if not self.seeds or len(set(slots)) != len(self.seeds):
            if self.hyperparameters:
                raise ConfigError(f"(seed, setting) pairs must be distinct, got {slots}")
            raise ConfigError(f"seeds must be distinct and at least one, got {self.seeds}")
        if self.sources and (
            len(self.sources) != len(self.seeds)
            or len(set(self.sources)) != len(self.sources)
            or any(len(s) != len(SOURCES) for s in self.sources)
        ):
            raise ConfigError(
                f"sources must be one distinct {SOURCES} triple per seed "
                f"({len(self.seeds)}), got {self.sources}"
            )
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
        for name in ("eval_batch_size", "patience", "checkpoint_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be an integer >= 0, got {value!r}")
        if self.on_nonfinite not in ON_NONFINITE:
            raise ConfigError(
                f"on_nonfinite must be one of {ON_NONFINITE}, got {self.on_nonfinite!r}"
            )
        if self.feed not in FEEDS:
            raise ConfigError(f"feed must be one of {FEEDS}, got {self.feed!r}")
        if self.seed_loop not in SEED_LOOPS:
            raise ConfigError(f"seed_loop must be one of {SEED_LOOPS}, got {self.seed_loop!r}")
        return self

    def label(self, index: int) -> str:
        """Slot ``index`` in messages: ``seed 3``, or a trial's ``seed 3 (learning_rate=0.01)``."""
        setting = ", ".join(f"{name}={values[index]:g}" for name, values in self.hyperparameters)
        return f"seed {self.seeds[index]}" + (f" ({setting})" if setting else "")

    def source_seeds(self, source: str) -> tuple[int, ...]:
        """Each seed's seed of ``source`` (one of ``seed_sources.SOURCES``)."""
        if not self.sources:
            return tuple(self.seeds)
        return tuple(triple[SOURCES.index(source)] for triple in self.sources)

    def segment_length(self, num_batches: int) -> int:
        """Steps of the training program: an epoch, or ``checkpoint_every`` if fewer."""
        every = self.checkpoint_every
        return min(every, num_batches) if every else num_batches


@dataclasses.dataclass(frozen=True)
class FitData:
    """The training split (``feed.Split``, or a ``feed.Sampler`` drawing fresh batches)
    and, optionally, the validation split."""

    train: feed.Split | feed.Sampler
    validation: feed.Split | None = None

    def check(self, config: FitConfig, vocab_size: int | None = None) -> None:
        """ConfigError unless the data has the rows (or keys) of every seed of ``config``
        and the validation split its ``monitor`` needs, and, for a model that reads token
        ids (``vocab_size``), every id of the splits lies in its vocabulary."""
        n = len(config.seeds)
        if isinstance(self.train, feed.Sampler):
            if len(self.train.keys) != n:
                raise ConfigError(
                    f"the sampler has keys for {len(self.train.keys)} seeds; expected {n}"
                )
        else:
            feed.check_rows(self.train, n, "training")
            feed.check_ids(self.train, vocab_size, "training")
        if self.validation is not None:
            feed.check_rows(self.validation, n, "validation")
            feed.check_ids(self.validation, vocab_size, "validation")
        if self.validation is None and config.monitor.startswith("val_"):
            raise ConfigError(f"monitor {config.monitor!r} needs validation data")

    def feed_kind(self, config: FitConfig) -> str:
        """How training batches arrive (``plans.FEEDS``): drawn by a sampler, else as
        ``config.feed`` says."""
        return "sample" if isinstance(self.train, feed.Sampler) else config.feed


@dataclasses.dataclass
class Run:
    """The host's view of a run in progress; callbacks read and update it.

    Per-seed lists are in ``config.seeds`` order. ``epoch`` counts finished epochs,
    ``batch`` the batches done of the current one; ``step`` is their global count."""

    config: FitConfig
    objective: Any  # objectives.Objective
    programs: Programs
    num_batches: int
    state: TrainState  # stacked over seeds, on the mesh
    carry: PyTree  # per seed: the epoch's running sums and the non-finite guard
    best_params: PyTree
    epoch: int = 0
    batch: int = 0
    history: list[dict[str, list[float]]] = dataclasses.field(default_factory=list)
    logs: list[dict[str, float]] = dataclasses.field(default_factory=list)
    best_value: list[float] = dataclasses.field(default_factory=list)
    best_epoch: list[int] = dataclasses.field(default_factory=list)
    wait: list[int] = dataclasses.field(default_factory=list)
    stopped: list[bool] = dataclasses.field(default_factory=list)
    step_loss: Any = None  # <float32>[seeds, epochs * num_batches], NaN where not trained
    initial_digests: list[bytes] | None = None  # guards.digests of the initial parameters
    # What callbacks keep of the run on the host (JSON values by callback-chosen keys, e.g.
    # generated samples): saved with every checkpoint and restored on resume.
    records: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def step(self) -> int:
        return self.epoch * self.num_batches + self.batch

    def recorded(self, index: int) -> bool:
        """Whether seed ``index`` trained in the epoch just finished (not stopped early)."""
        return len(self.history[index].get("loss", ())) == self.epoch

    def segment_stop(self) -> int:
        """Where the next segment ends: the epoch's end or the next ``checkpoint_every``
        multiple of the global step, whichever comes first."""
        every = self.config.checkpoint_every
        if not every:
            return self.num_batches
        next_multiple = (self.step // every + 1) * every
        return min(self.num_batches, next_multiple - self.epoch * self.num_batches)

    @property
    def done(self) -> bool:
        return self.epoch >= self.config.epochs or all(self.stopped)

    def host_record(self) -> dict[str, Any]:
        """Everything of the run that is not an array (for checkpoints' JSON)."""
        return {
            "epoch": self.epoch,
            "batch": self.batch,
            "history": self.history,
            "best_value": self.best_value,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped": self.stopped,
            "records": self.records,
        }

    def load_host_record(self, record: Mapping[str, Any]) -> None:
        self.epoch, self.batch = int(record["epoch"]), int(record["batch"])
        self.history = [{k: list(v) for k, v in h.items()} for h in record["history"]]
        self.best_value = [float(v) for v in record["best_value"]]
        self.best_epoch = [int(v) for v in record["best_epoch"]]
        self.wait = [int(v) for v in record["wait"]]
        self.stopped = [bool(v) for v in record["stopped"]]
        self.records = dict(record.get("records", {}))  # absent before records existed


class Callback:
    """Hooks of ``fit``; each gets the ``Run`` and may read or update it."""

    def on_fit_start(self, run: Run) -> None: ...
    def on_segment_end(self, run: Run) -> None: ...
    def on_epoch_end(self, run: Run) -> None: ...
    # After every callback's ``on_epoch_end``: the epoch's state and records are complete.
    def on_epoch_closed(self, run: Run) -> None: ...
    def on_fit_end(self, run: Run) -> None: ...


def means(sums: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Sums of one seed divided by their ``count`` (flags of the guard left out); a
    DegenerateRunError for a count of 0, whose means would be 0/0 (never a silent 0)."""
    count = float(sums["count"])
    if not count > 0:
        what = {"": "training", "val_": "validation"}.get(prefix, prefix.rstrip("_"))
        raise DegenerateRunError(
            f"the {what} figures would be means of zero samples (their examples' weights "
            f"sum to {count:g}); expected at least one example"
        )
    return {
        prefix + k: float(v) / count
        for k, v in sums.items()
        if k != "count" and not k.startswith("nonfinite")
    }
