"""The document-002 forecasters: shapes, Keras parameter counts, dropout only in training."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_attn.models.forecasters import (
    FORECASTERS,
    BidirectionalGRUForecaster,
    DenseForecaster,
    GRUForecaster,
    StackedGRUForecaster,
    make_forecaster,
)
from rnn_attn.models.summary import parameter_count

JENA_FEATURES = 14  # the lecture's Jena columns
LOOKBACK_STEPS = 240  # 1440 ten-minute rows at step 6


def _inputs(batch=3, steps=7, features=5, seed=0):
    return jax.random.normal(jax.random.PRNGKey(seed), (batch, steps, features), jnp.float32)


@pytest.mark.parametrize("name", sorted(FORECASTERS))
def test_every_forecaster_maps_windows_to_one_float_per_example(name):
    model = make_forecaster(name, 5, 7)
    params = model.init(jax.random.PRNGKey(0))
    out = model.apply(params, _inputs())
    assert out.shape == (3,) and out.dtype == jnp.float32
    assert np.all(np.isfinite(np.asarray(out)))
    out_train = model.apply(params, _inputs(), train=True, key=jax.random.PRNGKey(1))
    assert out_train.shape == (3,)
    assert float(model.regularization(params)) == 0.0


def _gru(f, u, reset_after=True):
    """Keras GRU parameters: kernel f x 3u, recurrent kernel u x 3u, bias 3u (two rows of
    3u with reset_after=True)."""
    return 3 * (f * u + u * u + (2 if reset_after else 1) * u)


def test_parameter_counts_follow_keras_arithmetic():
    f = JENA_FEATURES
    counts = {
        n: parameter_count(make_forecaster(n, f, LOOKBACK_STEPS).init(jax.random.PRNGKey(0)))
        for n in FORECASTERS
    }
    # Flatten 240 x 14 = 3,360 -> Dense(32): 3,360*32 + 32; Dense(1): 32 + 1.
    assert counts["dense"] == 3360 * 32 + 32 + 33 == 107_585
    # GRU(32) on 14 features, reset_after=True: 3*(14*32 + 32*32 + 2*32) = 4,608; + Dense 33.
    assert _gru(14, 32) == 4_608
    assert counts["gru"] == counts["gru_dropout"] == 4_608 + 33
    # GRU(32) -> GRU(64) on 32: 3*(32*64 + 64*64 + 2*64) = 18,816; Dense(64 -> 1) = 65.
    assert counts["gru_stacked"] == 4_608 + 18_816 + 65 == 23_489
    # Two GRU(32), concatenated (64) -> Dense(1).
    assert counts["gru_bidirectional"] == 2 * 4_608 + 65 == 9_281


def test_reset_after_false_is_the_original_gru_of_the_r_lecture():
    model = make_forecaster("gru", JENA_FEATURES, LOOKBACK_STEPS, reset_after=False)
    assert _gru(14, 32, reset_after=False) == 4_512
    assert parameter_count(model.init(jax.random.PRNGKey(0))) == 4_512 + 33


def test_registry_holds_the_lecture_hyperparameters():
    assert make_forecaster("gru_dropout", 14, 240) == GRUForecaster(
        14, units=32, dropout=0.2, recurrent_dropout=0.2
    )
    stacked = make_forecaster("gru_stacked", 14, 240)
    assert isinstance(stacked, StackedGRUForecaster)
    assert stacked.layer_units == (32, 64)
    assert stacked.dropout == (0.1, 0.1) and stacked.recurrent_dropout == (0.5, 0.5)
    assert stacked.activations == ("tanh", "relu")
    assert make_forecaster("dense", 14, 240) == DenseForecaster(14, 240, hidden=32)
    assert make_forecaster("gru_bidirectional", 14, 240) == BidirectionalGRUForecaster(14, 32)


@pytest.mark.parametrize("name", ["gru_dropout", "gru_stacked"])
def test_dropout_only_in_training_mode(name):
    model = make_forecaster(name, 5, 7)
    params = model.init(jax.random.PRNGKey(0))
    x = _inputs()
    infer = model.apply(params, x)
    # Inference ignores the key and never drops: same output with any key or none.
    np.testing.assert_array_equal(infer, model.apply(params, x, key=jax.random.PRNGKey(5)))
    a = model.apply(params, x, train=True, key=jax.random.PRNGKey(1))
    b = model.apply(params, x, train=True, key=jax.random.PRNGKey(2))
    assert not np.allclose(a, infer) and not np.allclose(a, b)
    with pytest.raises(ValueError, match="needs a PRNG key"):
        model.apply(params, x, train=True)


def test_recurrent_dropout_differs_from_a_plain_gru_in_training_only():
    plain = GRUForecaster(5, units=8)
    dropped = GRUForecaster(5, units=8, recurrent_dropout=0.5)
    params = plain.init(jax.random.PRNGKey(0))  # same parameter tree for both
    x, key = _inputs(), jax.random.PRNGKey(3)
    np.testing.assert_allclose(dropped.apply(params, x), plain.apply(params, x), rtol=1e-6)
    np.testing.assert_allclose(
        plain.apply(params, x, train=True, key=key), plain.apply(params, x), rtol=1e-6
    )
    assert not np.allclose(dropped.apply(params, x, train=True, key=key), plain.apply(params, x))


def test_dense_has_no_dropout_and_needs_its_window_length():
    model = make_forecaster("dense", 5, 7)
    params = model.init(jax.random.PRNGKey(0))
    np.testing.assert_array_equal(
        model.apply(params, _inputs()), model.apply(params, _inputs(), train=True)
    )
    with pytest.raises(ValueError, match=r"must be \[batch, 7, 5\], got shape \(3, 6, 5\)"):
        model.apply(params, _inputs(steps=6))


def test_bidirectional_reads_both_ways():
    """Its backward half is a GRU on the time-reversed window: swapping the halves'
    parameters and reversing time swaps the two halves of the features (the head sees
    [forward, backward])."""
    model = make_forecaster("gru_bidirectional", 5, 7, units=4)
    params = model.init(jax.random.PRNGKey(0))
    x = _inputs()
    swapped = dict(params, forward=params["backward"], backward=params["forward"])
    kernel = params["output"]["kernel"]
    swapped["output"] = {
        "kernel": jnp.concatenate([kernel[4:], kernel[:4]]),
        "bias": params["output"]["bias"],
    }
    np.testing.assert_allclose(
        model.apply(swapped, x[:, ::-1]), model.apply(params, x), rtol=1e-5, atol=1e-6
    )


def test_a_gru_forecaster_takes_any_window_length():
    model = make_forecaster("gru", 5, 7)
    params = model.init(jax.random.PRNGKey(0))
    assert model.apply(params, _inputs(steps=11)).shape == (3,)
    with pytest.raises(ValueError, match=r"must be \[batch, steps, 5\]"):
        model.apply(params, _inputs(features=4))


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: make_forecaster("lstm", 5, 7), "unknown forecaster 'lstm'; expected one of"),
        (lambda: make_forecaster("gru", 5, 7, hidden=3), "forecaster 'gru' has no option 'hidden'"),
        (
            lambda: make_forecaster("gru", 5, 7, dropout=1.0),
            r"dropout must be a number in \[0, 1\)",
        ),
        (lambda: make_forecaster("gru", 0, 7), "features must be an integer >= 1, got 0"),
        (lambda: make_forecaster("dense", 5, 0), "lookback_steps must be an integer >= 1, got 0"),
        (
            lambda: make_forecaster("gru_stacked", 5, 7, dropout=(0.1, 0.2, 0.3)),
            "dropout has 3 entries for 2 layers",
        ),
        (
            lambda: make_forecaster("gru_stacked", 5, 7, layer_units=()),
            "layer_units must be a non-empty list",
        ),
        (lambda: make_forecaster("gru_stacked", 5, 7, activations="swish"), "unknown activation"),
    ],
)
def test_bad_options_get_one_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
