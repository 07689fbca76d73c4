"""What the experiment modules share: parse flags, validate, set up devices, run."""

from __future__ import annotations

import sys
from collections.abc import Callable

# Experiments whose training goes through ``sentiment.run`` -> ``trainer.fit``, which
# honours the device flags (data mesh, multi-host, compute dtype); the others refuse
# non-default device flags with one line instead of ignoring them.
DEVICE_FLAG_RUNNERS = ("experiments._common", "experiments.imdb_glove")


def _module_of(fn: Callable) -> str:
    """The module that defines ``fn`` by its import name, also under ``python -m`` (where
    ``__module__`` is ``__main__``)."""
    spec = fn.__globals__.get("__spec__")
    return getattr(spec, "name", None) or fn.__module__


def run_main(argv, *, description: str, config_cls, default_workdir: str,
             run: Callable[..., object], jobs: Callable[[object], int] = lambda cfg: 1,
             adjust: Callable | None = None, customize: Callable | None = None,
             exclude: tuple[str, ...] = ()) -> int:
    """Parses ``argv`` into ``config_cls``, prepares the work dir and the devices, then
    calls ``run(config, workdir, resume=..., progress=...)``. A bad flag, setting or input
    file gets one ``error:`` line and exit status 2, never a traceback.

    ``jobs(config)``: how many runs could go side by side; on CPU the host is split into
    that many devices (at most one per core) unless ``--cpu-devices`` says otherwise, or
    into as many as ``--data-parallel N`` needs. ``--distributed`` joins the other
    processes (``jax.distributed``) before anything else touches JAX's backends.
    """
    from rnn_attn import config as config_lib
    from rnn_attn import devices, distributed

    parser = config_lib.experiment_parser(description, config_cls, default_workdir, exclude)
    if customize is not None:  # an experiment's own flags, or different defaults
        parser = customize(parser)
    args = parser.parse_args(argv)
    honours_flags = _module_of(run) in DEVICE_FLAG_RUNNERS
    settings = args.device_settings  # checked by the parser
    try:
        if adjust is not None:
            adjust(args)
        cfg = config_lib.from_namespace(config_cls, args).validate()
        if not settings.is_default and not honours_flags:
            raise config_lib.ConfigError(
                "--data-parallel, --distributed and --compute-dtype are not wired into this "
                "experiment's training; they apply to experiments.imdb, imdb_attention and "
                "imdb_glove (expected the defaults here)")
        if settings.mesh_devices > 0 and hasattr(cfg, "batch_size"):
            distributed.check_batch_size(cfg.batch_size, settings.mesh_devices)
        workdir = config_lib.prepare_workdir(args.workdir)
        config_lib.refuse_to_overwrite(workdir, args.resume)
    except config_lib.ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    # Before JAX starts its backends: one CPU device per core lets runs go side by side;
    # a data mesh needs its devices (this process's share of them).
    requested = getattr(cfg, "cpu_devices", 0) or distributed.local_device_request(
        settings, jobs(cfg))
    devices.request_cpu_devices(requested)
    distributed.initialize(settings)
    try:
        if settings.mesh_devices:  # a mis-sized mesh fails now, before any data is loaded
            distributed.data_mesh(settings.mesh_devices)
        options = {"device_settings": settings} if honours_flags else {}
        run(cfg, workdir, resume=args.resume, progress=args.progress, **options)
    except config_lib.ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def run_sentiment(argv, *, description: str, config_cls, experiment: str, reference: str,
                  default_workdir: str, **options) -> int:
    """``run_main`` for the IMDB experiments (``sentiment.run_experiment``)."""

    def run(cfg, workdir, *, resume, progress, device_settings):
        from rnn_attn import sentiment

        sentiment.run_experiment(cfg, workdir, experiment=experiment, reference=reference,
                                 resume=resume, progress=progress,
                                 device_settings=device_settings)

    return run_main(argv, description=description, config_cls=config_cls,
                    default_workdir=default_workdir, run=run,
                    jobs=lambda cfg: cfg.seeds * len(cfg.model_names), **options)
