"""One way to configure an experiment: a frozen dataclass with defaults, overridden from
the command line.

Each field's ``metadata['help']`` becomes its ``--flag``'s help, so ``--help`` lists every
setting, and the dataclass (saved into ``results.json`` and checkpoints) is the single
record of a run's configuration.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from rnn_attn.errors import ConfigError  # noqa: F401 - re-exported as config.ConfigError

T = TypeVar("T")


def field(default: Any, help: str, **kwargs: Any) -> Any:  # noqa: A002 - argparse's word
    """A dataclass field with a help text for its command-line flag."""
    return dataclasses.field(default=default, metadata={"help": help, **kwargs})


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


# -- flags of the experiments that train with the engine (rnn_attn.train) -------------------

ON_NONFINITE = ("stop", "skip")


def checkpoint_every_field() -> Any:
    """The experiment configs' ``--checkpoint-every`` flag."""
    return field(0, "also checkpoint every N optimizer steps within an epoch, so a killed "
                    "run loses at most N steps (0: at the end of each epoch only)")


def cpu_devices_field() -> Any:
    """The experiment configs' ``--cpu-devices`` flag."""
    return field(0, "on CPU, split the host into this many devices for the (seed, data) mesh "
                    "(0: as many as the mesh needs, at most one per core)")


def on_nonfinite_field() -> Any:
    """The experiment configs' ``--on-nonfinite`` flag."""
    return field("stop", "a training step whose loss or gradients go NaN/Inf: 'stop' "
                         "(error naming the step; the last checkpoint is kept) or 'skip' "
                         "(drop that update and go on)", choices=ON_NONFINITE)


def check_fit_flags(config: Any) -> None:
    """Validates the experiment flags ``--checkpoint-every`` and ``--on-nonfinite`` of a
    config that has them (ConfigError naming the flag and what was expected)."""
    every = config.checkpoint_every
    if not isinstance(every, int) or every < 0:
        raise ConfigError(f"--checkpoint-every must be an integer >= 0 (optimizer steps; 0: "
                          f"at epoch ends only), got {every!r}")
    if config.on_nonfinite not in ON_NONFINITE:
        raise ConfigError(f"--on-nonfinite must be one of {ON_NONFINITE}, got "
                          f"{config.on_nonfinite!r}")
