"""Training the forecasters over seeds with the engine, and each seed's figures against the
(deterministic) common-sense baseline."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from experiments.weather.config import WeatherConfig, build_model
from experiments.weather.data import WeatherData


def train_models(config: WeatherConfig, data: WeatherData, *, workdir: str | None,
                 resume: bool, progress: bool, record: Mapping[str, Any],
                 device_settings=None) -> dict[str, list[dict[str, Any]]]:
    """Every model over every seed (one program per model, its seeds together); each
    seed's history, best epoch and the TEST MAE of its best epoch's parameters (the test
    split is touched once, with the epoch chosen on validation)."""
    from rnn_attn.parallel import distributed
    from rnn_attn.train import engine, runs
    from rnn_attn.train.feed import Split
    from rnn_attn.train.objectives import mean_absolute_error
    from rnn_attn.train.optimizers import keras_optimizer

    settings = device_settings or distributed.DeviceSettings()
    features = data.series.values.shape[1]
    models = {n: distributed.with_compute_dtype(build_model(n, config, features),
                                                settings.compute_dtype)
              for n in config.model_names}
    fit = {n: engine.FitConfig(
        seeds=tuple(config.first_seed + i for i in range(config.seeds)),
        epochs=config.epochs_for(n), batch_size=config.batch_size,
        eval_batch_size=config.eval_batch_size, monitor="val_mae", patience=config.patience,
        on_nonfinite=config.on_nonfinite, checkpoint_every=config.checkpoint_every)
        for n in config.model_names}
    results = runs.train_models(
        models, mean_absolute_error(), engine.FitData(Split(data.windows["training"]),
                                                      Split(data.windows["validation"])),
        fit, optimizer=keras_optimizer(config.optimizer, config.learning_rate),
        mesh=distributed.run_mesh(settings, config.seeds), workdir=workdir, record=record,
        resume=resume, progress=progress)
    out = {}
    for name, r in results.items():
        test = r.evaluate(Split(data.windows["test"]), config.eval_batch_size)
        out[name] = [{"model": name, "seed": seed, "history": r.history[i],
                      "best_epoch": r.best_epoch[i], "test_mae": test[i]["test_mae"]}
                     for i, seed in enumerate(r.seeds)]
    return out


def per_seed_metrics(runs: Sequence[Mapping[str, Any]], scale: float) -> dict[str, list]:
    """Each seed's figures, normalized and (suffix ``_c``) in degrees C."""
    out: dict[str, list] = {"best_epoch": []}
    for r in runs:
        h, b = r["history"], r["best_epoch"]
        out["best_epoch"].append(b)
        figures = {"val_mae_best": h["val_mae"][b - 1], "val_mae_final": h["val_mae"][-1],
                   "test_mae_best": r["test_mae"], "train_mae_final": h["mae"][-1]}
        for key, value in figures.items():
            out.setdefault(key, []).append(float(value))
            out.setdefault(f"{key}_c", []).append(float(value) * scale)
    return out


def versus_baseline(scores: Sequence[float], baseline: float, *, confidence: float = 0.95
                    ) -> dict[str, Any]:
    """A model's per-seed MAEs against the (deterministic) baseline's MAE on the same
    windows: the differences ``d_i = model_i - baseline`` (negative: the model is better),
    their mean with a t interval and a one-sample t-test of ``mean(d) = 0``.

    The only randomness this accounts for is the seed (initialization, dropout, shuffle):
    it says whether the training recipe reliably beats the baseline on THESE windows, not
    how the two would compare on other years' weather.
    """
    from rnn_attn.analysis import stats

    d = np.asarray(scores, np.float64) - float(baseline)
    out: dict[str, Any] = {"baseline": float(baseline), "differences": d.tolist(),
                           "mean_difference": float(d.mean()),
                           "seeds_better": int((d < 0).sum()), "seeds": int(d.size)}
    if d.size >= 2:
        low, high = stats.t_confidence_interval(d, confidence=confidence)
        sd = float(d.std(ddof=1))
        df = d.size - 1
        if sd > 0:
            t = float(d.mean() / (sd / math.sqrt(d.size)))
            p_two = min(1.0, 2.0 * stats.t_sf(abs(t), df))
            p_less = stats.t_cdf(t, df)
        else:  # every seed the same: no spread to test against
            t = math.copysign(math.inf, d.mean()) if d.mean() else math.nan
            p_two = p_less = math.nan
        out |= {"confidence": confidence, "ci_t_low": low, "ci_t_high": high,
                "t_statistic": t, "df": df, "p_value_two_sided": p_two,
                "p_value_model_better": p_less}
    return out
