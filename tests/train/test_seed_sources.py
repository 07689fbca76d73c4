"""The engine's seeds by source: each seed of a grid initializes from its init seed,
draws dropout from its dropout seed and visits the data in its data seed's order, in the
same program as every other seed; the default derivation is the run it always was."""

from __future__ import annotations

import functools

import jax
import numpy as np
import pytest

from rnn_attn.errors import ConfigError
from rnn_attn.models.forecasters import make_forecaster
from rnn_attn.train import engine, feed, objectives, steps
from rnn_attn.train.callbacks import BestEpoch, Checkpointing
from rnn_attn.train.optimizers import keras_optimizer
from rnn_attn.train.run import Callback

MODEL = make_forecaster("gru_dropout", 3, 6, units=6)  # dropout: the third source counts
OPTIMIZER = keras_optimizer("rmsprop", 1e-2)
MAE = objectives.mean_absolute_error()


def series(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6, 3)).astype(np.float32)
    return {"inputs": x, "targets": (x[:, -1, 0] + 0.3).astype(np.float32)}


DATA = engine.FitData(feed.Split(series(80, 1)), feed.Split(series(20, 2)))


def fit(seeds, sources=(), seed_keys=steps.default_seed_keys, epochs=2, callbacks=()):
    config = engine.FitConfig(
        seeds=tuple(seeds), epochs=epochs, batch_size=16, monitor="val_mae", sources=tuple(sources)
    )
    return engine.fit(
        MAE, MODEL, DATA, config, optimizer=OPTIMIZER, seed_keys=seed_keys, callbacks=callbacks
    )


@functools.cache
def plain():
    """The default run of seeds 0 and 1 (shared by the tests that compare with it)."""
    return fit((0, 1))


def params(result, index):
    return jax.tree.leaves(result.seed_params(index))


def test_the_default_derivation_is_bit_identical_to_naming_every_source_the_seed():
    named = fit((0, 1), sources=((0, 0, 0), (1, 1, 1)))
    assert plain().history == named.history
    for i in range(2):
        for a, b in zip(params(plain(), i), params(named, i), strict=True):
            np.testing.assert_array_equal(a, b)


def keys_of(init_seed, dropout_seed):
    """A seed_keys that gives every seed number these sources' keys."""
    init_key = steps.default_seed_keys(init_seed)[0]
    dropout_key = steps.default_seed_keys(dropout_seed)[1]
    return lambda seed: (init_key, dropout_key)


def test_each_seed_of_a_grid_is_the_run_of_its_three_sources():
    sources = ((0, 1, 0), (1, 0, 2))
    grid = fit((10, 11), sources=sources)
    for i, (init, data, dropout) in enumerate(sources):
        # One seed: its data order is the seed number's, its keys the sources'.
        alone = fit((data,), seed_keys=keys_of(init, dropout))
        for k, values in alone.history[0].items():
            np.testing.assert_allclose(grid.history[i][k], values, rtol=1e-6, err_msg=k)
        for a, b in zip(params(grid, i), params(alone, 0), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_the_sources_separate_what_they_should():
    grid = fit((0, 1, 2), sources=((0, 0, 0), (0, 1, 0), (0, 0, 1)))
    first = steps.init_states(MODEL, OPTIMIZER, [0, 0, 0], dropout_seeds=[0, 0, 1])
    # The same init seed: the same initial parameters; another dropout seed: another key.
    for leaf in jax.tree.leaves(first.params):
        np.testing.assert_array_equal(leaf[0], leaf[2])
    assert not np.array_equal(first.dropout_key[0], first.dropout_key[2])
    # Each source alone changes the run.
    losses = [h["loss"] for h in grid.history]
    assert losses[0] != losses[1] and losses[0] != losses[2]


@pytest.mark.parametrize(
    "sources, message",
    [
        (((0, 0, 0),), "sources must be one distinct ('init', 'data', 'dropout') triple per seed"),
        (((0, 0, 0), (0, 0, 0)), "triple per seed (2)"),
        (((0, 0), (1, 1)), "triple per seed"),
    ],
)
def test_bad_sources_are_refused(sources, message):
    config = engine.FitConfig(seeds=(0, 1), epochs=1, batch_size=4, sources=sources)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        config.validate()


def test_source_seeds_default_to_the_seed_numbers():
    config = engine.FitConfig(seeds=(4, 5), epochs=1, batch_size=4)
    assert config.source_seeds("data") == (4, 5)
    grid = engine.FitConfig(seeds=(4, 5), epochs=1, batch_size=4, sources=((0, 1, 2), (3, 4, 5)))
    assert [grid.source_seeds(s) for s in ("init", "data", "dropout")] == [(0, 3), (1, 4), (2, 5)]


class Interrupt(Exception):
    pass


class StopAfterEpoch(Callback):
    def on_epoch_closed(self, run):  # after the epoch's checkpoint
        raise Interrupt


def test_a_checkpoint_saved_before_the_setting_resumes_and_another_grids_is_refused(tmp_path):
    directory = str(tmp_path / "checkpoints")
    old = {"seeds": 2}  # a record written before seeds_by_source existed
    with pytest.raises(Interrupt), Checkpointing(directory, old) as checkpoints:
        fit((0, 1), callbacks=[BestEpoch(), checkpoints, StopAfterEpoch()])
    now = {"seeds": 2, "seeds_by_source": ""}
    with Checkpointing(directory, now, resume=True) as checkpoints:
        resumed = fit((0, 1), callbacks=[BestEpoch(), checkpoints])
    assert resumed.history == plain().history  # bit-identical to an uninterrupted run
    for a, b in zip(params(resumed, 1), params(plain(), 1), strict=True):
        np.testing.assert_array_equal(a, b)
    grid = {"seeds": 2, "seeds_by_source": "data=2"}
    with (
        pytest.raises(ConfigError, match="seeds_by_source: saved '', now 'data=2'"),
        Checkpointing(directory, grid, resume=True) as checkpoints,
    ):
        fit((0, 1), sources=((0, 0, 0), (0, 1, 0)), callbacks=[checkpoints])
