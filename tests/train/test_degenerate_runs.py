"""Nothing silently wrong: the engine refuses token ids outside the model's vocabulary
before training, and a run that trained nothing (no parameter changed, every step of an
epoch skipped as non-finite, a mean of zero samples) ends with one clear error instead of
figures computed from nothing."""

import dataclasses

import numpy as np
import optax
import pytest

from rnn_attn.errors import ConfigError, DegenerateRunError
from rnn_attn.models.forecasters import make_forecaster
from rnn_attn.models.text_classifiers import make_text_model
from rnn_attn.train import engine, feed, objectives

CONFIG = engine.FitConfig(seeds=(0, 1), epochs=2, batch_size=8, monitor="loss")


def series(n=24, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, 5, 3)).astype(np.float32)
    return {"inputs": x, "targets": (x[:, -1, 0] + 0.3).astype(np.float32)}


FORECASTER = make_forecaster("gru", 3, 5, units=4)
MAE = objectives.mean_absolute_error()


def reviews(n=24, vocab=30, seed=0):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(1, vocab, size=(n, 6)).astype(np.int32)
    return {"inputs": tokens, "targets": rng.integers(0, 2, n).astype(np.float32)}


TEXT_MODEL = make_text_model("lstm", vocab_size=30, embed_dim=4, units=3)
BINARY = objectives.binary_classification()


@pytest.mark.parametrize("split", ["training", "validation"])
def test_token_ids_past_the_vocabulary_are_refused_before_training(split):
    """A tokenizer whose num_words exceeds the model's vocab_size: the gather would clamp
    the ids to the table's last row and train on garbage."""
    train, val = reviews(), reviews(10, seed=1)
    (train if split == "training" else val)["inputs"][3, 2] = 30
    data = engine.FitData(feed.Split(train), feed.Split(val))
    config = dataclasses.replace(CONFIG, monitor="val_loss")
    with pytest.raises(ConfigError) as info:
        engine.prepare(BINARY, TEXT_MODEL, data, config, optimizer=optax.sgd(0.1))
    assert str(info.value).startswith(
        f"the {split} split's token ids: the id 30 at row 3, position 2 is outside the "
        "vocabulary of 30 ids (0 .. 29)"
    )


def test_evaluated_token_ids_past_the_vocabulary_are_refused():
    fit = engine.fit(
        BINARY, TEXT_MODEL, engine.FitData(feed.Split(reviews())), CONFIG, optimizer=optax.sgd(0.1)
    )
    test = reviews(7, seed=2)
    fit.evaluate(feed.Split(test), 4)  # in range: fine
    test["inputs"][6, 5] = -1
    with pytest.raises(ConfigError, match=r"the evaluated split's token ids: the id -1 at row 6, "):
        fit.evaluate(feed.Split(test), 4)


def test_a_run_whose_parameters_never_change_is_refused():
    """A learning rate that zeroes every update: the run 'trained', and its figures were
    those of the initial model, without a word."""
    data = engine.FitData(feed.Split(series()))
    with pytest.raises(DegenerateRunError) as info:
        engine.fit(MAE, FORECASTER, data, CONFIG, optimizer=optax.sgd(1e-46))
    assert str(info.value).startswith(
        "seed 0: not one parameter changed in 6 training steps (seeds [1] too)"
    )
    engine.fit(MAE, FORECASTER, data, CONFIG, optimizer=optax.sgd(1e-2))  # trains: fine
    # A run meant to leave its parameters says so.
    frozen = dataclasses.replace(CONFIG, check_updates=False)
    engine.fit(MAE, FORECASTER, data, frozen, optimizer=optax.sgd(1e-46))


def test_an_epoch_whose_every_step_is_skipped_is_refused():
    """Under --on-nonfinite skip every step went NaN: the epoch's training loss was
    reported as 0.0 (0/0 behind max(count, 1))."""
    arrays = series()
    arrays["inputs"][:] = np.nan
    config = dataclasses.replace(CONFIG, on_nonfinite="skip")
    with pytest.raises(DegenerateRunError) as info:
        engine.fit(
            MAE, FORECASTER, engine.FitData(feed.Split(arrays)), config, optimizer=optax.sgd(0.1)
        )
    assert str(info.value).startswith(
        "seed 0: every one of the 3 training steps of epoch 1 was skipped as non-finite"
    )


def test_means_of_zero_samples_are_refused():
    assert engine.means({"count": 2.0, "loss": 3.0, "nonfinite_loss": 0.0}) == {"loss": 1.5}
    with pytest.raises(DegenerateRunError, match="the validation figures would be means of zero"):
        engine.means({"count": 0.0, "loss": 0.0}, "val_")
