"""rnn_attn.experiment: a new experiment is a config and a ``build``/``evaluate`` pair; the
shared runner does the rest. A toy one (the mean of a window, two forecasters) runs end
to end through the command line, as the README shows."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from rnn_attn.config import ConfigError, field, fit_fields
from rnn_attn.experiment import cli, runner
from rnn_attn.experiment.spec import Experiment, Setup
from rnn_attn.models.forecasters import make_forecaster
from rnn_attn.train import engine, feed, objectives, optimizers
from tests._results import check_work_dir


@dataclasses.dataclass(frozen=True)
class ToyConfig(fit_fields(epochs=2, batch_size=16, learning_rate=1e-2, seed_loop="auto")):
    models: str = field("dense,gru", "comma-separated models")
    steps: int = field(6, "timesteps per window", minimum=1)


def windows(n: int, steps: int, seed: int) -> dict[str, np.ndarray]:
    x = np.random.default_rng(seed).normal(size=(n, steps, 1)).astype(np.float32)
    return {"inputs": x, "targets": x.mean(axis=(1, 2))}


def build(cfg: ToyConfig, ctx) -> Setup:
    return Setup(
        models={n: make_forecaster(n, 1, cfg.steps) for n in cfg.model_names},
        data=engine.FitData(
            feed.Split(windows(64, cfg.steps, 0)), feed.Split(windows(32, cfg.steps, 1))
        ),
        objective=objectives.mean_absolute_error(),
        optimizer=optimizers.keras_adam(cfg.learning_rate),
        fit={"monitor": "val_mae"},
    )


def evaluate(cfg: ToyConfig, setup: Setup, name: str, fit) -> dict:
    return {
        "per_seed": {
            "val_mae_best": [
                h["val_mae"][b - 1] for h, b in zip(fit.history, fit.best_epoch, strict=True)
            ]
        }
    }


TOY = Experiment(
    name="toy",
    config=ToyConfig,
    build=build,
    evaluate=evaluate,
    metrics={"val_mae_best": "VALIDATION MAE at the best epoch"},
    compare=("val_mae_best",),
    description="A toy.",
    default_workdir="runs/toy",
    local={"epochs": 1},
)


def test_a_new_experiment_runs_end_to_end_through_the_shared_runner(tmp_path, capsys):
    workdir = str(tmp_path / "run")
    assert cli.main(TOY, ["--workdir", workdir, "--seeds", "2", "--no-progress"]) == 0
    record = check_work_dir(workdir)  # the schema, and a TensorBoard curve per seed
    assert record["schema_version"] == 1 and record["experiment"] == "toy"
    assert list(record["models"]) == ["dense", "gru"]
    for model in record["models"].values():
        assert model["seeds"] == [0, 1] and model["parameters"] > 0
        assert model["summary"]["val_mae_best"]["n"] == 2
    comparison = record["comparison"]
    assert comparison["reference_model"] == "dense"
    assert comparison["val_mae_best"]["names"] == ["gru", "dense"]
    timing = record["timing"]
    assert timing["total_seconds"] >= timing["train_seconds"] > 0
    assert timing["compile_seconds"] > 0
    assert json.load(open(f"{workdir}/run.json"))["experiment"] == "toy"
    out = capsys.readouterr().out
    assert "toy: models ['dense', 'gru'] x 2 seeds" in out and "wrote" in out


def test_the_fit_configuration_comes_from_the_fit_fields_the_config_has():
    from rnn_attn.parallel.mesh import make_mesh

    cfg = ToyConfig(seeds=2, first_seed=5, epochs=3, checkpoint_every=4).validate()
    fit = runner.fit_config(cfg, make_mesh(2), monitor="val_mae")
    assert fit.seeds == (5, 6) and fit.epochs == 3 and fit.batch_size == 16
    assert fit.checkpoint_every == 4 and fit.monitor == "val_mae"
    assert fit.seed_loop in ("map", "vmap")  # auto, resolved on the mesh
    assert fit.eval_batch_size == 0 and fit.patience == 0  # fields the config lacks


def test_help_lists_the_config_and_device_flags_and_local(capsys):
    with pytest.raises(SystemExit):
        cli.main(TOY, ["--help"])
    out = capsys.readouterr().out
    for flag in (
        "--epochs",
        "--batch-size",
        "--learning-rate",
        "--seed-loop",
        "--steps",
        "--seed-parallel",
        "--data-parallel",
        "--compute-dtype",
        "--local",
    ):
        assert flag in out


def test_bad_flags_get_one_line_and_write_nothing(tmp_path, capsys):
    workdir = tmp_path / "run"
    for argv, message in (
        (["--steps", "0"], "--steps must be an integer >= 1, got 0"),
        (["--data-parallel", "-3"], "--data-parallel must be an integer >= -1"),
        (["--seed-loop", "map", "--data-parallel", "2"], "--seed-loop map"),
    ):
        assert cli.main(TOY, ["--workdir", str(workdir), *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
        assert not workdir.exists()
    with pytest.raises(ConfigError, match="--epochs must be an integer >= 1"):
        ToyConfig(epochs=0).validate()


def test_a_test_split_is_scored_with_each_seeds_best_epoch():
    """``Setup.test``: every model's per_seed gains ``test_<metric>_best``, each seed's
    figure on that split with its best epoch's parameters (recomputed here by hand)."""
    import jax

    from rnn_attn.experiment.context import bare_context
    from rnn_attn.parallel.mesh import make_mesh

    cfg = ToyConfig(seeds=2, epochs=3).validate()
    ctx = bare_context("toy", cfg, make_mesh(2, devices=jax.devices()[:1]))
    test = windows(40, cfg.steps, 2)
    setup = dataclasses.replace(build(cfg, ctx), test=feed.Split(test))
    fits = runner.train(cfg, ctx, setup)
    entries = runner.model_entries(TOY, cfg, setup, fits, runner.parameter_counts(setup.models))
    for name, fit in fits.items():
        per_seed = entries[name]["per_seed"]
        assert set(per_seed) == {"val_mae_best", "test_loss_best", "test_mae_best"}
        for seed in range(2):
            params = fit.seed_params(seed, best=True)
            predicted = np.asarray(setup.models[name].apply(params, test["inputs"]))
            mae = np.abs(predicted.reshape(-1) - test["targets"]).mean()
            assert np.isclose(per_seed["test_mae_best"][seed], mae, rtol=1e-5), (name, seed)
