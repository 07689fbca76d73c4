"""Keras fidelity of the Flax layers: nnx's ``load`` refuses what linen refuses (a weight
of another shape, a missing or unknown name) instead of broadcasting it, and the three
layers (``recurrent.rnn``, linen's and nnx's ``KerasRNN``) output zeros at a masked step
while keeping the carry, as their docstrings say."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rnn_attn.interop import flax_linen, flax_nnx
from rnn_attn.nn import cells, recurrent

FEATURES, UNITS = 3, 4


def _keras_reset_before_gru() -> dict:
    """A Keras ``GRU(reset_after=False)``'s weights: bias ``[3u]``, not ``[2, 3u]``."""
    return cells.GRUCell(UNITS, reset_after=False).init(jax.random.PRNGKey(1), FEATURES)


def test_linen_refuses_a_bias_of_the_other_gru_layout():
    cell = flax_linen.KerasGRUCell(UNITS)  # reset_after=True: bias [2, 3u]
    x = jnp.ones((2, FEATURES))
    carry = cell.initialize_carry(None, x.shape)
    with pytest.raises(Exception, match=r'"bias".*shape \(2, 12\).*shape \(12,\)'):
        cell.apply({"params": _keras_reset_before_gru()}, carry, x)


def test_nnx_load_refuses_a_bias_of_the_other_gru_layout_and_sets_nothing():
    # It broadcast the [3u] bias into both rows of [2, 3u]: outputs off by about 0.7.
    cell = flax_nnx.KerasGRUCell(FEATURES, UNITS, rngs=nnx.Rngs(0))
    before = cell.params()
    with pytest.raises(
        ValueError, match=r"KerasGRUCell.load: bias has shape \(12,\); expected \(2, 12\)"
    ):
        cell.load(_keras_reset_before_gru())
    for name, value in cell.params().items():  # nothing set, not even the kernels
        np.testing.assert_array_equal(value, before[name])


def test_nnx_load_refuses_missing_and_unknown_weights():
    cell = flax_nnx.KerasLSTMCell(FEATURES, UNITS, rngs=nnx.Rngs(0))
    params = cell.params()
    with pytest.raises(ValueError, match=r"KerasLSTMCell.load: no weight 'bias'; expected"):
        cell.load({k: v for k, v in params.items() if k != "bias"})
    with pytest.raises(ValueError, match=r"unknown weight 'functional'"):
        cell.load({**params, "functional": params["bias"]})
    with pytest.raises(TypeError, match="takes a dict of weights, got list"):
        cell.load(list(params.values()))
    cell.load(params)  # the right tree still loads


def _masked_case():
    x = jax.random.normal(jax.random.PRNGKey(2), (2, 5, FEATURES))
    # Holes and left padding: step 1 and 3 of row 0, steps 0-1 of row 1 are masked.
    mask = jnp.array([[1, 0, 1, 0, 1], [0, 0, 1, 1, 1]], bool)
    return x, mask


def _check_masked_outputs(outputs, carry, cell, params, x, mask):
    """Zeros at masked steps; valid steps and the final carry as the sequence of the
    valid steps alone (the numbers a Keras layer gives there)."""
    masked = ~np.asarray(mask)
    assert np.all(np.asarray(outputs)[masked] == 0.0)
    for row in range(x.shape[0]):
        valid = np.asarray(mask[row])
        alone, final = recurrent.rnn(cell, params, x[row : row + 1, valid])
        np.testing.assert_allclose(outputs[row, valid], alone[0], rtol=1e-5, atol=1e-6)
        for got, expected in zip(carry, final, strict=True):
            np.testing.assert_allclose(got[row], expected[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["simple_rnn", "lstm", "gru"])
def test_masked_steps_output_zeros_and_keep_the_carry_in_all_three_layers(kind):
    x, mask = _masked_case()
    cell = cells.make_cell(kind, UNITS)
    params = cell.init(jax.random.PRNGKey(0), FEATURES)
    # The functional layer (generic scan; the fused kernel for the LSTM too).
    _check_masked_outputs(*recurrent.rnn(cell, params, x, mask=mask), cell, params, x, mask)
    if kind == "lstm":
        with recurrent.kernel_choice("fused"):
            got = recurrent.rnn(cell, params, x, mask=mask)
        _check_masked_outputs(*got, cell, params, x, mask)
    # linen's KerasRNN, on the same params.
    linen_cell = {
        "simple_rnn": "KerasSimpleRNNCell",
        "lstm": "KerasLSTMCell",
        "gru": "KerasGRUCell",
    }
    layer = flax_linen.KerasRNN(getattr(flax_linen, linen_cell[kind])(UNITS))
    got = layer.apply({"params": params}, x, mask=mask)
    _check_masked_outputs(*got, cell, params, x, mask)
    # nnx's KerasRNN, the same params loaded.
    nnx_cell = getattr(flax_nnx, linen_cell[kind])(FEATURES, UNITS, rngs=nnx.Rngs(0))
    nnx_cell.load(params)
    _check_masked_outputs(*flax_nnx.KerasRNN(nnx_cell)(x, mask=mask), cell, params, x, mask)
