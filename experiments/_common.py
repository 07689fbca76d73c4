"""What the experiment modules share: parse flags, validate, set up devices, run."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable


def run_main(argv, *, experiment: str, description: str, config_cls, default_workdir: str,
             run: Callable[..., object], jobs: Callable[[object], int] = lambda cfg: 1,
             adjust: Callable | None = None, customize: Callable | None = None,
             exclude: tuple[str, ...] = (), check_devices: Callable | None = None,
             local: dict | None = None) -> int:
    """Parses ``argv`` into ``config_cls``, prepares the work dir and the devices, then
    calls ``run(config, workdir, resume=..., progress=...)``. A bad flag, setting or input
    file gets one ``error:`` line and exit status 2, never a traceback.

    The run holds the work dir's lock while it lives and records itself there first as
    ``experiment`` with its config (``rnn_attn.train.workdir``): another live run, a
    resume of another experiment or config, or a new run into a dir that holds one is
    refused before anything is written.

    ``jobs(config)``: how many seeds the run trains; on CPU the host is split into the
    devices of the ``(seed, data)`` mesh (``distributed.local_device_request``) unless
    ``--cpu-devices`` says otherwise. The mesh's shape is checked (against the seeds and
    ``batch_size``) before anything is written. ``--distributed`` joins the other
    processes (``jax.distributed``) before anything else touches JAX's backends.
    ``check_devices(settings, config)``: refuses device flags the experiment cannot
    honour, or cannot honour with this config (ConfigError). ``local``: the config's
    quick variant, flag defaults that ``--local`` applies (flags given still win).
    """
    from rnn_attn import config as config_lib
    from rnn_attn.parallel import devices, distributed
    from rnn_attn.parallel.mesh import check_divisible

    parser = config_lib.experiment_parser(description, config_cls, default_workdir, exclude)
    if customize is not None:  # an experiment's own flags, or different defaults
        parser = customize(parser)
    args = _parse(parser, argv, local)
    settings = args.device_settings  # checked by the parser
    try:
        cfg = _checked_config(args, config_cls, settings, jobs, adjust, check_devices)
    except config_lib.ConfigError as e:
        return _refuse(e)
    # Before JAX starts its backends: the CPU devices of the mesh (this process's share).
    requested = getattr(cfg, "cpu_devices", 0) or distributed.local_device_request(
        settings, jobs(cfg))
    devices.request_cpu_devices(requested)
    distributed.initialize(settings)
    try:  # the mesh, the batch split and the work dir are checked before anything is written
        mesh = distributed.run_mesh(settings, jobs(cfg))
        if hasattr(cfg, "batch_size"):
            check_divisible(cfg.batch_size, mesh)  # with --data-parallel -1: the mesh's M
        workdir = config_lib.prepare_workdir(args.workdir)
        with _owned(workdir, experiment, config_lib.to_dict(cfg), args.resume):
            run(cfg, workdir, resume=args.resume, progress=args.progress,
                device_settings=settings)
    except config_lib.ConfigError as e:
        return _refuse(e)
    return 0


@contextlib.contextmanager
def _owned(workdir: str, experiment: str, record: dict, resume: bool):
    """The work dir locked and claimed for this run (by process 0 of a multi-host run)."""
    from rnn_attn import config as config_lib
    from rnn_attn.parallel import distributed
    from rnn_attn.train import workdir as workdirs

    if not distributed.is_primary():
        yield
        return
    config_lib.refuse_to_overwrite(workdir, resume)
    with workdirs.owned(workdir, experiment, record, resume=resume):
        yield


def _parse(parser, argv, local: dict | None):
    """Parses ``argv``; with ``--local``, the quick variant's defaults apply first."""
    if local:
        add_local_flag(parser, local)
    args = parser.parse_args(argv)
    if local and args.local:
        parser.set_defaults(**local)  # flags given on the command line still win
        args = parser.parse_args(argv)
    return args


def _checked_config(args, config_cls, settings, jobs: Callable, adjust: Callable | None,
                    check_devices: Callable | None):
    """The validated config, with the device flags checked against it (ConfigError)."""
    from rnn_attn import config as config_lib
    from rnn_attn.parallel import distributed
    from rnn_attn.parallel.mesh import mesh_shape

    if adjust is not None:
        adjust(args)
    cfg = config_lib.from_namespace(config_cls, args).validate()
    if check_devices is not None:
        check_devices(settings, cfg)
    if settings.mesh_devices > 0 and hasattr(cfg, "batch_size"):
        distributed.check_batch_size(cfg.batch_size, settings.mesh_devices)
    if settings.seed_parallel:  # before asking JAX for that many CPU devices
        data = max(settings.mesh_devices, 0)
        mesh_shape(jobs(cfg), settings.seed_parallel * max(data, 1),
                   seed_parallel=settings.seed_parallel, data_parallel=data)
    return cfg


def add_local_flag(parser, local: dict) -> None:
    """``--local``: the quick variant of the experiment's config (``config.LOCAL``)."""
    shown = ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in local.items())
    parser.add_argument("--local", action="store_true",
                        help=f"a quick check: defaults {shown} (flags given still win)")


def _refuse(error: Exception) -> int:
    # One line, whatever the message (a library's may span several).
    message = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
    print(f"error: {message}", file=sys.stderr)
    return 2


def check_seed_loop(settings, cfg) -> None:
    """``check_devices`` for a config with ``seed_loop``: ``map`` cannot split a batch."""
    from rnn_attn.config import ConfigError

    if cfg.seed_loop == "map" and settings.mesh_devices not in (0, 1):
        raise ConfigError(
            f"--seed-loop map runs each device's seeds one after another and cannot split a "
            f"batch over --data-parallel {settings.mesh_devices}; expected --seed-loop vmap "
            f"or auto")
