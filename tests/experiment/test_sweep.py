"""``--sweep``: the grid, the names an experiment may sweep, the selection on VALIDATION
data and the report on fresh seeds, end to end through the command line on a toy
experiment (a GRU forecaster of a window's mean)."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil

import jax
import numpy as np
import pytest

from rnn_attn.config import ConfigError, field
from rnn_attn.experiment import cli, sweep, tuning
from rnn_attn.experiment.spec import Sweepable
from rnn_attn.models.forecasters import make_forecaster
from rnn_attn.models.seq2seq import TokenInputs
from rnn_attn.models.text_classifiers import PretrainedEmbedding, make_text_model
from rnn_attn.train import optimizers
from tests._results import check_work_dir, curves
from tests.experiment.test_runner import TOY, ToyConfig, build

SWEEPY = dataclasses.replace(
    TOY,
    name="sweepy",
    sweep=Sweepable(
        lambda cfg: optimizers.keras_adam(cfg.learning_rate),
        model_arguments=("dropout", "recurrent_dropout"),
    ),
)
GRID = ["--sweep", "learning_rate=1e-2,3e-2", "--sweep", "dropout=0,0.3"]


def test_the_grid_is_the_product_in_the_order_given():
    cfg = ToyConfig().validate()
    grid = sweep.parse(SWEEPY, cfg, ["learning-rate=1e-2,3e-2", "dropout=0,0.3,0.5"])
    assert grid.names == ("learning_rate", "dropout")
    assert len(grid.settings) == 6
    assert grid.settings[:2] == [
        {"learning_rate": 0.01, "dropout": 0.0},
        {"learning_rate": 0.01, "dropout": 0.3},
    ]
    assert grid.record() == {"learning_rate": [0.01, 0.03], "dropout": [0.0, 0.3, 0.5]}
    assert sweep.parse(SWEEPY, cfg, None) is None
    with pytest.raises(ConfigError, match="'epochs' changes the arrays' shapes"):
        sweep.parse(SWEEPY, cfg, ["epochs=1,2"])
    with pytest.raises(ConfigError, match="declares no sweepable setting"):
        sweep.parse(TOY, cfg, ["learning_rate=1e-2"])
    with pytest.raises(ConfigError, match="fresh seeds 4294967296..4294967296"):
        sweep.parse(SWEEPY, ToyConfig(seeds=1, first_seed=2**32 - 1), ["learning_rate=1e-2"])


def test_model_arguments_reach_a_wrapped_model_and_a_missing_one_is_named():
    glove = PretrainedEmbedding(
        make_text_model("lstm", vocab_size=5, embed_dim=2), np.zeros((5, 2), np.float32)
    )
    assert tuning.with_arguments(glove, {"dropout": 0.25}).base.dropout == 0.25
    wrapped = TokenInputs(make_text_model("bilstm", vocab_size=5, maxlen=3), 5)
    assert tuning.with_arguments(wrapped, {"dropout": 0.0}).model.dropout == 0.0
    with pytest.raises(ConfigError, match="DenseForecaster has no sweepable argument 'dropout'"):
        tuning.with_arguments(make_forecaster("dense", 1, 6), {"dropout": 0.1})
    with pytest.raises(ConfigError, match="has no sweepable argument 'units'"):
        tuning.with_arguments(make_text_model("lstm"), {"units": 8})


def test_selection_takes_the_best_mean_and_the_first_of_a_tie():
    entries = [
        {"per_seed": {"val_mae_best": [0.3, 0.5]}},
        {"per_seed": {"val_mae_best": [0.2, float("nan")]}},  # never chosen
        {"per_seed": {"val_mae_best": [0.35, 0.25]}},
        {"per_seed": {"val_mae_best": [0.3, 0.3]}},
    ]
    assert tuning.select("m", entries, "val_mae_best", higher=False) == (2, 0.3)
    assert tuning.select("m", entries, "val_mae_best", higher=True) == (0, 0.4)
    history = {"loss": [0.9, 0.7], "val_mae": [0.5, 0.6], "mae": [0.4, 0.3]}
    assert tuning.trial_figures(history, 1) == {
        "best_epoch": 1,
        "val_mae_best": 0.5,
        "val_mae_final": 0.6,
        "loss_final": 0.7,
    }


@pytest.fixture
def compilations(caplog):
    """Counts the training programs compiled (``Compiling jit(segment)``, logged by JAX
    from any thread while ``jax_log_compiles`` is on)."""
    caplog.set_level(logging.WARNING, logger="jax")
    jax.config.update("jax_log_compiles", True)
    try:
        yield lambda: sum("Compiling jit(segment)" in r.getMessage() for r in caplog.records)
    finally:
        jax.config.update("jax_log_compiles", False)


def test_a_sweep_tunes_on_validation_and_reports_fresh_seeds(tmp_path, compilations, capsys):
    workdir = str(tmp_path / "run")
    argv = ["--workdir", workdir, "--seeds", "2", "--models", "gru", "--no-progress", *GRID]
    assert cli.main(SWEEPY, argv) == 0
    # One training program for the 8 trials, one for the selected setting's fresh seeds.
    assert compilations() == 2
    record = check_work_dir(workdir)  # the schema; the fresh seeds' curves in gru/
    assert record["config"]["sweep"] == {"learning_rate": [0.01, 0.03], "dropout": [0.0, 0.3]}
    model = record["models"]["gru"]
    assert model["seeds"] == [2, 3]
    settings = [t["hyperparameters"] for t in model["trials"]]
    assert settings == sweep.parse(SWEEPY, ToyConfig(), GRID[1::2]).settings
    means = [np.mean(t["per_seed"]["val_mae_best"]) for t in model["trials"]]
    assert all(t["seeds"] == [0, 1] for t in model["trials"])
    selected = model["selected"]
    assert selected["hyperparameters"] == settings[int(np.argmin(means))]
    assert selected["figure"] == "val_mae_best" and selected["higher_is_better"] is False
    assert selected["tuning_seeds"] == [0, 1] and selected["seeds"] == [2, 3]
    assert np.isclose(selected["mean"], min(means))
    trial_tags = curves(os.path.join(workdir, "tensorboard", "gru.trials"))
    assert "gru.trials/seed_1_learning_rate_0.03_dropout_0.3/loss" in trial_tags
    assert len({t.split("/")[1] for t in trial_tags}) == 8
    assert os.path.isdir(os.path.join(workdir, "checkpoints", "gru.trials"))
    out = capsys.readouterr().out
    assert "4 settings x 2 seeds = 8 trials per model in one program" in out

    # A resume of the finished run restores it; another grid is refused, nothing lost.
    again = str(tmp_path / "again.json")
    assert cli.main(SWEEPY, [*argv, "--resume"]) == 0
    os.replace(os.path.join(workdir, "results.json"), again)
    assert json.load(open(again))["models"]["gru"]["per_seed"] == model["per_seed"]
    other = [*argv[:-4], "--sweep", "learning_rate=1e-2", "--resume"]
    assert cli.main(SWEEPY, other) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot resume: the configuration differs" in err[0], err
    assert "sweep: saved {'learning_rate': [0.01, 0.03], 'dropout': [0.0, 0.3]}" in err[0]
    assert json.load(open(os.path.join(workdir, "run.json")))["config"]["sweep"]


# An experiment whose config has an optimizer with choices, as the IMDB experiments' has.
@dataclasses.dataclass(frozen=True)
class ChoosyConfig(ToyConfig):
    optimizer: str = field("adam", "the optimizer", choices=("adam", "rmsprop", "sgd"))
    momentum: float = field(0.0, "SGD's momentum", minimum=0.0, below=1.0)


def choosy_optimizer(cfg: ChoosyConfig):
    return optimizers.keras_optimizer(cfg.optimizer, cfg.learning_rate, cfg.momentum)


CHOOSY = dataclasses.replace(
    SWEEPY,
    name="choosy",
    config=ChoosyConfig,
    build=lambda cfg, ctx: dataclasses.replace(build(cfg, ctx), optimizer=choosy_optimizer(cfg)),
    sweep=Sweepable(choosy_optimizer, ("learning_rate", "momentum"), ("dropout",)),
)
CHOICES = ["--sweep", "learning_rate=1e-2,3e-2", "--sweep", "optimizer=adam,rmsprop"]


def test_an_optimizer_grid_is_words_each_setting_checked_whole():
    cfg = ChoosyConfig().validate()
    grid = sweep.parse(CHOOSY, cfg, ["learning_rate=1e-2,3e-2", "optimizer=sgd,adam"])
    assert grid.record() == {"learning_rate": [0.01, 0.03], "optimizer": ["sgd", "adam"]}
    assert grid.settings[1] == {"learning_rate": 0.01, "optimizer": "adam"}
    assert grid.programs == [{"optimizer": "sgd"}, {"optimizer": "adam"}]
    assert grid.traced.settings == [{"learning_rate": 0.01}, {"learning_rate": 0.03}]
    assert sweep.parse(SWEEPY, ToyConfig(), GRID[1::2]).programs == [{}]
    alone = sweep.parse(CHOOSY, cfg, ["optimizer=rmsprop,sgd"])  # the slots are seeds
    assert alone.traced.settings == [{}] and len(alone.programs) == 2
    assert "optimizer (one program per value: adam, rmsprop, sgd)" in sweep.help_text(CHOOSY)
    with pytest.raises(ConfigError, match="'adagrad' is not a choice of --optimizer; expected"):
        sweep.parse(CHOOSY, cfg, ["optimizer=adam,adagrad"])
    with pytest.raises(ConfigError, match="repeats the value adam"):
        sweep.parse(CHOOSY, cfg, ["optimizer=adam,adam"])
    with pytest.raises(ConfigError, match="e.g. optimizer=adam,rmsprop"):
        sweep.parse(CHOOSY, cfg, ["optimizer="])
    with pytest.raises(ConfigError, match="sweepy's config has no --optimizer with choices"):
        sweep.parse(SWEEPY, ToyConfig(), ["optimizer=adam"])
    with pytest.raises(ConfigError, match=r"optimizer=sgd, learning_rate=0: --learning-rate"):
        sweep.parse(CHOOSY, cfg, ["optimizer=sgd,adam", "learning_rate=1e-2,0"])


def test_a_swept_momentum_is_refused_for_an_optimizer_without_one(tmp_path, capsys):
    """Inside the program a swept momentum is an array, which Adam and RMSprop refuse
    even where every value is 0: one error line before anything trains."""
    workdir = tmp_path / "run"
    argv = ["--workdir", str(workdir), "--models", "gru", "--sweep", "optimizer=sgd,rmsprop"]
    assert cli.main(CHOOSY, [*argv, "--sweep", "momentum=0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --sweep optimizer=rmsprop, momentum=0: "), (
        err
    )
    assert "momentum 0.0 applies to the optimizer 'sgd' only, not 'rmsprop'" in err[0]
    assert not (workdir / "checkpoints").exists()


def plain_val_mae(tmp_path, optimizer: str, learning_rate: str) -> list[float]:
    """VALIDATION MAE at the best epoch per seed of a plain run of one setting."""
    workdir = str(tmp_path / f"plain_{optimizer}_{learning_rate}")
    argv = ["--workdir", workdir, "--seeds", "2", "--models", "gru", "--no-progress"]
    argv += ["--optimizer", optimizer, "--learning-rate", learning_rate]
    assert cli.main(CHOOSY, argv) == 0
    return check_work_dir(workdir)["models"]["gru"]["per_seed"]["val_mae_best"]


def test_an_optimizer_sweep_runs_a_program_per_optimizer(tmp_path, compilations, capsys):
    workdir = str(tmp_path / "run")
    argv = ["--workdir", workdir, "--seeds", "2", "--models", "gru", "--no-progress", *CHOICES]
    assert cli.main(CHOOSY, argv) == 0
    # One training program per optimizer (4 trials each), one for the fresh seeds.
    assert compilations() == 3
    record = check_work_dir(workdir)  # the schema takes the optimizer's word
    assert record["config"]["sweep"] == {
        "learning_rate": [0.01, 0.03],
        "optimizer": ["adam", "rmsprop"],
    }
    model = record["models"]["gru"]
    settings = [t["hyperparameters"] for t in model["trials"]]
    assert settings == sweep.parse(CHOOSY, ChoosyConfig(), CHOICES[1::2]).settings
    assert settings[1] == {"learning_rate": 0.01, "optimizer": "rmsprop"}
    means = [np.mean(t["per_seed"]["val_mae_best"]) for t in model["trials"]]
    assert model["selected"]["hyperparameters"] == settings[int(np.argmin(means))]
    for program in ("gru.trials.adam", "gru.trials.rmsprop"):
        assert os.path.isdir(os.path.join(workdir, "checkpoints", program))
        assert (
            len({t.split("/")[1] for t in curves(os.path.join(workdir, "tensorboard", program))})
            == 4
        )
    assert "4 settings x 2 seeds = 8 trials per model in 2 programs (one per optimizer)" in (
        capsys.readouterr().out
    )
    # A trial's figures are those of a plain run of its optimizer, rate and seeds.
    for k, (optimizer, rate) in ((0, ("adam", "1e-2")), (3, ("rmsprop", "3e-2"))):
        trial = model["trials"][k]
        assert trial["hyperparameters"] == {"learning_rate": float(rate), "optimizer": optimizer}
        plain = plain_val_mae(tmp_path, optimizer, rate)
        np.testing.assert_allclose(trial["per_seed"]["val_mae_best"], plain, rtol=1e-5)

    # Killed before the rmsprop trials and the fresh seeds trained: the resume trains
    # them (the adam trials restored) and reports the same.
    for done in ("gru.trials.rmsprop", "gru"):
        shutil.rmtree(os.path.join(workdir, "checkpoints", done))
    os.remove(os.path.join(workdir, "results.json"))
    assert cli.main(CHOOSY, [*argv, "--resume"]) == 0
    again = json.load(open(os.path.join(workdir, "results.json")))["models"]["gru"]
    assert again["trials"] == model["trials"] and again["per_seed"] == model["per_seed"]
