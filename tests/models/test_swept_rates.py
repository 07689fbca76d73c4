"""Rates and penalty coefficients given as arrays (a sweep's traced hyperparameters):
the same values as the numbers they hold, one program for every value, 0 included."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_attn.models.char_lm import CharRNN
from rnn_attn.models.forecasters import GRUForecaster
from rnn_attn.models.text_classifiers import make_text_model
from rnn_attn.nn.recurrent import check_rate, dropout_active, is_array

TOKENS = jax.random.randint(jax.random.PRNGKey(1), (4, 7), 0, 50)
KEY = jax.random.PRNGKey(2)


def _traced(model, name: str):
    """``apply`` (training mode) and ``regularization`` of ``model`` with the field
    ``name`` given as a traced array, jitted once."""

    @jax.jit
    def run(params, value):
        bound = dataclasses.replace(model, **{name: value})
        return bound.apply(params, TOKENS, train=True, key=KEY), bound.regularization(params)

    return run


@pytest.mark.parametrize(
    ("name", "field", "values"),
    [
        ("lstm_regularized", "dropout", (0.0, 0.2, 0.5)),
        ("lstm", "recurrent_dropout", (0.0, 0.3)),
        ("lstm_regularized", "bias_l1", (0.0, 0.01)),
        ("lstm_regularized", "bias_l2", (0.0, 0.05)),
        ("bilstm", "dropout", (0.0, 0.5)),
    ],
)
def test_an_array_rate_gives_the_numbers_values_in_one_program(name, field, values):
    model = make_text_model(name, vocab_size=50, maxlen=7 if name == "bilstm" else None)
    params = model.init(jax.random.PRNGKey(0))
    run = _traced(model, field)
    for value in values:
        plain = dataclasses.replace(model, **{field: value})
        logits, penalty = run(params, jnp.asarray(value))  # the dtype a number gets
        np.testing.assert_allclose(
            logits, plain.apply(params, TOKENS, train=True, key=KEY), rtol=1e-5, atol=1e-6
        )
        np.testing.assert_allclose(penalty, plain.regularization(params), rtol=1e-6)
    assert run._cache_size() == 1  # one program for every value, 0 included


def test_char_rnn_and_gru_forecaster_take_array_rates():
    char = CharRNN(vocab_size=50, units=8, dropout=jnp.float32(0.1), bias_l1=jnp.float32(0.0))
    assert is_array(char.dropout)
    gru = GRUForecaster(features=3, dropout=jnp.float32(0.0), recurrent_dropout=jnp.float32(0.2))
    out = gru.apply(gru.init(KEY), jnp.ones((2, 5, 3)), train=True, key=KEY)
    assert out.shape == (2,) and bool(jnp.all(jnp.isfinite(out)))


def test_numbers_are_still_checked_and_a_zero_number_adds_no_mask():
    with pytest.raises(ValueError, match="dropout must be a number in"):
        check_rate("dropout", 1.5)
    with pytest.raises(ValueError, match="bias_l1 must be"):
        make_text_model("lstm", bias_l1=-1.0)
    assert not dropout_active(0.0, True)
    assert dropout_active(jnp.float32(0.0), True)  # an array: the program keeps the mask
    assert not dropout_active(jnp.float32(0.5), False)
    with pytest.raises(ValueError, match="needs a PRNG key"):
        make_text_model("lstm", dropout=jnp.float32(0.0)).apply(
            make_text_model("lstm").init(KEY), TOKENS, train=True
        )
