"""What the experiment modules share: parse flags, validate, set up devices, run."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable


def run_main(argv, *, description: str, config_cls, default_workdir: str,
             run: Callable[..., object], jobs: Callable[[object], int] = lambda cfg: 1,
             adjust: Callable | None = None, customize: Callable | None = None,
             exclude: tuple[str, ...] = ()) -> int:
    """Parses ``argv`` into ``config_cls``, prepares the work dir and the devices, then
    calls ``run(config, workdir, resume=..., progress=...)``. A bad flag, setting or input
    file gets one ``error:`` line and exit status 2, never a traceback.

    ``jobs(config)``: how many runs could go side by side; on CPU the host is split into
    that many devices (at most one per core) unless ``--cpu-devices`` says otherwise.
    """
    from rnn_attn import config as config_lib
    from rnn_attn import devices

    parser = config_lib.experiment_parser(description, config_cls, default_workdir, exclude)
    if customize is not None:  # an experiment's own flags, or different defaults
        parser = customize(parser)
    args = parser.parse_args(argv)
    try:
        if adjust is not None:
            adjust(args)
        cfg = config_lib.from_namespace(config_cls, args).validate()
        workdir = config_lib.prepare_workdir(args.workdir)
    except config_lib.ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    # Before JAX starts its backends: one CPU device per core lets runs go side by side.
    requested = getattr(cfg, "cpu_devices", 0) or max(1, min(jobs(cfg), os.cpu_count() or 1))
    devices.request_cpu_devices(requested)
    try:
        run(cfg, workdir, resume=args.resume, progress=args.progress)
    except config_lib.ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def run_sentiment(argv, *, description: str, config_cls, experiment: str, reference: str,
                  default_workdir: str, **options) -> int:
    """``run_main`` for the IMDB experiments (``sentiment.run_experiment``)."""

    def run(cfg, workdir, *, resume, progress):
        from rnn_attn import sentiment

        sentiment.run_experiment(cfg, workdir, experiment=experiment, reference=reference,
                                 resume=resume, progress=progress)

    return run_main(argv, description=description, config_cls=config_cls,
                    default_workdir=default_workdir, run=run,
                    jobs=lambda cfg: cfg.seeds * len(cfg.model_names), **options)
