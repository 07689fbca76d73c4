"""Weather time series for temperature forecasting (reference document 002, after Chollet's
"Deep Learning with R" 6.3): loading, normalization with training statistics, the
lecture's windowed generator (vectorized), every window of a range, and the
common-sense baseline.

Two layouts:

* Jena climate (``jena_climate_2009_2016.csv``): ``"Date Time"`` (``DD.MM.YYYY HH:MM:SS``)
  then 14 measurements, one row every 10 minutes (``steps_per_hour=6``).
* NREL TMY3 (e.g. ``tmy3_723170_greensboro_nc.csv``): a station metadata line, the 71
  column names, then 8,760 hourly rows (``steps_per_hour=1``); times run 01:00..24:00
  and each month comes whole from a different real year, so the timestamps are not
  monotonic across month boundaries.

Files: the path must be a regular file (a FIFO or device is refused before it is opened);
UTF-8 text, a byte-order mark dropped (it would stick to the first column's name), or
UTF-16/32 that starts with its mark. Every value must parse as a finite number and fit
float32 (``1e39`` is refused, naming its line and column, rather than read as infinity),
written plainly as a CSV reader reads a number (``1_000``, non-ASCII digits or spaces
are refused: ``rnn_attn.data.numbers``; ASCII blanks around a number are taken).

Windows, as the lecture: for a row ``r`` (the index just after the window's last
timestep) the sample is ``data[r - lookback : r : step]`` and the target is
``data[r + delay, target_index]``; rows run over ``[min_index + lookback, max_index)``.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rnn_attn.data.numbers import PLAIN_EXPECTED, may_hold_unplain, plain_cells
from rnn_attn.data.paths import checked_lines, encoding_name, nul_note, open_text

JENA_TIME_COLUMN = "Date Time"
JENA_COLUMNS = (
    "p (mbar)",
    "T (degC)",
    "Tpot (K)",
    "Tdew (degC)",
    "rh (%)",
    "VPmax (mbar)",
    "VPact (mbar)",
    "VPdef (mbar)",
    "sh (g/kg)",
    "H2OC (mmol/mol)",
    "rho (g/m**3)",
    "wv (m/s)",
    "max. wv (m/s)",
    "wd (deg)",
)
TMY3_DATE_COLUMN = "Date (MM/DD/YYYY)"
TMY3_TIME_COLUMN = "Time (HH:MM)"
# Measured weather, in file order. Left out: the source/uncertainty flags, ETR/ETRN
# (computed extraterrestrial irradiance, not weather), the illuminance columns (derived
# from the irradiances), CeilHgt (77777 codes "unlimited"), AOD and Alb (constant in the
# Greensboro file: zero variance), Lprecip and PresWth (sparse codes).
TMY3_FEATURES = (
    "GHI (W/m^2)",
    "DNI (W/m^2)",
    "DHI (W/m^2)",
    "TotCld (tenths)",
    "OpqCld (tenths)",
    "Dry-bulb (C)",
    "Dew-point (C)",
    "RHum (%)",
    "Pressure (mbar)",
    "Wdir (degrees)",
    "Wspd (m/s)",
    "Hvis (m)",
    "Pwat (cm)",
)


@dataclass(frozen=True)
class WeatherSeries:
    """A loaded weather record.

    Attributes:
      values: ``<float32>[rows, features]``, in the units of the file.
      columns: the feature names, one per column of ``values``.
      target_index: the column of the forecast target.
      timestamps: ``<datetime64[s]>[rows]`` (local time of the record).
      steps_per_hour: rows per hour (6 for Jena, 1 for TMY3).
    """

    values: np.ndarray
    columns: tuple[str, ...]
    target_index: int
    timestamps: np.ndarray
    steps_per_hour: int

    @property
    def target_name(self) -> str:
        return self.columns[self.target_index]

    def __len__(self) -> int:
        return len(self.values)


# --------------------------------------------------------------------------- loading


def load_jena(
    path: str, target: str = "T (degC)", columns: Sequence[str] | None = None, min_rows: int = 2
) -> WeatherSeries:
    """The Jena climate CSV: every column but ``"Date Time"`` (or ``columns``) as
    features, the target chosen by name.

    Raises:
      FileNotFoundError: no file at ``path``.
      ValueError: no ``"Date Time"`` first column, the target or a requested column
        missing (the columns present are listed), a row with a different number of
        fields, a non-numeric cell (line and column), a malformed date, or fewer than
        ``min_rows`` rows.
    """
    header, rows, lines = _read_csv(path, skip=0)
    if header[0] != JENA_TIME_COLUMN:
        raise ValueError(
            f"{path!r} is not in the Jena climate layout: its first column is "
            f"{header[0]!r}, expected {JENA_TIME_COLUMN!r}"
        )
    features = tuple(columns) if columns is not None else tuple(header[1:])
    values, target_index = _features(path, header, rows, lines, features, target, min_rows)
    stamps = [r[0].strip() for r in rows]
    # DD.MM.YYYY HH:MM:SS -> ISO 8601, which numpy parses in one call.
    iso = [f"{s[6:10]}-{s[3:5]}-{s[0:2]}T{s[11:]}" for s in stamps]
    timestamps = _datetimes(path, iso, stamps, lines, JENA_TIME_COLUMN, "datetime64[s]")
    return WeatherSeries(values, features, target_index, timestamps, steps_per_hour=6)


def load_tmy3(
    path: str,
    target: str = "Dry-bulb (C)",
    columns: Sequence[str] = TMY3_FEATURES,
    min_rows: int = 2,
) -> WeatherSeries:
    """An NREL TMY3 CSV: ``columns`` (default ``TMY3_FEATURES``) as features, hourly.
    A time of 24:00 is midnight at the end of its date (00:00 of the next day).

    Raises: as ``load_jena`` (the layout check is on the date and time columns).
    """
    header, rows, lines = _read_csv(path, skip=1)  # line 1: station metadata
    for name in (TMY3_DATE_COLUMN, TMY3_TIME_COLUMN):
        if name not in header:
            raise ValueError(
                f"{path!r} is not in the TMY3 layout: line 2 has no {name!r} "
                f"column (it has {header[:5]}...)"
            )
    values, target_index = _features(path, header, rows, lines, tuple(columns), target, min_rows)
    d, t = header.index(TMY3_DATE_COLUMN), header.index(TMY3_TIME_COLUMN)
    dates = [r[d].strip() for r in rows]
    iso = [f"{s[6:10]}-{s[0:2]}-{s[3:5]}" for s in dates]
    days = _datetimes(path, iso, dates, lines, TMY3_DATE_COLUMN, "datetime64[D]")
    times = [r[t].strip() for r in rows]
    minutes = np.array([_minutes(s) for s in times], np.int64)
    bad = np.flatnonzero((minutes < 0) | (minutes > 24 * 60))
    if bad.size:
        k = int(bad[0])
        raise ValueError(
            f"{path!r} line {lines[k]}: {TMY3_TIME_COLUMN!r} is "
            f"{times[k]!r}, expected HH:MM from 00:00 to 24:00"
        )
    timestamps = days.astype("datetime64[s]") + minutes.astype("timedelta64[m]")
    return WeatherSeries(values, tuple(columns), target_index, timestamps, steps_per_hour=1)


def _minutes(hh_mm: str) -> int:
    """Minutes since the start of the day of ``HH:MM`` (24:00 -> 1440), -1 if malformed."""
    hours, sep, minutes = hh_mm.partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        return -1
    return int(hours) * 60 + int(minutes) if int(minutes) < 60 else -1


def _read_csv(path: str, skip: int) -> tuple[list[str], list[list[str]], list[int]]:
    """``(header, data rows, each row's line number in the file)``."""
    encoding = "utf-8"
    try:
        with open_text(path, "weather CSV", "; expected the CSV file", newline="") as f:
            encoding = f.encoding
            reader = csv.reader(checked_lines(f, f"weather CSV {path!r}"))
            for _ in range(skip):
                next(reader, None)
            header = next(reader, None)
            rows, lines = [], []
            for row in reader:
                if row:  # blank lines (e.g. at the end) carry nothing
                    rows.append(row)
                    lines.append(reader.line_num)
    except UnicodeDecodeError as e:
        raise ValueError(
            f"cannot read weather CSV {path!r}: not {encoding_name(encoding)} text ({e})"
            f"{nul_note(e)}"
        ) from None
    except csv.Error as e:
        raise ValueError(f"cannot read weather CSV {path!r}: {e}") from None
    if not header:
        raise ValueError(f"weather CSV {path!r} has no header line (line {skip + 1})")
    return [h.strip() for h in header], rows, lines


def _check_widths(path: str, header: list[str], rows: list[list[str]], lines: list[int]) -> None:
    widths = np.fromiter(map(len, rows), np.int64, count=len(rows))
    bad = np.flatnonzero(widths != len(header))
    if bad.size:
        k = int(bad[0])
        raise ValueError(
            f"{path!r} line {lines[k]}: {widths[k]} fields, expected "
            f"{len(header)} (one per column of the header)"
        )


def _features(
    path: str,
    header: list[str],
    rows: list[list[str]],
    lines: list[int],
    features: tuple[str, ...],
    target: str,
    min_rows: int,
) -> tuple[np.ndarray, int]:
    """``(<float32>[rows, len(features)], index of target within features)``."""
    _check_widths(path, header, rows, lines)
    for name, what in [(target, "target column"), *((c, "column") for c in features)]:
        if name not in header:
            raise ValueError(f"{path!r} has no {what} {name!r}; its columns are {header}")
    if target not in features:
        raise ValueError(f"the target {target!r} is not among the feature columns {list(features)}")
    if len(rows) < min_rows:
        raise ValueError(f"{path!r} has {len(rows)} data rows, expected at least {min_rows}")
    table = np.array(rows, dtype=str)
    values = np.empty((len(rows), len(features)), np.float32)
    check_plain = may_hold_unplain(rows)
    for j, name in enumerate(features):
        values[:, j] = _column(path, lines, name, table[:, header.index(name)], check_plain)
    return values, features.index(target)


def _column(
    path: str, lines: list[int], name: str, cells: np.ndarray, check_plain: bool = True
) -> np.ndarray:
    """``<float32>[rows]`` of one column's cells; ValueError naming the line and column of
    the first cell that is not a finite number, is not written plainly (``1_000``, which
    Python reads as 1000: ``rnn_attn.data.numbers``; looked for only with
    ``check_plain``), or overflows float32."""
    try:
        column = cells.astype(np.float64)
        ok = np.isfinite(column)
    except ValueError:
        column, ok = None, np.array([_is_number(c) for c in cells])
    if not ok.all():
        k = int(np.flatnonzero(~ok)[0])
        raise ValueError(
            f"{path!r} line {lines[k]}, column {name!r}: {str(cells[k])!r} is not a finite number"
        )
    if check_plain and not (plain := plain_cells(cells)).all():
        k = int(np.flatnonzero(~plain)[0])
        raise ValueError(
            f"{path!r} line {lines[k]}, column {name!r}: {str(cells[k])!r} is not a plain "
            f"decimal number; expected {PLAIN_EXPECTED}"
        )
    with np.errstate(over="ignore"):  # named below
        narrow = column.astype(np.float32)
    fits = np.isfinite(narrow)
    if not fits.all():
        k = int(np.flatnonzero(~fits)[0])
        raise ValueError(
            f"{path!r} line {lines[k]}, column {name!r}: {str(cells[k])!r} overflows "
            f"float32 (largest {float(np.finfo(np.float32).max):.4g}); expected a value "
            f"that fits float32"
        )
    return narrow


def _is_number(text: str) -> bool:
    try:
        return bool(np.isfinite(float(text)))
    except ValueError:
        return False


def _datetimes(
    path: str, iso: list[str], raw: list[str], lines: list[int], column: str, dtype: str
) -> np.ndarray:
    try:
        return np.array(iso, dtype=dtype)
    except ValueError:
        pass
    for k, s in enumerate(iso):  # only on failure: name the first bad cell
        try:
            np.datetime64(s)
        except ValueError:
            raise ValueError(
                f"{path!r} line {lines[k]}: {column!r} is {raw[k]!r}, "
                f"not a date in the file's format"
            ) from None
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------- normalizing


@dataclass(frozen=True)
class Normalizer:
    """Per-feature statistics, ``<float64>[features]`` each (population std, as numpy's
    default and the lecture's Python version); a zero std is stored as 1 so a constant
    column maps to 0 instead of dividing by zero."""

    mean: np.ndarray
    std: np.ndarray

    def apply(self, values: np.ndarray) -> np.ndarray:
        """``<float32>[..., features]``: ``(values - mean) / std``."""
        return ((np.asarray(values, np.float64) - self.mean) / self.std).astype(np.float32)

    def invert_target(self, x: np.ndarray | float, target_index: int) -> np.ndarray:
        """Normalized target values back to the target's unit (e.g. degrees C)."""
        return np.asarray(x, np.float64) * self.std[target_index] + self.mean[target_index]

    def target_scale(self, target_index: int) -> float:
        """The target's std: a normalized error (e.g. an MAE) times this is in its unit."""
        return float(self.std[target_index])


def fit_normalizer(train_values: np.ndarray) -> Normalizer:
    """Mean and std of the TRAINING rows only (``values[:train_end]``), so nothing about
    the validation or test period leaks into the inputs."""
    train_values = np.asarray(train_values, np.float64)
    if train_values.ndim != 2 or len(train_values) < 1:
        raise ValueError(
            f"fit_normalizer expects <float>[rows >= 1, features], got shape {train_values.shape}"
        )
    std = train_values.std(axis=0)
    return Normalizer(train_values.mean(axis=0), np.where(std > 0, std, 1.0))


# --------------------------------------------------------------------------- windows


def _window_range(
    data: np.ndarray,
    lookback: int,
    delay: int,
    min_index: int,
    max_index: int | None,
    step: int,
    target_index: int,
) -> tuple[int, int]:
    """Checks the window parameters; returns ``max_index`` resolved (None: the lecture's
    ``len(data) - delay - 1``) and the number of rows of ``data``."""
    n = len(data)
    if np.ndim(data) != 2:
        raise ValueError(f"data must be <float>[rows, features], got shape {np.shape(data)}")
    for name, value, low in [
        ("lookback", lookback, 1),
        ("step", step, 1),
        ("delay", delay, 0),
        ("min_index", min_index, 0),
    ]:
        if not isinstance(value, int | np.integer) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if lookback % step:
        raise ValueError(
            f"lookback={lookback} must be a multiple of step={step} (the "
            f"lecture's samples hold lookback // step timesteps)"
        )
    if not 0 <= target_index < data.shape[1]:
        raise ValueError(
            f"target_index={target_index} is out of range for {data.shape[1]} features"
        )
    if max_index is None:
        max_index = n - delay - 1
    if max_index > n:
        raise ValueError(f"max_index={max_index} is beyond the series ({n} rows)")
    if min_index >= max_index:
        raise ValueError(f"min_index={min_index} must be < max_index={max_index}")
    if min_index + lookback >= max_index:
        raise ValueError(
            f"lookback={lookback} leaves no window: rows [{min_index}, "
            f"{max_index}) hold {max_index - min_index} rows, and a window "
            f"needs lookback + 1 = {lookback + 1} (the series has {n} rows)"
        )
    if max_index - 1 + delay >= n:
        raise ValueError(
            f"delay={delay} reaches beyond the series: the last window (row "
            f"{max_index - 1}, below max_index={max_index}) targets row "
            f"{max_index - 1 + delay}, but the series has {n} rows; use "
            f"max_index <= {n - delay}"
        )
    return int(max_index), n


def _gather(
    data: np.ndarray, rows: np.ndarray, lookback: int, delay: int, step: int, target_index: int
) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.arange(-lookback, 0, step)
    samples = data[rows[:, None] + offsets[None, :]]  # one fancy index, no loop per sample
    return samples.astype(np.float32, copy=False), data[rows + delay, target_index].astype(
        np.float32
    )


def all_windows(
    data: np.ndarray,
    lookback: int,
    delay: int,
    min_index: int,
    max_index: int | None,
    *,
    target_index: int,
    step: int = 6,
) -> tuple[np.ndarray, np.ndarray]:
    """Every window of rows ``[min_index + lookback, max_index)`` once, in order (for
    validation and test, with ``rnn_attn.data.batching.eval_batches``).

    Returns:
      ``(samples <float32>[windows, lookback // step, features], targets
      <float32>[windows])``; ``samples`` is a read-only strided view of ``data`` (no copy
      of the overlapping windows: Jena's validation range would take gigabytes), so
      index it (batching does) or ``np.array`` it to get an array of its own.
    """
    data = np.asarray(data, np.float32)
    max_index, _ = _window_range(data, lookback, delay, min_index, max_index, step, target_index)
    # view[w] = data[w : w + lookback] (as [features, lookback]); row r starts at r - lookback.
    view = np.lib.stride_tricks.sliding_window_view(data, lookback, axis=0)
    samples = view[min_index : max_index - lookback, :, ::step].transpose(0, 2, 1)
    rows = np.arange(min_index + lookback, max_index)
    return samples, data[rows + delay, target_index]


# --------------------------------------------------------------------------- baseline


@dataclass(frozen=True)
class BaselineMAE:
    """The common-sense baseline's mean absolute error over every window of a range.

    Attributes:
      normalized: in the units of ``data`` as given (normalized units if it was).
      in_units: the same in the target's own unit (e.g. degrees C), or None when no
        normalizer was given.
      windows: how many windows were averaged.
    """

    normalized: float
    in_units: float | None
    windows: int


def naive_baseline_mae(
    data: np.ndarray,
    lookback: int,
    delay: int,
    min_index: int,
    max_index: int | None,
    *,
    target_index: int,
    step: int = 6,
    normalizer: Normalizer | None = None,
) -> BaselineMAE:
    """Predicts the target ``delay`` rows ahead as its value at the window's last timestep
    (``samples[:, -1, target_index]``, i.e. row ``r - step``, as the lecture's
    ``evaluate_naive_method``), over every window of ``[min_index + lookback,
    max_index)``."""
    data = np.asarray(data)
    max_index, _ = _window_range(data, lookback, delay, min_index, max_index, step, target_index)
    rows = np.arange(min_index + lookback, max_index)
    column = np.asarray(data[:, target_index], np.float64)
    mae = float(np.mean(np.abs(column[rows - step] - column[rows + delay])))
    in_units = None if normalizer is None else mae * normalizer.target_scale(target_index)
    return BaselineMAE(mae, in_units, len(rows))
