"""The weather series cut into chronological splits and windows, and the common-sense
baseline on each split."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from experiments.weather.config import WeatherConfig, default_data_path
from rnn_attn.config import ConfigError, require


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
    val_end = config.validation_end or int(
        rows * (config.train_fraction + config.validation_fraction)
    )
    require(
        0 < train_end < val_end < rows,
        f"the split boundaries train_end={train_end}, validation_end={val_end} must "
        f"satisfy 0 < train_end < validation_end < rows={rows}",
    )
    splits = [
        Split("training", 0, train_end),
        Split("validation", train_end, val_end),
        Split("test", val_end, rows),
    ]
    need = config.lookback + config.delay + 1
    for s in splits:
        require(
            s.stop - s.start >= need,
            f"--lookback {config.lookback} with --delay {config.delay} leaves no "
            f"{s.name} window: its rows [{s.start}, {s.stop}) are {s.stop - s.start}, and "
            f"a window needs lookback + delay + 1 = {need} (the series has {rows} rows)",
        )
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
            inputs, targets = weather.all_windows(
                data, config.lookback, config.delay, low, high, **common
            )
            baseline[s.name] = weather.naive_baseline_mae(
                data, config.lookback, config.delay, low, high, normalizer=normalizer, **common
            )
        except ValueError as e:
            raise ConfigError(f"{s.name} windows: {e}") from None
        windows[s.name] = {"inputs": inputs, "targets": targets}
    return WeatherData(path, series, normalizer, splits, windows, baseline)


def data_record(config: WeatherConfig, data: WeatherData) -> dict[str, Any]:
    series = data.series
    return {
        "path": data.path,
        "format": config.format,
        "rows": len(series),
        "columns": list(series.columns),
        "target": series.target_name,
        "steps_per_hour": series.steps_per_hour,
        "target_mean": float(data.normalizer.mean[series.target_index]),
        "target_std_c_per_unit": data.scale,
        "splits": {
            s.name: {
                "rows": [s.start, s.stop],
                "windows": int(len(data.windows[s.name]["targets"])),
            }
            for s in data.splits
        },
    }
