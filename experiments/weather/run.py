"""The weather experiment from a config to ``results.json``: load, train, report, write."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping
from typing import Any

import jax

from experiments.weather.config import HEADLINE, REFERENCE, WeatherConfig, build_model
from experiments.weather.data import WeatherData, prepare_data
from experiments.weather.report import plot_history, plot_series, print_report
from experiments.weather.train import per_seed_metrics, train_models, versus_baseline
from rnn_attn.analysis import plots, stats
from rnn_attn.analysis.results import print_written, write_results
from rnn_attn.models.summary import parameter_count
from rnn_attn.parallel import devices, distributed

METRICS = {
    "val_mae_best": "VALIDATION MAE (normalized) at the epoch with the lowest validation MAE "
                    "(optimistic: the epoch is chosen on it)",
    "best_epoch": "that epoch (1-based)",
    "val_mae_final": "VALIDATION MAE after the last epoch (no selection)",
    "test_mae_best": "TEST MAE of the best epoch's parameters (chosen on validation)",
    "train_mae_final": "TRAINING MAE: running average over the last epoch, dropout on (as "
                       "Keras prints it); not a generalization figure",
    "*_c": "the same in degrees C (normalized x the target's training std)",
    "vs_baseline": "per-seed model MAE minus the baseline's MAE on the same windows (negative: "
                   "better), t interval and one-sample t-test over seeds",
}


def describe_data(config: WeatherConfig, data: WeatherData, baseline: Mapping) -> None:
    """Prints the series, the splits, the unit and the baseline before training."""
    info = devices.describe_devices()
    features = data.series.values.shape[1]
    print(f"weather: {os.path.basename(data.path)} ({len(data.series):,} rows, {features} "
          f"features, target {data.series.target_name!r}); lookback {config.lookback}, step "
          f"{config.step}, delay {config.delay} rows; {info['device_count']} "
          f"{info['platform']} device(s)")
    for s in data.splits:
        print(f"  {s.name:>10}: rows [{s.start}, {s.stop}), "
              f"{len(data.windows[s.name]['targets']):,} windows")
    print(f"  1 normalized unit of the target = {data.scale:.3f} C (training rows' std)")
    print(f"  common-sense baseline MAE: validation {baseline['validation']['mae']:.4f} "
          f"({baseline['validation']['mae_c']:.3f} C), test {baseline['test']['mae']:.4f} "
          f"({baseline['test']['mae_c']:.3f} C)")


def model_report(name: str, config: WeatherConfig, seed_runs: list, scale: float,
                 baseline: Mapping, parameters: int) -> dict[str, Any]:
    """One model's per-seed figures, their summary and each against the baseline."""
    per_seed = per_seed_metrics(seed_runs, scale)
    validation, test = baseline["validation"]["mae_c"], baseline["test"]["mae_c"]
    entry: dict[str, Any] = {
        "seeds": [r["seed"] for r in seed_runs], "parameters": parameters,
        "per_seed": per_seed, "history_per_seed": [r["history"] for r in seed_runs],
        "vs_baseline": {
            "val_mae_best_c": versus_baseline(per_seed["val_mae_best_c"], validation),
            "val_mae_final_c": versus_baseline(per_seed["val_mae_final_c"], validation),
            "test_mae_best_c": versus_baseline(per_seed["test_mae_best_c"], test)},
    }
    if config.seeds >= 2:
        entry["summary"] = {k: stats.describe(v) for k, v in per_seed.items()
                            if k != "best_epoch"}
    return entry


def write_plots(config: WeatherConfig, workdir: str, runs: Mapping, models: Mapping,
                baseline: Mapping, data: WeatherData) -> dict[str, str]:
    intervals = {n: (m["summary"][HEADLINE]["ci_t_low"], m["summary"][HEADLINE]["ci_t_high"])
                 for n, m in models.items() if "summary" in m}
    return {
        "history": plot_history(
            {n: [r["history"] for r in rs] for n, rs in runs.items()},
            baseline["validation"]["mae_c"], data.scale, os.path.join(workdir, "history.png"),
            title=f"weather: TRAINING (dashed, running average, dropout on) vs VALIDATION "
                  f"(solid) MAE,\nmean and min-max over {config.seeds} seed(s)"),
        "mae_by_seed": plots.scores_by_seed(
            {"baseline": [baseline["validation"]["mae_c"]],
             **{n: m["per_seed"][HEADLINE] for n, m in models.items()}},
            os.path.join(workdir, "mae_by_seed.png"),
            ylabel="validation MAE at the best epoch (C)", intervals=intervals,
            title="weather: validation MAE per seed (baseline: deterministic)"),
        "temperature": plot_series(data, os.path.join(workdir, "temperature.png")),
    }


def data_record(config: WeatherConfig, data: WeatherData) -> dict[str, Any]:
    series = data.series
    return {"path": data.path, "format": config.format, "rows": len(series),
            "columns": list(series.columns), "target": series.target_name,
            "steps_per_hour": series.steps_per_hour,
            "target_mean": float(data.normalizer.mean[series.target_index]),
            "target_std_c_per_unit": data.scale,
            "splits": {s.name: {"rows": [s.start, s.stop],
                                "windows": int(len(data.windows[s.name]["targets"]))}
                       for s in data.splits}}


def run_experiment(config: WeatherConfig, workdir: str, *, resume: bool = False,
                   progress: bool = True, device_settings=None) -> dict[str, Any]:
    """Loads the data, trains every model over every seed, prints the report and writes
    ``results.json``, ``history.png`` and ``mae_by_seed.png`` into ``workdir``."""
    start = time.perf_counter()
    data = prepare_data(config)
    baseline = {s: {"mae": b.normalized, "mae_c": b.in_units, "windows": b.windows}
                for s, b in data.baseline.items()}
    describe_data(config, data, baseline)
    features = data.series.values.shape[1]
    counts = {n: parameter_count(build_model(n, config, features).init(jax.random.PRNGKey(0)))
              for n in config.model_names}
    for name, count in counts.items():
        print(f"  {name}: {count:,} parameters")
    record = dataclasses.asdict(config)
    runs = train_models(config, data, workdir=workdir, resume=resume, progress=progress,
                        record=record, device_settings=device_settings)
    models = {n: model_report(n, config, rs, data.scale, baseline, counts[n])
              for n, rs in runs.items()}
    comparison = None
    if len(models) >= 2 and config.seeds >= 2:
        reference = "gru" if "gru" in models else config.model_names[0]
        comparison = {"metric": HEADLINE, "reference_model": reference, **stats.compare_many(
            {n: m["per_seed"][HEADLINE] for n, m in models.items()}, baseline=reference)}
    if not distributed.is_primary():  # process 0 writes the report and the files
        return {"experiment": "weather", "models": models, "comparison": comparison}
    files = write_plots(config, workdir, runs, models, baseline, data)
    results = {"experiment": "weather", "reference": REFERENCE, "config": record,
               "data": data_record(config, data), "devices": devices.describe_devices(),
               "baseline": baseline, "metrics": METRICS, "models": models,
               "comparison": comparison,
               "timing_seconds": round(time.perf_counter() - start, 1), "files": files}
    path = write_results(workdir, results)
    print_report(config, baseline, models, comparison)
    print_written(path, files, results["timing_seconds"])
    return results


def main(argv: list[str] | None = None) -> int:
    from experiments._common import run_main

    return run_main(argv, experiment="weather",
                    description="Temperature forecasting 24 hours ahead with dense and "
                    "GRU models (reference document 002).", config_cls=WeatherConfig,
                    default_workdir="runs/weather", run=run_experiment,
                    jobs=lambda cfg: cfg.seeds)
