"""The copy task of reference document 001: its models, data stream and test.

Each model trains for ``steps`` steps, each on ``batch_size`` fresh pairs drawn on the
device from ``fold_in(data_key, step)`` (a ``feed.Sampler``: one epoch of ``steps``
steps), then is scored on ``eval_examples`` fresh pairs, a pair correct only when every
decoded position matches (exact match). Repeat ``i`` uses seed ``first_seed + i`` for
every model, whose ``copy_task.repeat_keys`` give the initialization, training-data and
test-data keys. With ``--seeds-by-source`` the initialization key is the run's init
seed's and both data keys its data seed's.

With ``--sweep`` each model's setting is chosen on ``eval_examples`` VALIDATION pairs
drawn once from a stream of their own (``copy_task.validation_pairs``); the test pairs
stay the seeds' own, touched only by the selected setting's fresh seeds.
"""

from __future__ import annotations

import jax
import numpy as np

from experiments.copy_task import config as copy_config
from experiments.copy_task import report
from experiments.copy_task.config import (
    TEST_COMPILER_OPTIONS,
    TRAIN_COMPILER_OPTIONS,
    CopyTaskConfig,
    build_model,
)
from rnn_attn.data.copy_task import repeat_keys, sample_copy_task, validation_pairs
from rnn_attn.experiment.spec import Experiment, Setup, Sweepable, describe
from rnn_attn.train import engine, feed
from rnn_attn.train.objectives import sequence_cross_entropy
from rnn_attn.train.optimizers import keras_adam
from rnn_attn.train.sampled_test import compile_in_background, compile_sampled_test, sampled_test


def init_and_data_keys(seed: int) -> tuple[jax.Array, jax.Array]:
    """The engine's ``(init_key, dropout_key)``: no dropout; the data key fills the place."""
    return repeat_keys(seed)[:2]


def sampler(cfg: CopyTaskConfig) -> feed.Sampler:
    """Every seed's stream of training pairs (``steps`` steps of ``batch_size`` pairs)."""

    def sample(key: jax.Array) -> dict[str, jax.Array]:
        inputs, targets = sample_copy_task(
            key, cfg.batch_size, cfg.length, cfg.n_copy, cfg.cardinality
        )
        return {"inputs": inputs, "targets": targets}

    keys = np.stack([np.asarray(repeat_keys(s)[1]) for s in cfg.seed_sources["data"]])
    return feed.Sampler(sample, keys, cfg.steps)


def optimizer(cfg: CopyTaskConfig):
    """Adam with Keras's defaults at ``--learning-rate``."""
    return keras_adam(cfg.learning_rate)


def test_program(cfg: CopyTaskConfig, mesh):
    """``(name, model) ->`` the model's compiled test on ``eval_examples`` fresh pairs per
    seed."""

    def draw(key):
        return sample_copy_task(key, cfg.eval_examples, cfg.length, cfg.n_copy, cfg.cardinality)

    return lambda name, model: compile_sampled_test(
        model, draw, cfg.seeds, mesh, TEST_COMPILER_OPTIONS
    )


def build(cfg: CopyTaskConfig, ctx) -> Setup:
    models = {n: build_model(n, cfg) for n in cfg.model_names}
    sweeping = getattr(ctx, "sweep", None) is not None
    sizes = (cfg.eval_examples, cfg.length, cfg.n_copy, cfg.cardinality)
    fit = {"monitor": "loss", "compiler_options": TRAIN_COMPILER_OPTIONS}
    return Setup(
        models=models,
        data=engine.FitData(
            sampler(cfg), feed.Split(validation_pairs(*sizes)) if sweeping else None
        ),
        objective=sequence_cross_entropy(),
        optimizer=optimizer(cfg),
        seed_keys=init_and_data_keys,
        fit=fit | ({"eval_batch_size": cfg.eval_examples} if sweeping else {}),
        data_description=f"{cfg.steps} steps of {cfg.batch_size} fresh pair(s), "
        f"{cfg.eval_examples} fresh test pairs per seed",
        extras=compile_in_background(test_program(cfg, ctx.mesh), models),
    )


def evaluate(cfg: CopyTaskConfig, setup: Setup, name: str, fit: engine.FitResult) -> dict:
    # every seed's test on the pairs of its test key (its data seed's)
    keys = np.stack([np.asarray(repeat_keys(s)[2]) for s in cfg.seed_sources["data"]])
    test = sampled_test(setup.extras[name].result(), fit.state.params, keys, fit.programs.mesh)
    tail = min(100, cfg.steps)
    spot = {k: test[k][0][: cfg.spot_checks].tolist() for k in ("inputs", "targets", "predicted")}
    if "attention_weights" in test:
        spot["attention_weights"] = test["attention_weights"][0][0].tolist()
    return {
        "per_seed": {
            "test_exact_match": test["exact_match"].tolist(),
            "test_token_accuracy": test["token_accuracy"].tolist(),
            "test_loss": test["loss"].tolist(),
            f"train_loss_last{tail}": np.nanmean(fit.step_loss[:, -tail:], 1).tolist(),
        },
        "spot_checks_first_seed": spot,
    }


EXPERIMENT = Experiment(
    name="copy_task",
    config=CopyTaskConfig,
    build=build,
    evaluate=evaluate,
    metrics=report.METRICS,
    compare=("test_exact_match",),
    report=report.report,
    reference=report.REFERENCE,
    description=describe(copy_config.__doc__),
    default_workdir="runs/copy_task",
    local=copy_config.LOCAL,
    sweep=Sweepable(optimizer=optimizer, fields=("learning_rate",)),
)
