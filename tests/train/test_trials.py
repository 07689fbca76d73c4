"""Trials (settings x seeds) train as one program, each trial with the figures a run of
its one setting gives (``rnn_attn.train.trials``).

Each test runs as the experiments do, with x64 off (the tests' conftest turns it on): a
swept value is float32, as a plain run's Python float then is."""

from __future__ import annotations

import dataclasses
import itertools

import jax
import numpy as np
import pytest

from rnn_attn.errors import ConfigError
from rnn_attn.models.text_classifiers import RecurrentClassifier
from rnn_attn.train import engine, trials
from rnn_attn.train.feed import Sampler, Split
from rnn_attn.train.objectives import binary_classification
from rnn_attn.train.optimizers import keras_adam, keras_sgd

SEEDS = (0, 1)
GRID = {"learning_rate": (1e-3, 1e-2), "dropout": (0.0, 0.3)}
MODEL = RecurrentClassifier("lstm", vocab_size=40, embed_dim=8, units=8, maxlen=12)


def tokens(n: int, seed: int, *, vocab: int = 40, maxlen: int = 12) -> dict[str, np.ndarray]:
    """Left-padded token sequences with a learnable binary label."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, vocab, size=(n, maxlen)).astype(np.int32)
    lengths = rng.integers(4, maxlen + 1, size=n)
    x[np.arange(maxlen)[None, :] < (maxlen - lengths)[:, None]] = 0
    return {"inputs": x, "targets": ((x > vocab // 2).sum(1) > lengths / 2).astype(np.int32)}


@pytest.fixture(autouse=True)
def without_x64():
    with jax.enable_x64(False):
        yield


DATA = engine.FitData(Split(tokens(96, 1)), Split(tokens(40, 2)))


def settings() -> list[dict[str, float]]:
    return [dict(zip(GRID, values, strict=True)) for values in itertools.product(*GRID.values())]


def bind(hyper):
    return dataclasses.replace(MODEL, dropout=hyper["dropout"]), keras_adam(hyper["learning_rate"])


def fit_config(epochs: int = 2) -> engine.FitConfig:
    return engine.FitConfig(seeds=SEEDS, epochs=epochs, batch_size=16, monitor="val_accuracy")


def trial_run() -> engine.Prepared:
    seeds, hyper = trials.grid_slots(SEEDS, settings())
    config = dataclasses.replace(fit_config(), seeds=seeds, hyperparameters=hyper)
    return engine.prepare(
        binary_classification(), MODEL, DATA, config, optimizer=keras_adam(), bind=bind
    )


def single_setting(setting: dict[str, float]) -> engine.FitResult:
    model = dataclasses.replace(MODEL, dropout=setting["dropout"])
    return engine.fit(
        binary_classification(),
        model,
        DATA,
        fit_config(),
        optimizer=keras_adam(setting["learning_rate"]),
    )


def test_each_trial_gives_its_single_setting_runs_figures_in_one_program():
    prepared = trial_run()
    result = engine.train(prepared)
    # One training and one evaluation program for all 8 trials (4 settings x 2 seeds).
    assert prepared.run.programs.segment._cache_size() == 1
    assert prepared.run.programs.evaluate._cache_size() == 1
    n = len(SEEDS)
    # Two settings run alone, between them each learning rate and each dropout rate
    # (tests/parallel/test_trials_mesh.py, in the slow tier, runs all four).
    for k in (0, 3):
        setting = settings()[k]
        alone = single_setting(setting)
        for i in range(n):
            got, want = result.history[k * n + i], alone.history[i]
            assert set(got) == set(want)
            for key in want:
                np.testing.assert_allclose(
                    got[key], want[key], rtol=1e-5, atol=1e-6, err_msg=f"{setting} {key}"
                )
            np.testing.assert_allclose(
                result.seed_params(k * n + i)["output"]["kernel"],
                alone.seed_params(i)["output"]["kernel"],
                rtol=1e-5,
                atol=1e-6,
            )
    # The settings differ: the grid changed what was trained.
    losses = {round(h["loss"][-1], 6) for h in result.history}
    assert len(losses) == len(result.history)


def test_slots_setting_major_and_data_repeated_per_setting():
    seeds, hyper = trials.grid_slots((3, 4), [{"lr": 0.1}, {"lr": 0.2}])
    assert seeds == (3, 4, 3, 4)
    assert hyper == (("lr", (0.1, 0.1, 0.2, 0.2)),)
    keys = np.arange(4, dtype=np.uint32).reshape(2, 2)
    repeated = trials.repeat_data(engine.FitData(Sampler(lambda k: {}, keys, 5)), 3)
    assert repeated.train.keys.shape == (6, 2)
    np.testing.assert_array_equal(repeated.train.keys[4:], keys)
    rows = np.array([[0, 1], [2, 3]])
    split = trials.repeat_data(engine.FitData(Split(tokens(4, 0), rows)), 2).train
    np.testing.assert_array_equal(split.rows, np.concatenate([rows, rows]))


def test_a_momentum_swept_from_zero_keeps_one_state_structure():
    """SGD's momentum 0 has no trace; swept (an array), every trial keeps one."""
    seeds, hyper = trials.grid_slots((0,), [{"momentum": 0.0}, {"momentum": 0.9}])
    config = dataclasses.replace(fit_config(epochs=1), seeds=seeds, hyperparameters=hyper)
    result = engine.fit(
        binary_classification(),
        MODEL,
        DATA,
        config,
        optimizer=keras_sgd(),
        bind=lambda h: (MODEL, keras_sgd(0.1, h["momentum"])),
    )
    plain = engine.fit(
        binary_classification(),
        MODEL,
        DATA,
        dataclasses.replace(fit_config(epochs=1), seeds=(0,)),
        optimizer=keras_sgd(0.1, 0.9),
    )
    np.testing.assert_allclose(result.history[1]["loss"], plain.history[0]["loss"], rtol=1e-5)


def test_trials_are_refused_without_bind_or_with_a_repeated_pair():
    seeds, hyper = trials.grid_slots(SEEDS, [{"dropout": 0.1}])
    config = dataclasses.replace(fit_config(), seeds=seeds, hyperparameters=hyper)
    with pytest.raises(ConfigError, match="no bind was given"):
        engine.prepare(binary_classification(), MODEL, DATA, config, optimizer=keras_adam())
    with pytest.raises(ConfigError, match=r"\(seed, setting\) pairs must be distinct"):
        dataclasses.replace(config, seeds=(0, 0)).validate()
    with pytest.raises(ConfigError, match="has 1 values for 2 slots"):
        dataclasses.replace(config, hyperparameters=(("dropout", (0.1,)),)).validate()
