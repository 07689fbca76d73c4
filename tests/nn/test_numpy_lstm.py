"""The numpy LSTM (forward and BPTT) against the project's JAX LSTM and finite differences."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_attn.nn import numpy_lstm
from rnn_attn.nn.cells import LSTMCell
from rnn_attn.nn.recurrent import rnn

BATCH, TIME, IN, UNITS = 4, 6, 3, 5


def _params(seed: int = 0) -> dict:
    """The JAX cell's Keras init in float64, with a non-zero bias so every path is used."""
    params = LSTMCell(UNITS).init(jax.random.PRNGKey(seed), IN)
    params = {k: np.asarray(v, np.float64) for k, v in params.items()}
    params["bias"] = params["bias"] + 0.3 * np.random.default_rng(seed).normal(size=4 * UNITS)
    return params


def _mask(kind: str, rng: np.random.Generator) -> np.ndarray | None:
    if kind == "none":
        return None
    if kind == "lengths":  # right padding, one row empty, one full
        lengths = np.array([TIME, 3, 0, 5])
        return np.arange(TIME)[None, :] < lengths[:, None]
    return rng.random((BATCH, TIME)) < 0.6  # holes anywhere: Keras allows any mask


def _problem(mask_kind: str, nonzero_state: bool, seed: int = 0):
    rng = np.random.default_rng(seed + 100)
    x = rng.normal(size=(BATCH, TIME, IN))
    h0 = rng.normal(size=(BATCH, UNITS)) if nonzero_state else np.zeros((BATCH, UNITS))
    c0 = rng.normal(size=(BATCH, UNITS)) if nonzero_state else np.zeros((BATCH, UNITS))
    # Random weights for a loss that reads every output and both halves of the final carry.
    r_out = rng.normal(size=(BATCH, TIME, UNITS))
    r_h, r_c = rng.normal(size=(BATCH, UNITS)), rng.normal(size=(BATCH, UNITS))
    return x, h0, c0, _mask(mask_kind, rng), (r_out, r_h, r_c)


def _jax_loss(params, x, h0, c0, mask, r):
    r_out, r_h, r_c = r
    out, (h_T, c_T) = rnn(LSTMCell(UNITS), params, x, mask=mask, initial_carry=(h0, c0))
    return jnp.sum(out * r_out) + jnp.sum(h_T * r_h) + jnp.sum(c_T * r_c)


def _numpy_loss(params, x, h0, c0, mask, r):
    r_out, r_h, r_c = r
    out, (h_T, c_T), _ = numpy_lstm.forward(params, x, h0, c0, mask)
    return np.sum(out * r_out) + np.sum(h_T * r_h) + np.sum(c_T * r_c)


CASES = [(m, s) for m in ("none", "lengths", "random") for s in (False, True)]


@pytest.mark.parametrize("mask_kind,nonzero_state", CASES)
def test_forward_matches_jax_rnn(mask_kind, nonzero_state):
    params = _params()
    x, h0, c0, mask, _ = _problem(mask_kind, nonzero_state)
    out, (h_T, c_T), _ = numpy_lstm.forward(params, x, h0, c0, mask)
    ref_out, (ref_h, ref_c) = rnn(
        LSTMCell(UNITS),
        params,
        jnp.asarray(x),
        mask=mask,
        initial_carry=(jnp.asarray(h0), jnp.asarray(c0)),
    )
    np.testing.assert_allclose(out, ref_out, rtol=0, atol=1e-10)
    np.testing.assert_allclose(h_T, ref_h, rtol=0, atol=1e-10)
    np.testing.assert_allclose(c_T, ref_c, rtol=0, atol=1e-10)
    if mask is not None:
        assert np.all(out[~mask] == 0.0)


_jax_grads = jax.jit(jax.grad(_jax_loss, argnums=(0, 1, 2, 3)))


@pytest.mark.parametrize("mask_kind,nonzero_state", CASES)
def test_backward_matches_jax_grad(mask_kind, nonzero_state):
    params = _params(1)
    x, h0, c0, mask, r = _problem(mask_kind, nonzero_state, seed=1)
    _, _, cache = numpy_lstm.forward(params, x, h0, c0, mask)
    grads = numpy_lstm.backward(params, cache, r[0], d_h_T=r[1], d_c_T=r[2])
    d_params, d_x, d_h0, d_c0 = _jax_grads(params, x, h0, c0, mask, r)
    expected = dict(d_params, x=d_x, h0=d_h0, c0=d_c0)
    assert set(grads) == set(expected)
    for name, value in expected.items():
        assert grads[name].shape == value.shape, name
        np.testing.assert_allclose(grads[name], value, rtol=0, atol=1e-5, err_msg=name)
    if mask is not None:
        # A masked step is a pass-through: its input gets no gradient.
        assert np.all(grads["x"][~mask] == 0.0)


def test_backward_matches_finite_differences():
    params = _params(2)
    x, h0, c0, mask, r = _problem("lengths", True, seed=2)
    _, _, cache = numpy_lstm.forward(params, x, h0, c0, mask)
    grads = numpy_lstm.backward(params, cache, r[0], d_h_T=r[1], d_c_T=r[2])
    inputs = dict(params, x=x, h0=h0, c0=c0)

    def loss(values):
        p = {k: values[k] for k in numpy_lstm.PARAM_KEYS}
        return _numpy_loss(p, values["x"], values["h0"], values["c0"], mask, r)

    eps = 1e-6
    rng = np.random.default_rng(3)
    for name, value in inputs.items():
        for _ in range(2):
            idx = tuple(rng.integers(0, n) for n in value.shape)
            if name == "x":
                idx = (1, 1, idx[2])  # a valid step (row 1 has length 3)
            plus, minus = value.copy(), value.copy()
            plus[idx] += eps
            minus[idx] -= eps
            numeric = (loss(dict(inputs, **{name: plus})) - loss(dict(inputs, **{name: minus}))) / (
                2 * eps
            )
            np.testing.assert_allclose(
                grads[name][idx], numeric, rtol=1e-6, atol=1e-8, err_msg=f"{name}{idx}"
            )


def test_init_params_matches_keras_cell_layout():
    params = numpy_lstm.init_params(np.random.default_rng(0), IN, UNITS)
    ref = LSTMCell(UNITS).init(jax.random.PRNGKey(0), IN)
    assert {k: v.shape for k, v in params.items()} == {k: v.shape for k, v in ref.items()}
    assert all(v.dtype == np.float64 for v in params.values())
    np.testing.assert_array_equal(params["bias"], np.asarray(ref["bias"]))  # unit forget bias
    rec = params["recurrent_kernel"]
    np.testing.assert_allclose(rec @ rec.T, np.eye(UNITS), atol=1e-12)  # orthonormal rows
    assert np.abs(params["kernel"]).max() <= np.sqrt(6 / (IN + 4 * UNITS))
    # The same weights run in both implementations.
    x = np.random.default_rng(1).normal(size=(2, 3, IN))
    out, _, _ = numpy_lstm.forward(params, x)
    np.testing.assert_allclose(out, rnn(LSTMCell(UNITS), params, jnp.asarray(x))[0], atol=1e-10)
    f32 = numpy_lstm.init_params(np.random.default_rng(0), IN, UNITS, dtype=np.float32)
    assert all(v.dtype == np.float32 for v in f32.values())


def test_clip_by_global_norm():
    rng = np.random.default_rng(0)
    grads = {"a": rng.normal(size=(3, 4)), "b": rng.normal(size=5)}
    norm = np.sqrt(sum(np.sum(g**2) for g in grads.values()))
    clipped, reported = numpy_lstm.clip_by_global_norm(grads, 0.5 * norm)
    assert reported == pytest.approx(norm)
    assert numpy_lstm.global_norm(clipped) == pytest.approx(0.5 * norm)
    for k in grads:  # same direction, halved
        np.testing.assert_allclose(clipped[k], 0.5 * grads[k])
    unchanged, reported = numpy_lstm.clip_by_global_norm(grads, 2 * norm)
    assert reported == pytest.approx(norm)
    for k in grads:
        np.testing.assert_array_equal(unchanged[k], grads[k])


def test_clip_by_value():
    grads = {"a": np.array([-3.0, -0.5, 0.2, 4.0])}
    np.testing.assert_array_equal(numpy_lstm.clip_by_value(grads, 1.0)["a"], [-1.0, -0.5, 0.2, 1.0])


def test_classifier_gradients_match_jax():
    """The trainer's gradients (readout included) against autodiff of the same model."""
    rng = np.random.default_rng(0)
    params = numpy_lstm.init_classifier(rng, 4, UNITS, 4)
    x, labels = numpy_lstm.first_symbol_batch(rng, 6, 5, 4)

    def jax_loss(p):
        lstm = {k: p[k] for k in numpy_lstm.PARAM_KEYS}
        _, (h_T, _) = rnn(LSTMCell(UNITS), lstm, jnp.asarray(x))
        logits = h_T @ p["dense_kernel"] + p["dense_bias"]
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], 1))

    loss, grads, _ = numpy_lstm.classifier_loss_and_grads(params, x, labels)
    assert loss == pytest.approx(float(jax.jit(jax_loss)(params)), abs=1e-12)
    expected = jax.jit(jax.grad(jax_loss))(params)
    for k in params:
        np.testing.assert_allclose(grads[k], expected[k], rtol=0, atol=1e-10, err_msg=k)


@pytest.mark.parametrize("optimizer,learning_rate", [("adam", 1e-2), ("sgd", 1.0)])
def test_training_learns_first_symbol(optimizer, learning_rate):
    # Chance is 25% (4 symbols) and the initial loss about ln 4 = 1.39.
    result = numpy_lstm.train_numpy_lstm(
        seed=0, steps=200, optimizer=optimizer, learning_rate=learning_rate, clip_norm=1.0
    )
    losses = result["losses"]
    assert losses.shape == (200,) and np.all(np.isfinite(losses))
    assert losses[:10].mean() > 1.2
    assert losses[-10:].mean() < 0.5 * losses[:10].mean()
    assert result["test_accuracy"] >= 0.95
    assert result["seconds"] < 5.0
