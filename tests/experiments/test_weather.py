"""``python -m experiments.weather`` end to end on a small CSV in the Jena layout, its
bookkeeping (splits, baseline comparison) and its one-line errors."""

import dataclasses
import math
import os

import numpy as np
import pytest

from experiments import weather
from rnn_attn.config import ConfigError
from rnn_attn.experiment.cli import main
from tests._results import check_work_dir

JENA_HEADER = (
    '"Date Time","p (mbar)","T (degC)","Tpot (K)","Tdew (degC)","rh (%)",'
    '"VPmax (mbar)","VPact (mbar)","VPdef (mbar)","sh (g/kg)","H2OC (mmol/mol)",'
    '"rho (g/m**3)","wv (m/s)","max. wv (m/s)","wd (deg)"'
)


def write_jena(path, rows=240, drop_target=False):
    """Hourly rows (10-minute stamps do not matter here): a daily temperature cycle plus
    noise, and 13 other columns loosely tied to it."""
    rng = np.random.default_rng(0)
    hours = np.arange(rows)
    temp = 10 + 6 * np.sin(2 * np.pi * hours / 24) + rng.normal(0, 1, rows)
    other = temp[:, None] * rng.uniform(-1, 1, 13)[None, :] + rng.normal(0, 1, (rows, 13))
    values = np.concatenate([other[:, :1], temp[:, None], other[:, 1:]], axis=1)
    header = JENA_HEADER
    if drop_target:
        header = header.replace('"T (degC)"', '"Tx (degC)"')
    start = np.datetime64("2009-01-01T00:10")
    lines = [header]
    for i, v in enumerate(values):
        t = (start + np.timedelta64(10 * i, "m")).item().strftime("%d.%m.%Y %H:%M:%S")
        lines.append(",".join([t] + [f"{x:.3f}" for x in v]))
    path.write_text("\n".join(lines) + "\n")
    return str(path)


SMALL = [
    "--format",
    "jena",
    "--lookback",
    "12",
    "--step",
    "2",
    "--delay",
    "3",
    "--batch-size",
    "32",
    "--no-progress",
]


def test_end_to_end_on_a_small_jena_csv(tmp_path, capsys):
    """A whole run in process, as ``python -m experiments.weather`` makes it (the module's
    entry point runs as a subprocess in the slow tier's ``--local`` runs)."""
    data = write_jena(tmp_path / "jena.csv")
    workdir = tmp_path / "run"
    args = ["--workdir", str(workdir), "--data", data, "--models", "dense,gru", "--seeds", "2"]
    status = main(weather.EXPERIMENT, [*args, "--epochs", "2", *SMALL])
    result = capsys.readouterr()
    assert status in (None, 0), result.err[-3000:]
    assert "Traceback" not in result.err
    assert "VALIDATION MAE" in result.out and "common-sense baseline" in result.out.lower()
    results = check_work_dir(str(workdir))
    assert results["config"]["lookback"] == 12 and results["config"]["models"] == "dense,gru"
    # 240 rows: 144 train / 48 validation / 48 test; windows r in [start + 12, stop - 3).
    splits = results["data"]["splits"]
    assert splits["training"] == {"rows": [0, 144], "windows": 144 - 12 - 3}
    assert splits["validation"] == {"rows": [144, 192], "windows": 48 - 12 - 3}
    assert splits["test"] == {"rows": [192, 240], "windows": 48 - 12 - 3}
    scale = results["data"]["target_std_c_per_unit"]
    base = results["baseline"]["validation"]
    assert math.isclose(base["mae_c"], base["mae"] * scale, rel_tol=1e-9)
    for name in ("dense", "gru"):
        model = results["models"][name]
        per_seed = model["per_seed"]
        for key in ("val_mae_best", "val_mae_final", "test_mae_best", "train_mae_final"):
            assert len(per_seed[key]) == 2
            np.testing.assert_allclose(per_seed[f"{key}_c"], np.asarray(per_seed[key]) * scale)
        assert all(1 <= e <= 2 for e in per_seed["best_epoch"])
        assert model["summary"]["val_mae_best_c"]["n"] == 2
        vs = model["vs_baseline"]["val_mae_best_c"]
        np.testing.assert_allclose(
            vs["differences"], np.asarray(per_seed["val_mae_best_c"]) - base["mae_c"]
        )
        assert vs["ci_t_low"] <= vs["mean_difference"] <= vs["ci_t_high"]
        assert len(model["history_per_seed"][0]["val_mae"]) == 2
    assert results["comparison"]["reference_model"] == "gru"
    for png in ("history.png", "mae_by_seed.png"):
        assert (workdir / png).stat().st_size > 1000
    # every seed of a model in one checkpoint, numbered by the global step
    assert sorted(os.listdir(workdir / "checkpoints" / "gru")) == ["10", "5"]


def _main_error(capsys, *args):
    """Runs the module's ``main`` in-process; returns (exit status, stderr lines)."""
    try:
        status = main(weather.EXPERIMENT, list(args))
    except SystemExit as e:  # argparse's error exits
        status = e.code
    err = capsys.readouterr().err.strip().splitlines()
    return status, err


@pytest.mark.parametrize(
    "case,message",
    [
        ("missing_target", "has no target column 'T (degC)'"),
        ("long_lookback", "--lookback 200 with --delay 3 leaves no training window"),
        ("bad_flag", "unrecognized arguments: --lookahead 5"),
        ("bad_value", "--lookback 12 must be a multiple of --step 5"),
        ("bad_model", "unknown model 'lstm'"),
        ("missing_file", "weather CSV not found"),
    ],
)
def test_bad_input_gets_one_error_line_and_status_2(case, message, tmp_path, capsys):
    data = write_jena(tmp_path / "jena.csv", drop_target=case == "missing_target")
    args = ["--workdir", str(tmp_path / "run"), "--data", data, "--models", "gru", *SMALL]
    extra = {
        "long_lookback": ["--lookback", "200"],
        "bad_flag": ["--lookahead", "5"],
        "bad_value": ["--step", "5"],
        "bad_model": ["--models", "gru,lstm"],
        "missing_file": ["--data", str(tmp_path / "nope.csv")],
    }.get(case, [])
    status, err = _main_error(capsys, *args, *extra)
    assert status == 2
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert not os.path.isdir(tmp_path / "run" / "checkpoints")


def test_help_lists_every_config_flag(capsys):
    with pytest.raises(SystemExit) as e:
        main(weather.EXPERIMENT, ["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for f in dataclasses.fields(weather.WeatherConfig):
        assert "--" + f.name.replace("_", "-") in out
    for flag in ("--workdir", "--resume", "--progress"):
        assert flag in out


def _config(**kw):
    return weather.WeatherConfig(**kw).validate()


def test_splits_are_chronological_with_windows_inside_each_split():
    splits = weather.split_rows(1000, _config(lookback=10, delay=5))
    assert [(s.start, s.stop) for s in splits] == [(0, 600), (600, 800), (800, 1000)]
    assert splits[1].window_range(5) == (600, 795)  # targets r + 5 <= 799
    lecture = weather.split_rows(
        420_551,
        _config(train_end=200_000, validation_end=300_000, lookback=1440, step=6, delay=144),
    )
    assert [(s.start, s.stop) for s in lecture] == [
        (0, 200_000),
        (200_000, 300_000),
        (300_000, 420_551),
    ]
    with pytest.raises(ConfigError, match="leaves no validation window"):
        weather.split_rows(1000, _config(lookback=150, delay=50))
