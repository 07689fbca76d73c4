import os
import re

import numpy as np
import pytest

from rnn_attn.data.weather import (
    JENA_COLUMNS,
    TMY3_FEATURES,
    Normalizer,
    all_windows,
    fit_normalizer,
    load_jena,
    load_tmy3,
    naive_baseline_mae,
)
from tests._paths import SHARED_DATA
from tests.oracles.weather_generator import window_generator

REAL_TMY3 = os.path.join(SHARED_DATA, "tmy3_723170_greensboro_nc.csv")

JENA_HEADER = (
    '"Date Time","p (mbar)","T (degC)","Tpot (K)","Tdew (degC)","rh (%)",'
    '"VPmax (mbar)","VPact (mbar)","VPdef (mbar)","sh (g/kg)","H2OC (mmol/mol)",'
    '"rho (g/m**3)","wv (m/s)","max. wv (m/s)","wd (deg)"'
)
TMY3_HEADER = (
    "Date (MM/DD/YYYY),Time (HH:MM),ETR (W/m^2),ETRN (W/m^2),GHI (W/m^2),GHI source,"
    "GHI uncert (%),DNI (W/m^2),DNI source,DNI uncert (%),DHI (W/m^2),DHI source,"
    "DHI uncert (%),GH illum (lx),GH illum source,Global illum uncert (%),DN illum (lx),"
    "DN illum source,DN illum uncert (%),DH illum (lx),DH illum source,DH illum uncert (%),"
    "Zenith lum (cd/m^2),Zenith lum source,Zenith lum uncert (%),TotCld (tenths),"
    "TotCld source,TotCld uncert (code),OpqCld (tenths),OpqCld source,OpqCld uncert (code),"
    "Dry-bulb (C),Dry-bulb source,Dry-bulb uncert (code),Dew-point (C),Dew-point source,"
    "Dew-point uncert (code),RHum (%),RHum source,RHum uncert (code),Pressure (mbar),"
    "Pressure source,Pressure uncert (code),Wdir (degrees),Wdir source,Wdir uncert (code),"
    "Wspd (m/s),Wspd source,Wspd uncert (code),Hvis (m),Hvis source,Hvis uncert (code),"
    "CeilHgt (m),CeilHgt source,CeilHgt uncert (code),Pwat (cm),Pwat source,"
    "Pwat uncert (code),AOD (unitless),AOD source,AOD uncert (code),Alb (unitless),"
    "Alb source,Alb uncert (code),Lprecip depth (mm),Lprecip quantity (hr),Lprecip source,"
    "Lprecip uncert (code),PresWth (METAR code),PresWth source,PresWth uncert (code)"
)


def jena_values(rows):
    """``[rows, 14]``: column k of row i is ``k + i / 100`` (so every cell is known)."""
    return np.arange(14)[None, :] + np.arange(rows)[:, None] / 100


def write_jena(path, rows=300, edit=None):
    start = np.datetime64("2009-01-01T00:10")
    lines = [JENA_HEADER]
    for i, v in enumerate(jena_values(rows)):
        t = (start + np.timedelta64(10 * i, "m")).item()
        cells = [t.strftime("%d.%m.%Y %H:%M:%S")] + [f"{x:.2f}" for x in v]
        lines.append(",".join(cells))
    if edit:
        edit(lines)
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def write_tmy3(path, hours=48, edit=None):
    """Two days, 01:00..24:00; Dry-bulb of hour h (0-based) is ``h / 2 - 5``."""
    names = TMY3_HEADER.split(",")
    lines = ['723170,"GREENSBORO PIEDMONT TRIAD INT",NC,-5.0,36.100,-79.950,273', TMY3_HEADER]
    for h in range(hours):
        day, hour = divmod(h, 24)
        cells = []
        for k, name in enumerate(names):
            if name == "Date (MM/DD/YYYY)":
                cells.append(f"01/{day + 1:02d}/1988")
            elif name == "Time (HH:MM)":
                cells.append(f"{hour + 1:02d}:00")
            elif name == "Dry-bulb (C)":
                cells.append(f"{h / 2 - 5:.1f}")
            elif name.endswith("source"):
                cells.append("A")
            else:
                cells.append(str(k + h))
        lines.append(",".join(cells))
    if edit:
        edit(lines)
    path.write_text("\n".join(lines) + "\n")
    return str(path)


# --------------------------------------------------------------------------- loading


def test_load_jena_layout(tmp_path):
    series = load_jena(write_jena(tmp_path / "jena_climate_2009_2016.csv"))
    assert series.values.shape == (300, 14) and series.values.dtype == np.float32
    assert series.columns == JENA_COLUMNS
    assert series.target_index == 1 and series.target_name == "T (degC)"
    np.testing.assert_allclose(series.values, jena_values(300), rtol=1e-6)
    assert series.timestamps[0] == np.datetime64("2009-01-01T00:10:00")
    assert series.timestamps[5] == np.datetime64("2009-01-01T01:00:00")
    assert series.timestamps[-1] == np.datetime64("2009-01-03T02:00:00")  # 300 * 10 min
    assert series.steps_per_hour == 6 and len(series) == 300


def test_load_jena_target_and_columns_by_name(tmp_path):
    path = write_jena(tmp_path / "j.csv", rows=20)
    series = load_jena(path, target="p (mbar)", columns=["T (degC)", "p (mbar)"])
    assert series.columns == ("T (degC)", "p (mbar)") and series.target_index == 1
    np.testing.assert_allclose(series.values[3], [1.03, 0.03], rtol=1e-6)


def test_load_tmy3_layout_and_24h(tmp_path):
    series = load_tmy3(write_tmy3(tmp_path / "tmy3.csv"))
    assert series.values.shape == (48, len(TMY3_FEATURES))
    assert series.columns == TMY3_FEATURES and series.target_name == "Dry-bulb (C)"
    np.testing.assert_allclose(series.values[:, series.target_index], np.arange(48) / 2 - 5)
    # Pressure (mbar) is column 40 of the file: value 40 + h.
    np.testing.assert_array_equal(
        series.values[:3, TMY3_FEATURES.index("Pressure (mbar)")], [40, 41, 42]
    )
    assert series.timestamps[0] == np.datetime64("1988-01-01T01:00:00")
    # 24:00 of Jan 1 is midnight at its end, then Jan 2 01:00.
    assert series.timestamps[23] == np.datetime64("1988-01-02T00:00:00")
    assert series.timestamps[24] == np.datetime64("1988-01-02T01:00:00")
    assert series.steps_per_hour == 1


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="weather CSV not found: .*none.csv"):
        load_jena(str(tmp_path / "none.csv"))
    with pytest.raises(FileNotFoundError, match="weather CSV not found"):
        load_tmy3(str(tmp_path / "none.csv"))


def test_missing_target_column_is_named_with_the_columns(tmp_path):
    path = write_jena(tmp_path / "j.csv", rows=10)
    with pytest.raises(
        ValueError,
        match=r"has no target column 'T \(K\)'; its columns are "
        r"\['Date Time', 'p \(mbar\)', 'T \(degC\)'",
    ):
        load_jena(path, target="T (K)")
    with pytest.raises(ValueError, match=r"has no target column 'Temp'.*'Dry-bulb \(C\)'"):
        load_tmy3(write_tmy3(tmp_path / "t.csv", hours=5), target="Temp")
    with pytest.raises(ValueError, match=r"the target 'T \(degC\)' is not among"):
        load_jena(path, columns=["p (mbar)"])


def test_non_numeric_cell_names_line_and_column(tmp_path):
    def spoil(lines):
        lines[4] = lines[4].replace(",1.03,", ",n/a,")  # T (degC) of data row 3

    path = write_jena(tmp_path / "j.csv", rows=10, edit=spoil)
    with pytest.raises(
        ValueError,
        match=r"line 5, column 'T \(degC\)': 'n/a' is not a "
        r"finite number",
    ):
        load_jena(path)

    def blank(lines):
        cells = lines[6].split(",")
        cells[31] = ""  # Dry-bulb (C) of data row 4 (file line 7)
        lines[6] = ",".join(cells)

    with pytest.raises(ValueError, match=r"line 7, column 'Dry-bulb \(C\)': '' is not"):
        load_tmy3(write_tmy3(tmp_path / "t.csv", hours=10, edit=blank))


@pytest.mark.parametrize(
    "cell", ["1_000", "1_0.5", "1e1_0", "\u0661\u0662", "\uff11\uff12", "\u00a01.5", "1.5\u2003"]
)
def test_a_number_in_another_syntax_is_refused_naming_line_and_column(tmp_path, cell):
    """Python's float (and numpy's parser) read ``1_000`` as 1000, non-ASCII digits and
    spaces too; a CSV reader (pandas) keeps them as text: refused, as other bad cells."""

    def spoil(lines):
        lines[4] = lines[4].replace(",1.03,", f",{cell},")  # T (degC) of data row 3

    path = write_jena(tmp_path / "j.csv", rows=10, edit=spoil)
    message = f"line 5, column 'T (degC)': {cell!r} is not a plain decimal number"
    with pytest.raises(ValueError, match=re.escape(message)):
        load_jena(path)


@pytest.mark.parametrize(
    "cell, value",
    [(" 1.5", 1.5), ("1.5\t", 1.5), ("+1.5", 1.5), (".5", 0.5), ("5.", 5.0), ("1E+01", 10.0)],
)
def test_plain_numbers_with_blanks_signs_and_exponents_are_read(tmp_path, cell, value):
    """What pandas reads as a number is read: ASCII blanks around it, a sign, a point
    without digits on one side, an exponent."""

    def edit(lines):
        lines[4] = lines[4].replace(",1.03,", f",{cell},")

    series = load_jena(write_jena(tmp_path / "j.csv", rows=10, edit=edit))
    assert series.values[3, 1] == np.float32(value)


def test_too_few_rows_and_ragged_rows(tmp_path):
    with pytest.raises(ValueError, match="has 1 data rows, expected at least 2"):
        load_jena(write_jena(tmp_path / "j.csv", rows=1))
    with pytest.raises(ValueError, match="has 0 data rows, expected at least 2"):
        load_tmy3(write_tmy3(tmp_path / "t.csv", hours=0))

    def cut(lines):
        lines[3] = lines[3].rsplit(",", 1)[0]

    with pytest.raises(ValueError, match="line 4: 14 fields, expected 15"):
        load_jena(write_jena(tmp_path / "r.csv", rows=5, edit=cut))


def test_wrong_layout_and_bad_dates(tmp_path):
    with pytest.raises(ValueError, match="not in the Jena climate layout"):
        load_jena(write_tmy3(tmp_path / "t.csv", hours=3))
    with pytest.raises(ValueError, match="not in the TMY3 layout"):
        load_tmy3(write_jena(tmp_path / "j.csv", rows=3))

    def bad_time(lines):
        lines[3] = lines[3].replace("02:00", "25:00", 1)

    with pytest.raises(ValueError, match=r"line 4: 'Time \(HH:MM\)' is '25:00'"):
        load_tmy3(write_tmy3(tmp_path / "t2.csv", hours=3, edit=bad_time))

    def bad_date(lines):
        lines[2] = "32.01.2009" + lines[2][10:]

    with pytest.raises(ValueError, match="line 3: 'Date Time' is '32.01.2009 00:20:00'"):
        load_jena(write_jena(tmp_path / "j2.csv", rows=3, edit=bad_date))


# --------------------------------------------------------------------------- normalizing


def test_normalizer_uses_only_training_rows():
    values = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 10.0], [1000.0, -50.0]])
    norm = fit_normalizer(values[:3])
    # mean of the first 3 rows; population std: sqrt(8/3) for column 0, 0 -> 1 for column 1.
    np.testing.assert_allclose(norm.mean, [3.0, 10.0])
    np.testing.assert_allclose(norm.std, [np.sqrt(8 / 3), 1.0])
    later = values.copy()
    later[3] = [-7.0, 99.0]  # rows after the training part change nothing
    np.testing.assert_array_equal(fit_normalizer(later[:3]).mean, norm.mean)
    out = norm.apply(values)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[:3, 0], [-np.sqrt(1.5), 0, np.sqrt(1.5)], rtol=1e-6)
    np.testing.assert_allclose(out[3], [997 / np.sqrt(8 / 3), -60], rtol=1e-6)
    np.testing.assert_allclose(norm.invert_target(out[:, 0], 0), values[:, 0], rtol=1e-6)
    assert norm.target_scale(0) == pytest.approx(np.sqrt(8 / 3))
    with pytest.raises(ValueError, match="fit_normalizer expects"):
        fit_normalizer(values[:0])


# --------------------------------------------------------------------------- windows


def lecture_generator(
    data,
    lookback,
    delay,
    min_index,
    max_index,
    target,
    shuffle=False,
    batch_size=128,
    step=6,
    rng=None,
):
    """The lecture's generator (Chollet's Python version), one sample at a time; the
    shuffled rows come from ``rng`` so both sides draw the same ones."""
    if max_index is None:
        max_index = len(data) - delay - 1
    i = min_index + lookback
    while True:
        if shuffle:
            rows = rng.integers(min_index + lookback, max_index, size=batch_size)
        else:
            if i + batch_size >= max_index:
                i = min_index + lookback
            rows = np.arange(i, min(i + batch_size, max_index))
            i += len(rows)
        samples = np.zeros((len(rows), lookback // step, data.shape[-1]))
        targets = np.zeros((len(rows),))
        for j, row in enumerate(rows):
            indices = range(row - lookback, row, step)
            samples[j] = data[indices]
            targets[j] = data[row + delay][target]
        yield samples, targets


DATA = np.random.default_rng(0).normal(size=(60, 3)).astype(np.float32)


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize(
    "lookback,step,delay,min_index,max_index,batch_size",
    [
        (6, 2, 3, 0, None, 5),
        (4, 1, 0, 10, 40, 7),
        (9, 3, 5, 2, 30, 4),
        (6, 6, 1, 0, 20, 32),  # one batch longer than the range
    ],
)
def test_generator_matches_the_lecture_loop(
    shuffle, lookback, step, delay, min_index, max_index, batch_size
):
    ours = window_generator(
        DATA,
        lookback,
        delay,
        min_index,
        max_index,
        target_index=2,
        shuffle=shuffle,
        batch_size=batch_size,
        step=step,
        seed=7,
    )
    ref = lecture_generator(
        DATA,
        lookback,
        delay,
        min_index,
        max_index,
        2,
        shuffle=shuffle,
        batch_size=batch_size,
        step=step,
        rng=np.random.default_rng(7),
    )
    for _ in range(12):  # long enough to wrap around the range
        (s, t), (s_ref, t_ref) = next(ours), next(ref)
        assert s.dtype == np.float32 and t.dtype == np.float32
        assert s.shape == (len(t_ref), lookback // step, 3)
        np.testing.assert_array_equal(s, s_ref.astype(np.float32))
        np.testing.assert_array_equal(t, t_ref.astype(np.float32))


def test_all_windows_cover_every_row_once():
    samples, targets = all_windows(DATA, 6, 3, 5, 40, target_index=0, step=2)
    rows = range(11, 40)
    assert samples.shape == (len(rows), 3, 3) and samples.dtype == np.float32
    assert not samples.flags.writeable  # a view of DATA, not copies of the windows
    for k, r in enumerate(rows):
        np.testing.assert_array_equal(samples[k], DATA[r - 6 : r : 2])
        assert targets[k] == DATA[r + 3, 0]
    np.testing.assert_array_equal(np.asarray(samples)[[0, 28]][1], DATA[33:39:2])


def test_all_windows_default_max_index_is_the_lectures():
    samples, targets = all_windows(DATA, 4, 2, 0, None, target_index=1, step=1)
    assert len(targets) == (60 - 2 - 1) - 4  # rows [4, 57)
    assert targets[-1] == DATA[56 + 2, 1]


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (
            dict(lookback=70),
            r"lookback=70 leaves no window: rows \[0, 57\) hold 57 rows, and a "
            r"window needs lookback \+ 1 = 71 \(the series has 60 rows\)",
        ),
        (
            dict(lookback=20, min_index=30, max_index=45),
            r"lookback=20 leaves no window: rows \[30, 45\) hold 15 rows",
        ),
        (
            dict(delay=10, max_index=55),
            r"delay=10 reaches beyond the series: the last window "
            r"\(row 54, below max_index=55\) targets row 64, but the "
            r"series has 60 rows; use max_index <= 50",
        ),
        (dict(step=0), "step must be an integer >= 1, got 0"),
        (dict(lookback=7, step=2), "lookback=7 must be a multiple of step=2"),
        (dict(min_index=30, max_index=30), "min_index=30 must be < max_index=30"),
        (dict(max_index=61), "max_index=61 is beyond the series"),
        (dict(target_index=3), "target_index=3 is out of range for 3 features"),
    ],
)
def test_window_validation(kwargs, message):
    args = dict(lookback=6, delay=2, min_index=0, max_index=None, target_index=0, step=1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        all_windows(DATA, **args)
    with pytest.raises(ValueError, match=message):
        next(window_generator(DATA, **args))
    with pytest.raises(ValueError, match=message):
        naive_baseline_mae(DATA, **args)


# --------------------------------------------------------------------------- baseline


def test_naive_baseline_on_a_hand_made_series():
    data = np.array([[0, 1], [0, 2], [0, 4], [0, 8], [0, 16], [0, 32]], np.float32)
    norm = Normalizer(mean=np.zeros(2), std=np.array([1.0, 2.0]))
    # max_index None -> 6 - 1 - 1 = 4: rows 2 and 3. step 1: predict x[r-1] for x[r+1]:
    # |2 - 8| = 6, |4 - 16| = 12 -> 9, i.e. 18 in the target's unit (std 2).
    out = naive_baseline_mae(data, 2, 1, 0, None, target_index=1, step=1, normalizer=norm)
    assert (out.normalized, out.in_units, out.windows) == (9.0, 18.0, 2)
    # step 2: the window's last timestep is row r - 2: |1 - 8| = 7, |2 - 16| = 14 -> 10.5.
    out = naive_baseline_mae(data, 2, 1, 0, None, target_index=1, step=2)
    assert (out.normalized, out.in_units) == (10.5, None)
    # It equals the MAE of samples[:, -1, target] against the targets of all_windows.
    samples, targets = all_windows(data, 2, 1, 0, None, target_index=1, step=2)
    assert np.mean(np.abs(samples[:, -1, 1] - targets)) == 10.5


@pytest.mark.skipif(not os.path.isfile(REAL_TMY3), reason=f"{REAL_TMY3} is absent")
def test_real_tmy3_file():
    series = load_tmy3(REAL_TMY3)
    assert series.values.shape == (8760, len(TMY3_FEATURES))
    temps = series.values[:, series.target_index]
    assert -20 <= temps.min() < 0 < 30 < temps.max() <= 45
    # The file's first and last rows: 01/01/1988 01:00, 10.0 C; 12/31/1980 24:00, 2.2 C.
    assert temps[0] == np.float32(10.0) and temps[-1] == np.float32(2.2)
    assert series.timestamps[0] == np.datetime64("1988-01-01T01:00:00")
    assert series.timestamps[-1] == np.datetime64("1981-01-01T00:00:00")
    assert np.isfinite(series.values).all()
    norm = fit_normalizer(series.values[:5000])
    data = norm.apply(series.values)
    base = naive_baseline_mae(
        data, 120, 24, 5000, 7000, target_index=series.target_index, step=1, normalizer=norm
    )
    assert 0 < base.in_units < 5  # degrees C, 24 h ahead
