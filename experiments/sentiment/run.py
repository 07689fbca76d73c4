"""An IMDB comparison from its config to results.json."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import jax

from experiments._common import check_seed_loop, run_main
from experiments.sentiment.config import build_model
from experiments.sentiment.report import (
    compare_models,
    metric_notes,
    model_report,
    print_report,
    write_plots,
)
from experiments.sentiment.train import load_arrays, run
from rnn_attn.analysis.results import print_written, write_results
from rnn_attn.models.summary import parameter_count
from rnn_attn.parallel import distributed
from rnn_attn.train import engine
from rnn_attn.train.feed import Split


def run_experiment(config, workdir: str, *, experiment: str, reference: str,
                   resume: bool = False, progress: bool = True,
                   models: Mapping[str, Any] | None = None,
                   data: engine.FitData | None = None,
                   data_description: str = "",
                   device_settings: distributed.DeviceSettings | None = None) -> dict:
    """Trains every model over every seed, prints the report and writes ``results.json``,
    ``history.png`` and ``accuracy_by_seed.png`` into ``workdir``.

    By default the models are ``config.model_names`` from the registry and the data the
    Keras pipeline of ``load_arrays``; an experiment with its own passes ``models``,
    ``data`` (an ``engine.FitData``, per-seed rows allowed) and a ``data_description``.
    """
    import time

    from rnn_attn.analysis import stats
    from rnn_attn.parallel import devices

    start = time.perf_counter()
    record = dataclasses.asdict(config)
    if models is None:
        models = {name: build_model(name, config) for name in config.model_names}
    if data is None:
        train, validation, val_description = load_arrays(config)
        data = engine.FitData(Split(train), Split(validation))
        data_description = (f"{len(train['targets']):,} training reviews; validation on "
                            f"{val_description}")
    info = devices.describe_devices()
    print(f"{experiment}: models {list(models)} x {config.seeds} seeds, {config.epochs} "
          f"epochs, {data_description}; {info['device_count']} {info['platform']} device(s)")
    counts = {name: parameter_count(model.init(jax.random.PRNGKey(0)))
              for name, model in models.items()}
    for name, count in counts.items():
        print(f"  {name}: {count:,} parameters")
    runs = run(config, models, data, workdir=workdir, resume=resume, progress=progress,
               record=record, device_settings=device_settings)
    reports = {name: model_report(config, seed_runs, counts[name])
               for name, seed_runs in runs.items()}
    comparison = compare_models(config, reports)
    if not distributed.is_primary():  # process 0 writes the report and the files
        return {"experiment": experiment, "models": reports, "comparison": comparison}
    files = write_plots(experiment, config, workdir, runs, reports)
    results = {"experiment": experiment, "reference": reference, "config": record,
               "data": data_description, "devices": info,
               "metrics": metric_notes(config, data_description), "models": reports,
               "comparison": comparison,
               "timing_seconds": round(time.perf_counter() - start, 1), "files": files}
    path = write_results(workdir, results)
    print_report(config, reports, comparison, stats)
    print_written(path, files, results["timing_seconds"])
    return results


def run_sentiment(argv, *, description: str, config_cls, experiment: str, reference: str,
                  default_workdir: str, **options) -> int:
    """``run_main`` for the IMDB experiments (``run_experiment``)."""

    def run(cfg, workdir, *, resume, progress, device_settings):
        run_experiment(cfg, workdir, experiment=experiment, reference=reference,
                       resume=resume, progress=progress, device_settings=device_settings)

    return run_main(argv, experiment=experiment, description=description, config_cls=config_cls,
                    default_workdir=default_workdir, run=run, jobs=lambda cfg: cfg.seeds,
                    check_devices=check_seed_loop, **options)
