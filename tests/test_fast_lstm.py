import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_attn import cells
from rnn_attn.fast_lstm import lstm_scan
from rnn_attn.recurrent import has_fast_path, rnn


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("unroll", [1, True])
def test_matches_autodiff_of_the_generic_scan(masked, reverse, unroll):
    cell = cells.LSTMCell(5)
    params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64),
                          cell.init(jax.random.PRNGKey(0), 3))
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(4, 6, 3)))
    lengths = jnp.array([6, 2, 4, 1]) if masked else None
    h0 = (jnp.asarray(rng.normal(size=(4, 5))), jnp.asarray(rng.normal(size=(4, 5))))
    w_out = jnp.asarray(rng.normal(size=(6, 5)))

    def loss(p, x, h0, fast):
        out, (h, c) = rnn(cell, p, x, lengths=lengths, reverse=reverse, initial_carry=h0,
                          unroll=unroll, fast=fast)
        return jnp.sum(jnp.tanh(out) * w_out) + jnp.sum(h * c) + jnp.sum(h**2)

    value_fast, grads_fast = jax.value_and_grad(loss, argnums=(0, 1, 2))(params, x, h0, True)
    value_ref, grads_ref = jax.value_and_grad(loss, argnums=(0, 1, 2))(params, x, h0, False)
    np.testing.assert_allclose(value_fast, value_ref, rtol=1e-12)
    for got, want in zip(jax.tree.leaves(grads_fast), jax.tree.leaves(grads_ref), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_scan_reverse_keeps_time_index():
    cell = cells.LSTMCell(3)
    params = cell.init(jax.random.PRNGKey(1), 2)
    x = jnp.asarray(np.random.default_rng(1).normal(size=(2, 4, 2)), jnp.float32)
    xp = jnp.moveaxis(cell.project(params, x), 1, 0)
    zeros = jnp.zeros((2, 3))
    ys, (h, c) = lstm_scan(params["recurrent_kernel"], xp, zeros, zeros, None, True)
    ref, ref_carry = rnn(cell, params, x, reverse=True, fast=False)
    np.testing.assert_allclose(jnp.moveaxis(ys, 0, 1)[:, ::-1], ref, atol=1e-6)
    np.testing.assert_allclose(h, ref_carry[0], atol=1e-6)


def test_fast_path_only_for_standard_activations():
    assert has_fast_path(cells.LSTMCell(3))
    assert not has_fast_path(cells.LSTMCell(3, recurrent_activation="hard_sigmoid"))
    assert not has_fast_path(cells.GRUCell(3))
