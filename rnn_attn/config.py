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

import argparse
import dataclasses
import json
import math
import os
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from rnn_attn.errors import ConfigError  # noqa: F401 - re-exported as config.ConfigError

T = TypeVar("T")

# jax.random.key takes a 32-bit seed: a larger one wraps round to a seed already used.
MAX_SEED = 2**32 - 1
MAX_CPU_DEVICES = 1024
# JAX computes in 32-bit integers (x64 off): a larger count or size would overflow there.
MAX_INT = 2**31 - 1

def field(default: Any, help: str, *, minimum: float | None = None,  # noqa: A002
          maximum: float | None = None, above: float | None = None,
          below: float | None = None, choices: Sequence[Any] | None = None,
          items: Sequence[str] | None = None, item: str = "name", why: str = "") -> Any:
    """A dataclass field with a help text for its flag and the limits ``check_fields``
    enforces: ``minimum``/``maximum`` inclusive, ``above``/``below`` exclusive,
    ``choices`` (also given to argparse), ``items``: the allowed entries of a
    comma-separated list (``item`` names one in messages); ``why`` explains a limit."""
    limits = dict(minimum=minimum, maximum=maximum, above=above, below=below,
                  choices=tuple(choices) if choices is not None else None,
                  items=tuple(items) if items is not None else None, item=item, why=why)
    return dataclasses.field(default=default, metadata={"help": help, **limits})


def split_names(text: str) -> list[str]:
    """``'a, b,,c'`` -> ``['a', 'b', 'c']``: a comma-separated flag's entries."""
    return [part.strip() for part in text.split(",") if part.strip()]


def check_fields(config: Any) -> None:
    """Enforces every field's declared type and limits; raises ConfigError naming the first
    bad flag, its value and what was expected."""
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        kind = bool if hints[f.name] is bool else _parser_for(hints[f.name])
        _check_value("--" + f.name.replace("_", "-"), getattr(config, f.name), kind, f.metadata)


def _check_value(flag: str, value: Any, kind: type, limits: Mapping[str, Any]) -> None:
    why = f" ({limits['why']})" if limits.get("why") else ""
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{flag} must be an integer, got {value!r}")
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value):
            raise ConfigError(f"{flag} must be a finite number, got {value!r}")
    if kind is bool and not isinstance(value, bool):
        raise ConfigError(f"{flag} must be True or False, got {value!r}")
    if kind is str and not isinstance(value, str):
        raise ConfigError(f"{flag} must be a string, got {value!r}")
    if kind is int and limits.get("maximum") is None and limits.get("below") is None:
        limits = {**limits, "maximum": MAX_INT}  # every count and size fits JAX's int32
    if kind is int and not _within(value, limits):
        # The side that was crossed: "an integer >= 1", "an integer <= 10000".
        low = limits.get("minimum") is not None and value < limits["minimum"]
        side = {"minimum": limits["minimum"]} if low else {"maximum": limits["maximum"]}
        raise ConfigError(f"{flag} must be an integer {_bounds_text(side)}{why}, got "
                          f"{value!r}")
    if kind is float:
        bounds = _bounds_text(limits)
        if bounds and not _within(value, limits):
            text = "a positive number" if bounds == "> 0" else f"a number {bounds}"
            raise ConfigError(f"{flag} must be {text}{why}, got {value!r}")
    if limits.get("choices") is not None and value not in limits["choices"]:
        raise ConfigError(f"{flag} must be one of {list(limits['choices'])}{why}, got "
                          f"{value!r}")
    if limits.get("items") is not None:
        _check_items(flag, value, limits["items"], limits.get("item") or "name")


def _within(value: float, limits: Mapping[str, Any]) -> bool:
    lo, hi = limits.get("minimum"), limits.get("maximum")
    above, below = limits.get("above"), limits.get("below")
    return ((lo is None or value >= lo) and (hi is None or value <= hi)
            and (above is None or value > above) and (below is None or value < below))


def _bounds_text(limits: Mapping[str, Any]) -> str:
    """``>= 1``, ``> 0``, ``in [0, 1)`` ... ("" when unbounded)."""
    lo = limits.get("minimum") if limits.get("minimum") is not None else limits.get("above")
    hi = limits.get("maximum") if limits.get("maximum") is not None else limits.get("below")
    left = "[" if limits.get("minimum") is not None else "("
    right = "]" if limits.get("maximum") is not None else ")"
    if lo is not None and hi is not None:
        return f"in {left}{_number(lo)}, {_number(hi)}{right}"
    if lo is not None:
        return (">= " if left == "[" else "> ") + _number(lo)
    if hi is not None:
        return ("<= " if right == "]" else "< ") + _number(hi)
    return ""


def _number(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


def _check_items(flag: str, text: str, allowed: Sequence[str], item: str) -> None:
    names = split_names(text)
    if not names:
        raise ConfigError(f"{flag} is empty; expected some of {list(allowed)}")
    for name in names:
        if name not in allowed:
            raise ConfigError(f"unknown {item} {name!r}; expected one of {list(allowed)}")
    if len(set(names)) != len(names):
        raise ConfigError(f"{flag} repeats a {item}: {text!r}")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_arguments(parser: argparse.ArgumentParser, config_cls: type,
                  exclude: tuple[str, ...] = ()) -> None:
    """Adds a ``--flag`` for every field of ``config_cls`` not in ``exclude``."""
    hints = typing.get_type_hints(config_cls)
    for f in dataclasses.fields(config_cls):
        if f.name in exclude:
            continue
        kind = hints[f.name]
        help_text = f.metadata.get("help", "")
        choices = f.metadata.get("choices")
        if kind is bool:
            parser.add_argument(
                _flag(f.name), dest=f.name, action=argparse.BooleanOptionalAction,
                default=f.default, help=help_text,
            )
        else:
            parser.add_argument(
                _flag(f.name), dest=f.name, type=_parser_for(kind), default=f.default,
                choices=choices, help=help_text, metavar=f.name.upper(),
            )


def _parser_for(kind: Any):
    if kind in (int, float, str):
        return kind
    origin = typing.get_origin(kind)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        return _parser_for(args[0])
    return str


def from_namespace(config_cls: type[T], namespace: argparse.Namespace) -> T:
    names = {f.name for f in dataclasses.fields(config_cls)}
    return config_cls(**{k: v for k, v in vars(namespace).items() if k in names})


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def diff(saved: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Keys whose values differ: ``{key: (saved, current)}``."""
    keys = sorted(set(saved) | set(current))
    return {
        k: (saved.get(k), current.get(k))
        for k in keys
        if json.dumps(saved.get(k)) != json.dumps(current.get(k))
    }


# Settings a resume may change: how often to checkpoint, how seeds map to CPU devices and
# how a device loops over its seeds (none changes a number), how many examples to print,
# and what to do on a NaN (after a run stopped on one, resuming with --on-nonfinite skip
# is the way on).
RESUME_MAY_CHANGE = ("checkpoint_every", "cpu_devices", "on_nonfinite", "seed_loop",
                     "spot_checks")


def check_resume_compatible(saved: Mapping[str, Any], current: Mapping[str, Any]) -> None:
    """Refuses to resume a run under a different configuration, naming the keys (those of
    ``RESUME_MAY_CHANGE`` aside)."""
    changed = {k: v for k, v in diff(saved, current).items() if k not in RESUME_MAY_CHANGE}
    if changed:
        parts = ", ".join(f"{k}: saved {a!r}, now {b!r}" for k, (a, b) in changed.items())
        raise ConfigError(f"cannot resume: the configuration differs from the saved run ({parts})")


def prepare_workdir(path: str) -> str:
    """Creates ``path`` if needed and checks it is writable; returns its absolute path."""
    workdir = os.path.abspath(os.path.expanduser(path))
    try:
        os.makedirs(workdir, exist_ok=True)
        # One probe per process: the processes of a multi-host run share the work dir.
        probe = os.path.join(workdir, f".write_probe_{os.getpid()}")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise ConfigError(
            f"work dir {path!r} cannot be written ({e.strerror or e}); expected a writable "
            f"directory"
        ) from None
    return workdir


def refuse_to_overwrite(workdir: str, resume: bool) -> None:
    """A new run (no ``--resume``) into a work dir that holds checkpoints is refused at
    once, before anything is loaded or compiled: its checkpoints are never overwritten."""
    root = os.path.join(workdir, "checkpoints")
    if resume or not os.path.isdir(root):
        return
    for directory, subdirs, _ in os.walk(root):
        steps = [int(d) for d in subdirs if d.isdigit()]
        if steps:
            raise checkpoints_exist(directory, max(steps))


def checkpoints_exist(directory: str, step: int) -> ConfigError:
    """The error for a new run into ``directory``, which holds checkpoints up to ``step``."""
    return ConfigError(f"{directory!r} already holds checkpoints (step {step}); pass "
                       f"--resume to continue that run, or choose another --workdir")


def require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad flag gets one line (``error: ...``) instead of usage + error."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"error: {message} (see --help)\n")


def add_device_arguments(parser: argparse.ArgumentParser) -> None:
    """The device and sharding flags (``distributed.DeviceSettings``), the same for every
    experiment. They change where a run computes, not what it computes (except
    ``--compute-dtype``), so they are not part of the config a resume compares."""
    group = parser.add_argument_group("devices and hosts (see docs/tpu.md)")
    group.add_argument("--seed-parallel", type=int, default=0, metavar="K",
                       help="devices on the mesh's 'seed' axis: the seeds are split over K "
                            "devices, each training its share in one vmapped program; must "
                            "divide --seeds; 0: as many as divide the seeds and fit the "
                            "devices")
    group.add_argument("--data-parallel", type=int, default=0, metavar="M",
                       help="devices on the mesh's 'data' axis: every seed's batch is split "
                            "over M devices (parameters replicated, gradients all-reduced); "
                            "-1: every device not on the seed axis; 0: no split. The mesh "
                            "uses K x M devices")
    group.add_argument("--distributed", action="store_true",
                       help="join a multi-host run with jax.distributed.initialize (TPU pod "
                            "slice, several GPU hosts, several local processes); implies "
                            "--data-parallel -1 unless given")
    group.add_argument("--coordinator-address", default="", metavar="HOST:PORT",
                       help="process 0's address for --distributed (default "
                            "$JAX_COORDINATOR_ADDRESS; 'auto': detected on TPU pods, Slurm, "
                            "Open MPI)")
    group.add_argument("--num-processes", type=int, default=0, metavar="N",
                       help="processes in the --distributed run (default $JAX_NUM_PROCESSES)")
    group.add_argument("--process-id", type=int, default=-1, metavar="I",
                       help="this process's index, 0 .. N-1 (default $JAX_PROCESS_ID)")
    from rnn_attn.parallel.distributed import COMPUTE_DTYPES

    group.add_argument("--compute-dtype", default="float32", choices=COMPUTE_DTYPES,
                       help="dtype of the models' matmuls and states; parameters, loss, "
                            "gradients and optimizer stay float32")


class ExperimentParser(ArgumentParser):
    """``ArgumentParser`` that checks the device flags once parsed and puts them on the
    namespace as ``device_settings`` (a ``distributed.DeviceSettings``); a bad value gets
    one ``error:`` line."""

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        namespace, extras = super().parse_known_args(args, namespace)
        if hasattr(namespace, "data_parallel"):
            from rnn_attn.parallel import distributed  # jax is imported, its backends do not start

            try:
                settings = distributed.settings_from_namespace(namespace).validate()
            except ConfigError as e:
                self.exit(2, f"error: {e}\n")
            namespace.device_settings = settings
        return namespace, extras


def experiment_parser(description: str, config_cls: type, default_workdir: str,
                      exclude: tuple[str, ...] = ()) -> ArgumentParser:
    """The flags every experiment shares (``--workdir``, ``--resume``, ``--progress``, the
    device flags of ``add_device_arguments``) and one flag per config field."""
    parser = ExperimentParser(description=description,
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--workdir", default=default_workdir,
                        help="directory that receives everything the run writes")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run from the checkpoints in --workdir")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                        help="show progress bars")
    add_device_arguments(parser)
    add_arguments(parser, config_cls, exclude)
    return parser


# -- the fields every experiment shares ------------------------------------------------------

ON_NONFINITE = ("stop", "skip")


MAX_SEEDS = 10_000


def seeds_field(default: int = 3) -> Any:
    """``--seeds``: how many repeats (each is initialized on the host, one by one)."""
    return field(default, "independent repeats per model (at most 10,000: each seed is "
                          "initialized on the host)", minimum=1, maximum=MAX_SEEDS)


def checkpoint_every_field(default: int = 0, minimum: int = 0) -> Any:
    """``--checkpoint-every``, in optimizer steps (0, where allowed: epoch ends only)."""
    return field(default, "also checkpoint every N optimizer steps, so a killed run loses at "
                          "most N steps (0: at the end of each epoch only)", minimum=minimum,
                 why="optimizer steps; 0: at epoch ends only" if minimum == 0 else "")


SEED_LOOPS = ("auto", "vmap", "map")


def seed_loop_field() -> Any:
    """``--seed-loop``: how each device runs its seeds (``engine.resolve_seed_loop``)."""
    return field("auto", "how each device runs its seeds: vmap (batched), map (one after "
                         "another), or auto (map on CPU without --data-parallel, vmap "
                         "otherwise)", choices=SEED_LOOPS)


def learning_rate_field(default: float = 1e-3) -> Any:
    return field(default, "optimizer learning rate", above=0)


def optimizer_field(default: str, choices: Sequence[str]) -> Any:
    return field(default, f"one of {tuple(choices)} (Keras defaults)", choices=choices)


def epochs_field(default: int, help: str = "training epochs") -> Any:  # noqa: A002
    return field(default, help, minimum=1)


def batch_size_field(default: int, help: str = "training batch size") -> Any:  # noqa: A002
    return field(default, help, minimum=1)


def eval_batch_size_field(default: int) -> Any:
    return field(default, "batch size for validation and test (no effect on results)",
                 minimum=1)


def patience_field() -> Any:
    return field(0, "stop after this many epochs without a better monitored metric "
                    "(0: never)", minimum=0)


def monitor_field() -> Any:
    return field("val_accuracy", "metric that picks the best epoch (and early stops)",
                 choices=("val_loss", "val_accuracy"))


def models_field(default: str, registry: Sequence[str]) -> Any:
    """``--models``: a comma-separated list of the registry's names, each at most once."""
    return field(default, f"comma-separated models from {sorted(registry)}",
                 items=sorted(registry), item="model")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """The fields every experiment shares, and validation: ``validate()`` enforces each
    field's declared limits (``check_fields``), that every seed fits the PRNG, then the
    subclass's ``check()`` (the constraints that relate several fields)."""

    seeds: int = seeds_field()
    first_seed: int = field(0, "seed of the first repeat; repeat i uses first_seed + i",
                            minimum=0, maximum=MAX_SEED)
    checkpoint_every: int = checkpoint_every_field()
    on_nonfinite: str = field(
        "stop", "a training step whose loss or gradients go NaN/Inf: 'stop' (error naming "
        "the seed and the step; the last checkpoint is kept) or 'skip' (drop that update "
        "and go on)", choices=ON_NONFINITE)
    cpu_devices: int = field(
        0, "on CPU, split the host into this many devices for the (seed, data) mesh (0: as "
        "many as the mesh needs, at most one per core; at most 1,024: each is a thread pool "
        "of its own)", minimum=0, maximum=MAX_CPU_DEVICES)

    @property
    def seed_numbers(self) -> tuple[int, ...]:
        return tuple(self.first_seed + i for i in range(self.seeds))

    @property
    def model_names(self) -> list[str]:
        return split_names(getattr(self, "models", ""))

    def validate(self: T) -> T:
        """Raises ConfigError naming the first bad value; returns the config."""
        check_fields(self)
        last = self.first_seed + self.seeds - 1
        require(last <= MAX_SEED, f"--first-seed {self.first_seed} + --seeds {self.seeds} "
                                  f"runs past the largest seed {MAX_SEED} (seeds are 32-bit)")
        self.check()
        return self

    def check(self) -> None:
        """Constraints that relate several fields (none here); subclasses add theirs."""
