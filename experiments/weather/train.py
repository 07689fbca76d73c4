"""The forecasters over seeds against the (deterministic) common-sense baseline: the
data and models for the shared runner, and each seed's figures."""

from __future__ import annotations

from experiments.weather import config as weather_config
from experiments.weather import report
from experiments.weather.config import WeatherConfig, build_model
from experiments.weather.data import WeatherData, data_record, prepare_data
from rnn_attn.analysis.baselines import versus_baseline
from rnn_attn.experiment.spec import Experiment, Setup, Sweepable, describe
from rnn_attn.train import engine
from rnn_attn.train.feed import Split
from rnn_attn.train.objectives import mean_absolute_error
from rnn_attn.train.optimizers import keras_optimizer


def optimizer(cfg: WeatherConfig):
    """``--optimizer`` with Keras's defaults at ``--learning-rate``."""
    return keras_optimizer(cfg.optimizer, cfg.learning_rate)


def build(cfg: WeatherConfig, ctx) -> Setup:
    """The windows of each split, the baseline on them, a model per name (each with its
    document epochs unless ``--epochs``), MAE with the Keras optimizer."""
    data = prepare_data(cfg)
    baseline = {
        s: {"mae": b.normalized, "mae_c": b.in_units, "windows": b.windows}
        for s, b in data.baseline.items()
    }
    report.describe_data(cfg, data, baseline)
    features = data.series.values.shape[1]
    return Setup(
        models={n: build_model(n, cfg, features) for n in cfg.model_names},
        data=engine.FitData(Split(data.windows["training"]), Split(data.windows["validation"])),
        objective=mean_absolute_error(),
        optimizer=optimizer(cfg),
        fit={"monitor": "val_mae"},
        fit_per_model={n: {"epochs": cfg.epochs_for(n)} for n in cfg.model_names},
        record={"data": data_record(cfg, data), "baseline": baseline},
        reference_model="gru" if "gru" in cfg.model_names else None,
        extras=data,
        data_files=[data.path],
    )


def evaluate(cfg: WeatherConfig, setup: Setup, name: str, fit: engine.FitResult) -> dict:
    """Each seed's figures, normalized and (suffix ``_c``) in degrees C: VALIDATION MAE at
    the best epoch and the last, the TEST MAE of the best epoch's parameters (the test
    split touched once), the TRAINING MAE of the last epoch; each against the baseline."""
    data: WeatherData = setup.extras
    test = fit.evaluate(Split(data.windows["test"]), cfg.eval_batch_size)
    per_seed: dict[str, list] = {"best_epoch": list(fit.best_epoch)}
    for i, (h, b) in enumerate(zip(fit.history, fit.best_epoch, strict=True)):
        figures = {
            "val_mae_best": h["val_mae"][b - 1],
            "val_mae_final": h["val_mae"][-1],
            "test_mae_best": test[i]["test_mae"],
            "train_mae_final": h["mae"][-1],
        }
        for key, value in figures.items():
            per_seed.setdefault(key, []).append(float(value))
            per_seed.setdefault(f"{key}_c", []).append(float(value) * data.scale)
    baseline = setup.record["baseline"]
    return {
        "per_seed": per_seed,
        "history_per_seed": fit.history,
        "vs_baseline": {
            key: versus_baseline(per_seed[key], baseline[split]["mae_c"])
            for key, split in (
                ("val_mae_best_c", "validation"),
                ("val_mae_final_c", "validation"),
                ("test_mae_best_c", "test"),
            )
        },
    }


EXPERIMENT = Experiment(
    name="weather",
    config=WeatherConfig,
    build=build,
    evaluate=evaluate,
    metrics=report.METRICS,
    compare=(report.HEADLINE,),
    summarize=report.SUMMARIZED,
    report=report.report,
    reference=weather_config.REFERENCE,
    description=describe(weather_config.__doc__),
    default_workdir="runs/weather",
    local=weather_config.LOCAL,
    # Selected on the validation windows; the test windows are the selected setting's.
    sweep=Sweepable(optimizer, model_arguments=("dropout", "recurrent_dropout")),
)
