"""The nnx cells equal the functional layers under nnx.RNN and nnx.Bidirectional, forward
and in gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rnn_attn.interop.flax_nnx import KerasGRUCell, KerasLSTMCell, KerasSimpleRNNCell
from rnn_attn.nn import recurrent

CELLS = {"simple_rnn": (KerasSimpleRNNCell, {}), "lstm": (KerasLSTMCell, {}),
         "gru": (KerasGRUCell, {}), "gru_reset_before": (KerasGRUCell,
                                                         {"reset_after": False})}
BATCH, TIME, FEATURES, UNITS = 3, 7, 4, 5


def _cell(kind, seed=0):
    cls, config = CELLS[kind]
    return cls(FEATURES, UNITS, rngs=nnx.Rngs(seed), **config)


def _close(a, b, tol=1e-5):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=tol, atol=tol)


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_nnx_rnn_and_bidirectional_are_the_functional_layers(kind):
    x = jax.random.normal(jax.random.PRNGKey(1), (BATCH, TIME, FEATURES), jnp.float32)
    cell = _cell(kind)
    params = cell.params()
    assert jax.tree.map(jnp.shape, params) == jax.tree.map(
        jnp.shape, cell.functional.init(jax.random.PRNGKey(0), FEATURES))
    layer = nnx.RNN(cell)
    _close(layer(x), recurrent.rnn(cell.functional, params, x)[0])

    def nnx_loss(model):
        return jnp.sum(model(x) ** 2)

    grads = nnx.grad(nnx_loss)(layer)
    expected = jax.grad(lambda p: jnp.sum(recurrent.rnn(cell.functional, p, x)[0] ** 2))(
        params)
    _close({name: getattr(grads.cell, name)[...] for name in params}, expected)

    lengths = jnp.array([7, 4, 1])
    carry, _ = nnx.RNN(cell, return_carry=True)(x, seq_lengths=lengths)
    _close(carry, recurrent.rnn(cell.functional, params, x, lengths=lengths)[1])

    backward = _cell(kind, seed=1)
    both = nnx.Bidirectional(nnx.RNN(cell), nnx.RNN(backward))
    ours = recurrent.bidirectional(cell.functional, backward.functional,
                                   {"forward": params, "backward": backward.params()}, x)[0]
    _close(both(x), ours)


def test_params_load_into_a_cell():
    cell, other = _cell("lstm", 0), _cell("lstm", 1)
    other.load(cell.params())
    x = jnp.ones((2, 3, FEATURES), jnp.float32)
    _close(nnx.RNN(other)(x), nnx.RNN(cell)(x))
