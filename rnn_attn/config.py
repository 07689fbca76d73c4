"""One way to configure an experiment: a frozen dataclass with defaults, overridden from
the command line, whose fields declare their own limits.

Each field's ``metadata`` holds its flag's help text and its constraints (``minimum``,
``maximum``, exclusive ``above``/``below``, ``choices``, ``items`` for comma-separated
names); ``check_fields`` enforces them all, so a config class writes only the checks
that relate several fields. ``--help`` lists every setting, and the dataclass (saved into
``results.json`` and checkpoints) is the single record of a run's configuration.
``RunConfig`` holds the fields every experiment shares.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Sequence
from typing import Any, TypeVar

from rnn_attn import seed_sources
from rnn_attn.checks import check_value, split_names
from rnn_attn.errors import ConfigError

T = TypeVar("T")

# jax.random.key takes a 32-bit seed: a larger one wraps round to a seed already used.
MAX_SEED = 2**32 - 1
MAX_CPU_DEVICES = 1024


def field(
    default: Any,
    help: str,
    *,
    minimum: float | None = None,  # noqa: A002
    maximum: float | None = None,
    above: float | None = None,
    below: float | None = None,
    choices: Sequence[Any] | None = None,
    items: Sequence[str] | None = None,
    item: str = "name",
    why: str = "",
) -> Any:
    """A dataclass field with a help text for its flag and the limits ``check_fields``
    enforces: ``minimum``/``maximum`` inclusive, ``above``/``below`` exclusive,
    ``choices`` (also given to argparse), ``items``: the allowed entries of a
    comma-separated list (``item`` names one in messages); ``why`` explains a limit."""
    limits = dict(
        minimum=minimum,
        maximum=maximum,
        above=above,
        below=below,
        choices=tuple(choices) if choices is not None else None,
        items=tuple(items) if items is not None else None,
        item=item,
        why=why,
    )
    return dataclasses.field(default=default, metadata={"help": help, **limits})


def check_fields(config: Any) -> None:
    """Enforces every field's declared type and limits; raises ConfigError naming the first
    bad flag, its value and what was expected."""
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        kind = scalar_type(hints[f.name])
        check_value("--" + f.name.replace("_", "-"), getattr(config, f.name), kind, f.metadata)


def scalar_type(kind: Any) -> type:
    """The scalar type of a field's annotation, its flag's type (``int | None`` -> ``int``;
    anything else but int, float, bool -> ``str``)."""
    if kind in (int, float, str, bool):
        return kind
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    return scalar_type(args[0]) if args else str


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


# -- the fields every experiment shares ------------------------------------------------------

MAX_SEEDS = 10_000
ON_NONFINITE = ("stop", "skip")
SEED_LOOPS = ("auto", "vmap", "map")
OPTIMIZERS = ("adam", "rmsprop", "sgd")  # rnn_attn.train.optimizers.keras_optimizer's


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """The fields every experiment shares, and validation: ``validate()`` enforces each
    field's declared limits (``check_fields``), that every seed fits the PRNG, then the
    subclass's ``check()`` (the constraints that relate several fields)."""

    seeds: int = field(
        3,
        "independent repeats per model (at most 10,000: each seed is initialized on the host)",
        minimum=1,
        maximum=MAX_SEEDS,
    )
    first_seed: int = field(
        0, "seed of the first repeat; repeat i uses first_seed + i", minimum=0, maximum=MAX_SEED
    )
    seeds_by_source: str = field(
        "",
        "vary each source of randomness separately: 'init=I,data=D[,dropout=K]' runs every "
        "combination of I initialization seeds, D data-order seeds (and K dropout seeds), "
        "each from --first-seed on; --seeds is then their number; a source not named keeps "
        "--first-seed, dropout follows init unless named (empty: one seed per run sets all)",
    )
    checkpoint_every: int = field(
        0,
        "also checkpoint every N optimizer steps, so a killed run loses at most N steps "
        "(0: at the end of each epoch only)",
        minimum=0,
        why="optimizer steps; 0: at epoch ends only",
    )
    on_nonfinite: str = field(
        "stop",
        "a training step whose loss or gradients go NaN/Inf: 'stop' (error naming "
        "the seed and the step; the last checkpoint is kept) or 'skip' (drop that update "
        "and go on)",
        choices=ON_NONFINITE,
    )
    cpu_devices: int = field(
        0,
        "on CPU, split the host into this many devices for the (seed, data) mesh (0: as "
        "many as the mesh needs, at most one per core; at most 1,024: each is a thread pool "
        "of its own)",
        minimum=0,
        maximum=MAX_CPU_DEVICES,
    )

    @property
    def seed_numbers(self) -> tuple[int, ...]:
        return tuple(self.first_seed + i for i in range(self.seeds))

    @property
    def seed_sources(self) -> dict[str, tuple[int, ...]]:
        """Each run's seed of every source (``rnn_attn.seed_sources``)."""
        if not self.seeds_by_source:
            return seed_sources.default_sources(self.seed_numbers)
        counts = seed_sources.parse_grid(self.seeds_by_source, max_runs=MAX_SEEDS)
        return seed_sources.grid(counts, self.first_seed)

    @property
    def model_names(self) -> list[str]:
        return split_names(getattr(self, "models", ""))

    def validate(self: T) -> T:
        """Raises ConfigError naming the first bad value; returns the config."""
        check_fields(self)
        last = self.first_seed + self.seeds - 1
        require(
            last <= MAX_SEED,
            f"--first-seed {self.first_seed} + --seeds {self.seeds} "
            f"runs past the largest seed {MAX_SEED} (seeds are 32-bit)",
        )
        if self.seeds_by_source:
            runs = seed_sources.count_runs(self.seeds_by_source, max_runs=MAX_SEEDS)
            require(
                self.seeds == runs,
                f"--seeds {self.seeds} disagrees with {seed_sources.FLAG} "
                f"{self.seeds_by_source!r} ({runs} runs); expected --seeds {runs} or no --seeds",
            )
        self.check()
        return self

    def check(self) -> None:
        """Constraints that relate several fields (none here); subclasses add theirs."""


# The training settings an experiment may take, each declared once: ``fit_fields`` picks
# some of them, with the experiment's defaults. The shared runner turns them into the
# engine's ``FitConfig`` (a setting an experiment does not take keeps the engine's default).
FIT_FIELDS: dict[str, tuple[type, str, dict[str, Any]]] = {
    "epochs": (int, "training epochs", dict(minimum=1)),
    "batch_size": (int, "training batch size", dict(minimum=1)),
    "eval_batch_size": (
        int,
        "batch size for validation and test (no effect on results)",
        dict(minimum=1),
    ),
    "optimizer": (str, f"one of {OPTIMIZERS} (Keras defaults)", dict(choices=OPTIMIZERS)),
    "learning_rate": (float, "optimizer learning rate", dict(above=0)),
    "monitor": (
        str,
        "metric that picks the best epoch (and early stops)",
        dict(choices=("val_loss", "val_accuracy")),
    ),
    "patience": (
        int,
        "stop after this many epochs without a better monitored metric (0: never)",
        dict(minimum=0),
    ),
    "seed_loop": (
        str,
        "how each device runs its seeds: vmap (batched), map (one after "
        "another), or auto (map on CPU without --data-parallel, vmap "
        "otherwise)",
        dict(choices=SEED_LOOPS),
    ),
}


def fit_fields(**defaults: Any) -> type:
    """A ``RunConfig`` subclass holding the named ``FIT_FIELDS`` with these defaults, for
    an experiment's config to subclass: ``class C(fit_fields(epochs=10, batch_size=32))``.
    A subclass may declare one of them again for its own help text."""
    unknown = sorted(set(defaults) - set(FIT_FIELDS))
    if unknown:
        raise TypeError(f"unknown fit fields {unknown}; expected some of {sorted(FIT_FIELDS)}")
    fields = []
    for name, default in defaults.items():
        kind, help_text, limits = FIT_FIELDS[name]
        fields.append((name, kind, field(default, help_text, **limits)))
    return dataclasses.make_dataclass("FitFields", fields, bases=(RunConfig,), frozen=True)


def override(name: str, default: Any, **changes: Any) -> Any:
    """A shared field (of ``RunConfig`` or ``FIT_FIELDS``) declared again with another
    default, and any of ``field``'s arguments changed: ``seeds: int = override("seeds", 10)``."""
    shared = {f.name: f for f in dataclasses.fields(RunConfig)}
    if name in shared:
        metadata = dict(shared[name].metadata)
    elif name in FIT_FIELDS:
        metadata = {"help": FIT_FIELDS[name][1], **FIT_FIELDS[name][2]}
    else:
        raise TypeError(
            f"no shared field {name!r}; expected one of {sorted([*shared, *FIT_FIELDS])}"
        )
    limits = {k: v for k, v in {**metadata, **changes}.items() if k != "help"}
    return field(default, changes.pop("help", metadata["help"]), **limits)


def models_field(default: str, registry: Sequence[str]) -> Any:
    """``--models``: a comma-separated list of the registry's names, each at most once."""
    return field(
        default,
        f"comma-separated models from {sorted(registry)}",
        items=sorted(registry),
        item="model",
    )
