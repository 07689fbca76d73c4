"""Nothing silently wrong: the engine refuses token ids outside the model's vocabulary
before training and before an evaluation."""

import dataclasses

import numpy as np
import optax
import pytest

from rnn_attn.errors import ConfigError
from rnn_attn.models.text_classifiers import make_text_model
from rnn_attn.train import engine, feed, objectives

CONFIG = engine.FitConfig(seeds=(0, 1), epochs=2, batch_size=8, monitor="loss")


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
