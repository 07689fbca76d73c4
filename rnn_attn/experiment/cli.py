"""The command line of every experiment: flags generated from the config dataclasses
(``rnn_attn.config.field``), the device flags declared the same way, and ``main``.

``main(spec, argv)`` parses the flags into the experiment's config and a
``DeviceSettings``, validates both, opens the run's context (``context.open_run``: the
devices, ``jax.distributed``, the mesh, the work dir) and hands it to the shared runner.
A bad flag, setting or input file gets one ``error:`` line and exit status 2, never a
traceback, and leaves the work dir as it was. A relative path (``--workdir``,
``--data-dir``, ``--text``, ``--data``, ``--glove`` with a directory part) is made
absolute once, from the directory the command ran in, as the flags are parsed. A run that
cannot write (disk full, a read-only directory) stops with one ``error:`` line naming
the path and the checkpoints it kept (exit status 1).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import typing
from typing import Any

from rnn_attn import seed_sources
from rnn_attn.config import MAX_SEEDS, ConfigError, check_fields, field, scalar_type
from rnn_attn.experiment import sweep as sweeps
from rnn_attn.parallel.distributed import COMPUTE_DTYPES, resolve_coordinator
from rnn_attn.train import workdir as workdirs


@dataclasses.dataclass(frozen=True)
class DeviceSettings:
    """How a run uses devices and hosts (see docs/tpu.md). They change where a run
    computes, not what it computes (up to float rounding; ``compute_dtype`` aside), so
    they are not part of the config a resume compares."""

    seed_parallel: int = field(
        0,
        "devices on the mesh's 'seed' axis: the seeds are split over K devices, each "
        "training its share in one program; must divide --seeds; 0: as many as divide the "
        "seeds and fit the devices",
        minimum=0,
        why="0: as many devices as divide the seeds",
    )
    data_parallel: int = field(
        0,
        "devices on the mesh's 'data' axis: every seed's batch is split over M devices "
        "(parameters replicated, gradients all-reduced); -1: every device not on the seed "
        "axis; 0: no split. The mesh uses K x M devices",
        minimum=-1,
        why="-1: every device, 0: off, N: N devices",
    )
    distributed: bool = field(
        False,
        "join a multi-host run with jax.distributed.initialize (TPU pod slice, "
        "several GPU hosts, several local processes); implies --data-parallel -1 unless given",
    )
    coordinator_address: str = field(
        "",
        "process 0's address HOST:PORT for --distributed (default "
        "$JAX_COORDINATOR_ADDRESS; 'auto': detected on TPU pods, Slurm, Open MPI)",
    )
    num_processes: int = field(
        0, "processes in the --distributed run (default $JAX_NUM_PROCESSES)", minimum=0
    )
    process_id: int = field(
        -1, "this process's index, 0 .. N-1 (default $JAX_PROCESS_ID)", minimum=-1
    )
    coordinator_timeout: int = field(
        300,
        "seconds --distributed waits for the coordinator and every process before it "
        "gives up with one error line",
        minimum=1,
    )
    compute_dtype: str = field(
        "float32",
        "dtype of the models' matmuls and states; "
        "parameters, loss, gradients and optimizer stay float32",
        choices=COMPUTE_DTYPES,
    )

    def validate(self) -> DeviceSettings:
        """Raises ConfigError naming the first bad value."""
        check_fields(self)
        if self.distributed:
            resolve_coordinator(self)
            return self
        given = [
            flag
            for flag, value, unset in (
                ("--coordinator-address", self.coordinator_address, ""),
                ("--num-processes", self.num_processes, 0),
                ("--process-id", self.process_id, -1),
                ("--coordinator-timeout", self.coordinator_timeout, 300),
            )
            if value != unset
        ]
        if given:  # a multi-host flag alone would be ignored without a word
            raise ConfigError(
                f"{given[0]} applies to a multi-host run only; expected "
                f"--distributed with it, or no {given[0]}"
            )
        return self

    @property
    def mesh_devices(self) -> int:
        """Devices on the ``data`` axis: 0 (no data mesh), -1 (all) or N. A distributed run
        is data-parallel over every process's devices unless told otherwise."""
        return self.data_parallel or (-1 if self.distributed else 0)


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """What the command asks of the run beside its config: where and how it runs."""

    workdir: str
    resume: bool
    progress: bool
    devices: DeviceSettings
    sweep: Any = None  # experiment.sweep.Grid: the settings each model is tuned over


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad flag gets one line (``error: ...``) instead of usage + error."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"error: {message} (see --help)\n")


# Config fields that name a file or directory, made absolute from the directory the
# command ran in, once, as the flags are parsed (nothing later resolves them against
# another directory). A ``--glove`` without a directory part is a file name in --data-dir.
PATH_FIELDS = ("data_dir", "text", "data")
NAME_OR_PATH_FIELDS = ("glove",)


def absolute_paths(cfg: Any) -> Any:
    """``cfg`` with its path fields (``PATH_FIELDS``, and ``NAME_OR_PATH_FIELDS`` with a
    directory part) absolute; empty ones (the experiment's default file) stay empty."""
    changes = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if not isinstance(value, str) or not value:
            continue
        if f.name in PATH_FIELDS or (f.name in NAME_OR_PATH_FIELDS and os.path.dirname(value)):
            changes[f.name] = os.path.abspath(os.path.expanduser(value))
    return dataclasses.replace(cfg, **changes) if changes else cfg


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_arguments(parser, config_cls: type, exclude: tuple[str, ...] = ()) -> None:
    """Adds a ``--flag`` for every field of ``config_cls`` not in ``exclude``."""
    hints = typing.get_type_hints(config_cls)
    for f in dataclasses.fields(config_cls):
        if f.name in exclude:
            continue
        kind, help_text = scalar_type(hints[f.name]), f.metadata.get("help", "")
        if kind is bool:
            parser.add_argument(
                _flag(f.name),
                dest=f.name,
                default=f.default,
                action=argparse.BooleanOptionalAction,
                help=help_text,
            )
        else:
            parser.add_argument(
                _flag(f.name),
                dest=f.name,
                type=kind,
                default=f.default,
                choices=f.metadata.get("choices"),
                help=help_text,
                metavar=f.name.upper(),
            )


def build_parser(spec) -> ArgumentParser:
    """Every flag of ``spec``'s experiment: the run's (work dir, resume, progress), the
    device flags, one per config field, ``--local`` and the experiment's own."""
    parser = ArgumentParser(
        description=spec.description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--workdir",
        default=spec.default_workdir,
        help="directory that receives everything the run writes",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from the checkpoints in --workdir",
    )
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=True, help="show progress bars"
    )
    add_arguments(parser.add_argument_group("devices and hosts (see docs/tpu.md)"), DeviceSettings)
    add_arguments(parser, spec.config, spec.exclude)
    parser.add_argument(
        "--sweep",
        action="append",
        default=argparse.SUPPRESS,  # no "(default: None)" in --help
        metavar="NAME=V1,V2,...",
        help=sweeps.help_text(spec),
    )
    if spec.local:
        shown = ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in spec.local.items())
        parser.add_argument(
            "--local",
            action="store_true",
            help=f"a quick check: defaults {shown} (flags given still win)",
        )
    return spec.customize(parser) if spec.customize else parser


def parse(spec, argv: list[str] | None) -> tuple[Any, RunOptions]:
    """``(config, options)`` from ``argv``, both validated (ConfigError otherwise)."""
    parser = build_parser(spec)
    args = parser.parse_args(argv)
    if spec.local and args.local:
        parser.set_defaults(**spec.local)  # flags given on the command line still win
        args = parser.parse_args(argv)
    if spec.adjust is not None:
        spec.adjust(args)
    grid_seeds(parser, argv, args)
    values = vars(args)
    devices = DeviceSettings(
        **{f.name: values[f.name] for f in dataclasses.fields(DeviceSettings)}
    ).validate()
    cfg = spec.config(**{f.name: values[f.name] for f in dataclasses.fields(spec.config)})
    workdir = workdirs.absolute_workdir(args.workdir)
    cfg = absolute_paths(cfg).validate()
    grid = sweeps.parse(spec, cfg, getattr(args, "sweep", None))
    return cfg, RunOptions(workdir, args.resume, args.progress, devices, grid)


def grid_seeds(parser: ArgumentParser, argv: list[str] | None, args: Any) -> None:
    """With ``--seeds-by-source``, ``--seeds`` is the grid's number of runs: set here (over
    any default, ``--local``'s too); a ``--seeds`` given with it must be that number."""
    text = getattr(args, "seeds_by_source", "")
    if not text:
        return
    runs = seed_sources.count_runs(text, max_runs=MAX_SEEDS)
    given = parser.parse_args(argv, namespace=argparse.Namespace(seeds=None)).seeds
    if given is not None and given != runs:
        raise ConfigError(
            f"--seeds {given} disagrees with {seed_sources.FLAG} {text!r} ({runs} runs); "
            f"expected --seeds {runs} or no --seeds"
        )
    args.seeds = runs


def main(spec, argv: list[str] | None = None) -> int:
    """Runs the experiment ``spec`` (an ``experiment.spec.Experiment``) from the command
    line; exit status 0, or 2 with one ``error:`` line."""
    from rnn_attn.experiment import context, runner, tuning

    try:
        cfg, options = parse(spec, argv)
    except ConfigError as e:
        return refuse(e)
    from rnn_attn.train.checkpoints import CheckpointWriteError

    try:
        with context.open_run(spec.name, cfg, options) as ctx:
            # With --sweep each model is tuned first (experiment.tuning), then run plainly.
            (runner.run if ctx.sweep is None else tuning.run)(spec, cfg, ctx)
    except ConfigError as e:
        return refuse(e)
    except (OSError, CheckpointWriteError) as e:
        refuse(stopped(e, options.workdir))
        return 1
    return 0


def stopped(error: Exception, workdir: str) -> str:
    """The line for a run stopped by a failed write or read (disk full, a read-only
    directory ...): the path, why, and the checkpoints kept to resume from."""
    cause = error if isinstance(error, OSError) else error.__cause__
    if isinstance(cause, OSError) and cause.filename is not None:
        path, reason = os.fsdecode(cause.filename), cause.strerror or str(cause)
    else:
        path, reason = getattr(error, "directory", workdir), str(cause or error)
    try:
        kept = workdirs.newest_checkpoints(workdir)
    except OSError:  # the work dir itself cannot be read: say nothing of what it holds
        kept = []
    saved = (
        f"the checkpoints saved are kept (newest: {', '.join(repr(k) for k in kept)})"
        if kept
        else "no checkpoint had been saved yet"
    )
    advice = "free space or fix the permissions, then continue with --resume"
    return f"the run stopped: {path!r}: {reason}; {saved}; {advice}"


def refuse(error: Exception) -> int:
    """Prints ``error`` as one ``error:`` line (a library's message may span several)."""
    message = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
    print(f"error: {message}", file=sys.stderr)
    return 2
