"""Temperature forecasting 24 hours ahead with dense and GRU models (reference document 002).

    python -m experiments.weather --workdir runs/weather [--models gru,...] [--seeds 3]

Document 002 (after Chollet, "Deep Learning with R" 6.3) forecasts the Jena temperature
24 h ahead from 10 days of history and compares a small dense network and GRUs (plain,
with dropout, stacked, bidirectional) against the common-sense baseline "tomorrow at
this hour = now". The Jena file is not available here, so the default data is the real
NREL TMY3 hourly record of Greensboro, NC (8,760 rows, one typical year; target
``Dry-bulb (C)``, the 13 measured weather columns of ``rnn_attn.data.weather.TMY3_FEATURES``
as inputs).

Defaults, and why: rows are already hourly, so ``--step 1``; ``--delay 24`` (24 h, as the
lecture); ``--lookback 120`` (5 days: five daily cycles and a passing weather system;
the lecture's 10 days would leave one year of data 2 x 120 fewer windows per split and
double the cost on CPU). Chronological split: the first 60% of the rows train (Jan-Aug),
the next 20% validate (Aug-Oct), the last 20% test (Oct-Dec); the normalizer is fitted
on the training rows only, and every window's inputs AND target lie inside its own split
(the lecture lets the last training targets reach 24 h into the validation rows).
Training: MAE loss, RMSprop (Keras defaults), batch 128, 20 epochs; each epoch visits
EVERY training window once in a seeded shuffled order (our batching, not the lecture's
500 random draws per epoch: with one year, an epoch is about 40 batches). Validation on
every validation window after each epoch; the best epoch (lowest validation MAE) is
evaluated once on the test windows.

The lecture's Jena settings, for a user who has ``jena_climate_2009_2016.csv``:
``--format jena --data PATH --lookback 1440 --step 6 --delay 144 --train-end 200000
--validation-end 300000`` (features: the 14 measurements; target ``T (degC)``).

Writes to --workdir: results.json (config, the baseline, models.<name>.per_seed.<metric>
in normalized units and degrees C, statistics over seeds, each model vs the baseline),
history.png, mae_by_seed.png, and Orbax checkpoints (checkpoints/<model>/, every seed in
one, after each epoch; --resume continues from them).
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rnn_attn.config import (
    ConfigError,
    check_fit_flags,
    checkpoint_every_field,
    cpu_devices_field,
    field,
    on_nonfinite_field,
    require,
)
from rnn_attn.models.forecasters import FORECASTERS, make_forecaster
from rnn_attn.results import print_written, write_results
from rnn_attn.training import KERAS_OPTIMIZERS

FORMATS = ("tmy3", "jena")
DEFAULT_FILES = {"tmy3": "tmy3_723170_greensboro_nc.csv", "jena": "jena_climate_2009_2016.csv"}
DEFAULT_TARGETS = {"tmy3": "Dry-bulb (C)", "jena": "T (degC)"}
REFERENCE = ("document 002 (Jena, one run each): common-sense baseline MAE 0.29 normalized "
             "(about 2.57 C); GRU(32) about 0.265 validation MAE")
HEADLINE = "val_mae_best_c"


@dataclasses.dataclass(frozen=True)
class WeatherConfig:
    """Settings of a forecasting comparison (defaults: the TMY3 record, see the module doc)."""

    models: str = field("dense,gru,gru_dropout,gru_stacked,gru_bidirectional",
                        f"comma-separated models from {sorted(FORECASTERS)}")
    seeds: int = field(3, "independent repeats per model")
    first_seed: int = field(0, "seed of the first repeat; repeat i uses first_seed + i")
    data: str = field("", "the weather CSV (default: the --format's file in $RNN_ATTN_DATA "
                          "or ../shared/data)")
    format: str = field("tmy3", f"layout of --data, one of {FORMATS}", choices=FORMATS)
    target: str = field("", "target column (default: 'Dry-bulb (C)' for tmy3, 'T (degC)' "
                            "for jena)")
    columns: str = field("", "comma-separated input columns, the target among them "
                             "(default: tmy3's 13 measured columns / every jena column)")
    lookback: int = field(120, "rows of history per window (tmy3: hours; jena: 10 minutes)")
    step: int = field(1, "keep every step-th row of the window (jena: 6, hourly)")
    delay: int = field(24, "forecast this many rows after the window's end (jena: 144)")
    train_fraction: float = field(0.6, "first fraction of the rows for training")
    validation_fraction: float = field(0.2, "next fraction for validation (the rest: test)")
    train_end: int = field(0, "training rows [0, train_end) (0: use --train-fraction)")
    validation_end: int = field(0, "validation rows [train_end, validation_end) (0: use "
                                   "--validation-fraction)")
    epochs: int = field(20, "training epochs, each over every training window once")
    batch_size: int = field(128, "training batch size")
    eval_batch_size: int = field(1024, "batch size for validation and test (no effect on "
                                       "results)")
    optimizer: str = field("rmsprop", f"one of {KERAS_OPTIMIZERS} (Keras defaults)")
    learning_rate: float = field(1e-3, "optimizer learning rate")
    patience: int = field(0, "stop after this many epochs without a better validation MAE "
                             "(0: never)")
    checkpoint_every: int = checkpoint_every_field()
    on_nonfinite: str = on_nonfinite_field()
    reset_after: bool = field(True, "Keras 2 GRU (True) or the original GRU of the R "
                                    "lecture's Keras (False)")
    cpu_devices: int = cpu_devices_field()

    @property
    def model_names(self) -> list[str]:
        return [m.strip() for m in self.models.split(",") if m.strip()]

    @property
    def column_names(self) -> list[str] | None:
        names = [c.strip() for c in self.columns.split(",") if c.strip()]
        return names or None

    @property
    def target_name(self) -> str:
        return self.target or DEFAULT_TARGETS[self.format]

    @property
    def lookback_steps(self) -> int:
        return self.lookback // self.step

    def validate(self) -> WeatherConfig:
        check_fit_flags(self)
        for name in ("seeds", "epochs", "batch_size", "eval_batch_size", "lookback", "step"):
            value = getattr(self, name)
            require(isinstance(value, int) and value >= 1,
                    f"--{_flag(name)} must be an integer >= 1, got {value!r}")
        for name in ("first_seed", "delay", "patience", "cpu_devices", "train_end",
                     "validation_end"):
            value = getattr(self, name)
            require(isinstance(value, int) and value >= 0,
                    f"--{_flag(name)} must be an integer >= 0, got {value!r}")
        require(self.lookback % self.step == 0,
                f"--lookback {self.lookback} must be a multiple of --step {self.step} (a "
                f"window holds lookback / step timesteps)")
        require(self.format in FORMATS, f"--format must be one of {FORMATS}, got "
                                        f"{self.format!r}")
        require(0.0 < self.train_fraction < 1.0 and 0.0 < self.validation_fraction < 1.0
                and self.train_fraction + self.validation_fraction < 1.0,
                f"--train-fraction and --validation-fraction must be in (0, 1) and leave "
                f"rows for the test split, got {self.train_fraction} and "
                f"{self.validation_fraction}")
        require(self.validation_end == 0 or self.train_end < self.validation_end,
                f"--train-end {self.train_end} must be below --validation-end "
                f"{self.validation_end}")
        require(self.optimizer in KERAS_OPTIMIZERS,
                f"unknown optimizer {self.optimizer!r}; expected one of {KERAS_OPTIMIZERS}")
        require(math.isfinite(self.learning_rate) and self.learning_rate > 0,
                f"--learning-rate must be a positive number, got {self.learning_rate}")
        names = self.model_names
        require(len(names) >= 1, "--models is empty; expected e.g. 'gru' or 'dense,gru'")
        for name in names:
            require(name in FORECASTERS,
                    f"unknown model {name!r}; expected one of {sorted(FORECASTERS)}")
        require(len(set(names)) == len(names), f"--models repeats a model: {self.models!r}")
        return self


def _flag(name: str) -> str:
    return name.replace("_", "-")


def default_data_path(fmt: str) -> str:
    """The format's file in ``$RNN_ATTN_DATA`` (else ``../shared/data`` beside the repo)."""
    from rnn_attn.sentiment import default_data_dir

    return os.path.join(default_data_dir(), DEFAULT_FILES[fmt])


def build_model(name: str, config: WeatherConfig, features: int):
    """The named forecaster for windows ``[lookback / step, features]``."""
    overrides = {} if name == "dense" else {"reset_after": config.reset_after}
    try:
        return make_forecaster(name, features, config.lookback_steps, **overrides)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"model {name!r}: {e}") from None


# -- data ----------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Split:
    """One chronological split: rows ``[start, stop)``; its windows are rows ``r`` in
    ``[start + lookback, stop - delay)`` (inputs ``r - lookback .. r - 1`` and target
    ``r + delay``, all inside the split)."""

    name: str
    start: int
    stop: int

    def window_range(self, delay: int) -> tuple[int, int]:
        """``(min_index, max_index)`` as ``rnn_attn.data.weather`` takes them."""
        return self.start, self.stop - delay


def split_rows(rows: int, config: WeatherConfig) -> list[Split]:
    """Train / validation / test splits in time order, each with at least one window.

    Raises:
      ConfigError: a boundary beyond the series, or a split too short for one window of
        ``lookback + delay + 1`` rows (the sizes are named).
    """
    train_end = config.train_end or int(rows * config.train_fraction)
    val_end = config.validation_end or int(rows * (config.train_fraction
                                                   + config.validation_fraction))
    require(0 < train_end < val_end < rows,
            f"the split boundaries train_end={train_end}, validation_end={val_end} must "
            f"satisfy 0 < train_end < validation_end < rows={rows}")
    splits = [Split("training", 0, train_end), Split("validation", train_end, val_end),
              Split("test", val_end, rows)]
    need = config.lookback + config.delay + 1
    for s in splits:
        require(s.stop - s.start >= need,
                f"--lookback {config.lookback} with --delay {config.delay} leaves no "
                f"{s.name} window: its rows [{s.start}, {s.stop}) are {s.stop - s.start}, and "
                f"a window needs lookback + delay + 1 = {need} (the series has {rows} rows)")
    return splits


@dataclasses.dataclass
class WeatherData:
    """The normalized series cut into windows, and the common-sense baselines."""

    path: str
    series: Any  # rnn_attn.data.weather.WeatherSeries
    normalizer: Any  # rnn_attn.data.weather.Normalizer
    splits: list[Split]
    windows: dict[str, dict[str, np.ndarray]]  # split name -> {"inputs", "targets"}
    baseline: dict[str, Any]  # split name -> BaselineMAE

    @property
    def scale(self) -> float:
        """Degrees C (the target's unit) per normalized unit."""
        return self.normalizer.target_scale(self.series.target_index)


def load_series(config: WeatherConfig):
    """The CSV of ``config`` as a ``WeatherSeries`` (file errors become ConfigError)."""
    from rnn_attn.data import weather

    path = config.data or default_data_path(config.format)
    loader = weather.load_tmy3 if config.format == "tmy3" else weather.load_jena
    kwargs: dict[str, Any] = {"target": config.target_name}
    if config.column_names is not None:
        kwargs["columns"] = config.column_names
    try:
        return path, loader(path, **kwargs)
    except (FileNotFoundError, ValueError) as e:
        raise ConfigError(str(e)) from None


def prepare_data(config: WeatherConfig) -> WeatherData:
    """Loads, splits, normalizes with the training rows' statistics, cuts every window
    of each split and measures the common-sense baseline on each."""
    from rnn_attn.data import weather

    path, series = load_series(config)
    splits = split_rows(len(series), config)
    normalizer = weather.fit_normalizer(series.values[: splits[0].stop])
    data = normalizer.apply(series.values)
    common = dict(target_index=series.target_index, step=config.step)
    windows, baseline = {}, {}
    for s in splits:
        low, high = s.window_range(config.delay)
        try:
            inputs, targets = weather.all_windows(data, config.lookback, config.delay, low,
                                                  high, **common)
            baseline[s.name] = weather.naive_baseline_mae(
                data, config.lookback, config.delay, low, high, normalizer=normalizer,
                **common)
        except ValueError as e:
            raise ConfigError(f"{s.name} windows: {e}") from None
        windows[s.name] = {"inputs": inputs, "targets": targets}
    return WeatherData(path, series, normalizer, splits, windows, baseline)


# -- training ------------------------------------------------------------------------------------

def train_models(config: WeatherConfig, data: WeatherData, *, workdir: str | None,
                 resume: bool, progress: bool, record: Mapping[str, Any],
                 device_settings=None) -> dict[str, list[dict[str, Any]]]:
    """Every model over every seed (one program per model, its seeds together); each
    seed's history, best epoch and the TEST MAE of its best epoch's parameters (the test
    split is touched once, with the epoch chosen on validation)."""
    from rnn_attn import distributed
    from rnn_attn.train import engine, runs
    from rnn_attn.train.feed import Split
    from rnn_attn.train.objectives import mean_absolute_error
    from rnn_attn.training import keras_optimizer

    settings = device_settings or distributed.DeviceSettings()
    features = data.series.values.shape[1]
    models = {n: distributed.with_compute_dtype(build_model(n, config, features),
                                                settings.compute_dtype)
              for n in config.model_names}
    fit = engine.FitConfig(
        seeds=tuple(config.first_seed + i for i in range(config.seeds)), epochs=config.epochs,
        batch_size=config.batch_size, eval_batch_size=config.eval_batch_size,
        monitor="val_mae", patience=config.patience, on_nonfinite=config.on_nonfinite,
        checkpoint_every=config.checkpoint_every)
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
    from rnn_attn import stats

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


# -- plots ---------------------------------------------------------------------------------------

def plot_history(histories: Mapping[str, Sequence[Mapping[str, Sequence[float]]]],
                 baseline_c: float, scale: float, path: str, *, title: str) -> str:
    """MAE in degrees C per epoch: training (dashed; running average with dropout on) and
    validation (solid) per model, mean over seeds with a min-max band, and the baseline's
    validation MAE as a horizontal line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.0, 4.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (name, runs) in enumerate(histories.items()):
        color = colors[i % len(colors)]
        for key, style, label in (("mae", "--", "training"), ("val_mae", "-", "validation")):
            n = min(len(r[key]) for r in runs)
            values = scale * np.array([r[key][:n] for r in runs], float)
            epochs = np.arange(1, n + 1)
            ax.plot(epochs, values.mean(0), style, color=color, marker="o", markersize=3,
                    label=f"{name} {label} (n={len(runs)})")
            if len(runs) > 1:
                ax.fill_between(epochs, values.min(0), values.max(0), color=color, alpha=0.15)
    ax.axhline(baseline_c, color="black", linestyle=":",
               label=f"common-sense baseline, validation ({baseline_c:.2f} C)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MAE (degrees C)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# -- the experiment ------------------------------------------------------------------------------

def run_experiment(config: WeatherConfig, workdir: str, *, resume: bool = False,
                   progress: bool = True, device_settings=None) -> dict[str, Any]:
    """Loads the data, trains every (model, seed), prints the report and writes
    ``results.json``, ``history.png`` and ``mae_by_seed.png`` into ``workdir``."""
    import jax

    from rnn_attn import devices, plots, stats
    from rnn_attn.summary import parameter_count

    start = time.perf_counter()
    record = dataclasses.asdict(config)
    data = prepare_data(config)
    scale = data.scale
    info = devices.describe_devices()
    features = data.series.values.shape[1]
    print(f"weather: {os.path.basename(data.path)} ({len(data.series):,} rows, {features} "
          f"features, target {data.series.target_name!r}); lookback {config.lookback}, step "
          f"{config.step}, delay {config.delay} rows; {info['device_count']} "
          f"{info['platform']} device(s)")
    for s in data.splits:
        print(f"  {s.name:>10}: rows [{s.start}, {s.stop}), "
              f"{len(data.windows[s.name]['targets']):,} windows")
    print(f"  1 normalized unit of the target = {scale:.3f} C (training rows' std)")
    baseline = {s: {"mae": b.normalized, "mae_c": b.in_units, "windows": b.windows}
                for s, b in data.baseline.items()}
    print(f"  common-sense baseline MAE: validation {baseline['validation']['mae']:.4f} "
          f"({baseline['validation']['mae_c']:.3f} C), test {baseline['test']['mae']:.4f} "
          f"({baseline['test']['mae_c']:.3f} C)")
    for name in config.model_names:
        params = build_model(name, config, features).init(jax.random.PRNGKey(0))
        print(f"  {name}: {parameter_count(params):,} parameters")

    runs = train_models(config, data, workdir=workdir, resume=resume, progress=progress,
                        record=record, device_settings=device_settings)
    models: dict[str, dict[str, Any]] = {}
    for name, seed_runs in runs.items():
        per_seed = per_seed_metrics(seed_runs, scale)
        entry: dict[str, Any] = {
            "seeds": [r["seed"] for r in seed_runs],
            "parameters": parameter_count(
                build_model(name, config, features).init(jax.random.PRNGKey(0))),
            "per_seed": per_seed,
            "history_per_seed": [r["history"] for r in seed_runs],
            "vs_baseline": {
                "val_mae_best_c": versus_baseline(per_seed["val_mae_best_c"],
                                                  baseline["validation"]["mae_c"]),
                "val_mae_final_c": versus_baseline(per_seed["val_mae_final_c"],
                                                   baseline["validation"]["mae_c"]),
                "test_mae_best_c": versus_baseline(per_seed["test_mae_best_c"],
                                                   baseline["test"]["mae_c"]),
            },
        }
        if config.seeds >= 2:
            entry["summary"] = {k: stats.describe(v) for k, v in per_seed.items()
                                if k != "best_epoch"}
        models[name] = entry
    comparison = None
    if len(models) >= 2 and config.seeds >= 2:
        reference = "gru" if "gru" in models else config.model_names[0]
        comparison = {"metric": HEADLINE, "reference_model": reference, **stats.compare_many(
            {n: m["per_seed"][HEADLINE] for n, m in models.items()}, baseline=reference)}

    from rnn_attn import distributed

    if not distributed.is_primary():  # process 0 writes the report and the files
        return {"experiment": "weather", "models": models, "comparison": comparison}
    intervals = {n: (m["summary"][HEADLINE]["ci_t_low"], m["summary"][HEADLINE]["ci_t_high"])
                 for n, m in models.items() if "summary" in m}
    files = {
        "history": plot_history(
            {n: [r["history"] for r in rs] for n, rs in runs.items()},
            baseline["validation"]["mae_c"], scale, os.path.join(workdir, "history.png"),
            title=f"weather: TRAINING (dashed, running average, dropout on) vs VALIDATION "
                  f"(solid) MAE,\nmean and min-max over {config.seeds} seed(s)"),
        "mae_by_seed": plots.scores_by_seed(
            {"baseline": [baseline["validation"]["mae_c"]],
             **{n: m["per_seed"][HEADLINE] for n, m in models.items()}},
            os.path.join(workdir, "mae_by_seed.png"),
            ylabel="validation MAE at the best epoch (C)", intervals=intervals,
            title="weather: validation MAE per seed (baseline: deterministic)"),
    }
    results = {
        "experiment": "weather",
        "reference": REFERENCE,
        "config": record,
        "data": {
            "path": data.path, "format": config.format, "rows": len(data.series),
            "columns": list(data.series.columns), "target": data.series.target_name,
            "steps_per_hour": data.series.steps_per_hour,
            "target_mean": float(data.normalizer.mean[data.series.target_index]),
            "target_std_c_per_unit": scale,
            "splits": {s.name: {"rows": [s.start, s.stop],
                                "windows": int(len(data.windows[s.name]["targets"]))}
                       for s in data.splits},
        },
        "devices": info,
        "baseline": baseline,
        "metrics": {
            "val_mae_best": "VALIDATION MAE (normalized) at the epoch with the lowest "
                            "validation MAE (optimistic: the epoch is chosen on it)",
            "best_epoch": "that epoch (1-based)",
            "val_mae_final": "VALIDATION MAE after the last epoch (no selection)",
            "test_mae_best": "TEST MAE of the best epoch's parameters (chosen on validation)",
            "train_mae_final": "TRAINING MAE: running average over the last epoch, dropout "
                               "on (as Keras prints it); not a generalization figure",
            "*_c": "the same in degrees C (normalized x the target's training std)",
            "vs_baseline": "per-seed model MAE minus the baseline's MAE on the same windows "
                           "(negative: better), t interval and one-sample t-test over seeds",
        },
        "models": models,
        "comparison": comparison,
        "timing_seconds": round(time.perf_counter() - start, 1),
        "files": files,
    }
    path = write_results(workdir, results)
    print_report(config, baseline, models, comparison)
    print_written(path, files, results["timing_seconds"])
    return results


def _ci(summary: Mapping[str, float] | None, key: str) -> str:
    if summary is None:
        return ""
    d = summary[key]
    return f" 95% CI [{d['ci_t_low']:.3f}, {d['ci_t_high']:.3f}]"


def print_report(config: WeatherConfig, baseline: Mapping[str, Any],
                 models: Mapping[str, Mapping[str, Any]], comparison) -> None:
    from rnn_attn import stats

    val, test = baseline["validation"], baseline["test"]
    print(f"\nCommon-sense baseline (target {config.delay} rows ahead = its value at the "
          f"window's end): VALIDATION MAE {val['mae']:.4f} = {val['mae_c']:.3f} C "
          f"({val['windows']:,} windows); TEST MAE {test['mae']:.4f} = {test['mae_c']:.3f} C")
    print("\nPer seed: VALIDATION MAE at the best epoch / after the last epoch, TEST MAE at the "
          "best epoch, TRAINING MAE of the last epoch (normalized; degrees C):")
    for name, m in models.items():
        p = m["per_seed"]
        for i, seed in enumerate(m["seeds"]):
            print(f"  {name:>17} seed {seed}: val best {p['val_mae_best'][i]:.4f} "
                  f"({p['val_mae_best_c'][i]:.3f} C, epoch {p['best_epoch'][i]}), val last "
                  f"{p['val_mae_final'][i]:.4f} ({p['val_mae_final_c'][i]:.3f} C), test "
                  f"{p['test_mae_best'][i]:.4f} ({p['test_mae_best_c'][i]:.3f} C), train "
                  f"{p['train_mae_final'][i]:.4f} ({p['train_mae_final_c'][i]:.3f} C)")
    print("\nMean over seeds (degrees C, 95% t interval) and vs the baseline (model - "
          "baseline; negative = better; one-sample t over seeds):")
    for name, m in models.items():
        s = m.get("summary")
        p = m["per_seed"]
        print(f"  {name}:")
        for key, label in (("val_mae_best_c", "VALIDATION, best epoch"),
                           ("val_mae_final_c", "VALIDATION, last epoch"),
                           ("test_mae_best_c", "TEST, best epoch")):
            v = m["vs_baseline"][key]
            line = (f"    {label:>22}: {np.mean(p[key]):.3f} C{_ci(s, key)}; vs baseline "
                    f"{v['mean_difference']:+.3f} C")
            if "ci_t_low" in v:
                line += (f" [{v['ci_t_low']:+.3f}, {v['ci_t_high']:+.3f}], t = "
                         f"{v['t_statistic']:.2f}, p = {v['p_value_two_sided']:.2g}")
            print(line + f"; better on {v['seeds_better']}/{v['seeds']} seeds")
    if comparison:
        print(f"\nModels vs {comparison['reference_model']} over seeds, VALIDATION MAE at the "
              f"best epoch (C; P(a > b) = chance that a has the HIGHER, i.e. worse, MAE):")
        print(stats.format_comparison(comparison, scale=1.0, unit=" C"))
    elif config.seeds < 2:
        print("\n(one seed: no intervals or tests; use --seeds 3 or more)")


def main(argv: list[str] | None = None) -> int:
    from experiments._common import run_main

    return run_main(argv, description=__doc__.split("\n\n")[0], config_cls=WeatherConfig,
                    default_workdir="runs/weather", run=run_experiment,
                    jobs=lambda cfg: cfg.seeds)


if __name__ == "__main__":
    from rnn_attn.runtime import reexec_with_huge_pages

    reexec_with_huge_pages()  # before JAX starts: see rnn_attn/runtime.py
    sys.exit(main())
