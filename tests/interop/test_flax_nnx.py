"""The nnx cells equal the functional layers under nnx.RNN and nnx.Bidirectional, forward
and in gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rnn_attn.interop.flax_nnx import KerasGRUCell, KerasLSTMCell, KerasSimpleRNNCell
from rnn_attn.nn import recurrent

CELLS = {
    "simple_rnn": (KerasSimpleRNNCell, {}),
    "lstm": (KerasLSTMCell, {}),
    "gru": (KerasGRUCell, {}),
    "gru_reset_before": (KerasGRUCell, {"reset_after": False}),
}
BATCH, TIME, FEATURES, UNITS = 3, 7, 4, 5


def _cell(kind, seed=0):
    cls, config = CELLS[kind]
    # In float64 (the suite enables x64): nnx.RNN projects each step's inputs where ours
    # projects them all at once, so in float32 the sums round differently.
    return cls(FEATURES, UNITS, rngs=nnx.Rngs(seed), param_dtype=jnp.float64, **config)


def _close(a, b, tol=1e-6):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=tol, atol=tol)


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_nnx_rnn_and_bidirectional_are_the_functional_layers(kind):
    x = jax.random.normal(jax.random.PRNGKey(1), (BATCH, TIME, FEATURES), jnp.float64)
    cell = _cell(kind)
    params = cell.params()
    assert jax.tree.map(jnp.shape, params) == jax.tree.map(
        jnp.shape, cell.functional.init(jax.random.PRNGKey(0), FEATURES)
    )
    layer = nnx.RNN(cell)
    _close(layer(x), recurrent.rnn(cell.functional, params, x)[0])

    def nnx_loss(model):
        return jnp.sum(model(x) ** 2)

    grads = nnx.grad(nnx_loss)(layer)
    expected = jax.grad(lambda p: jnp.sum(recurrent.rnn(cell.functional, p, x)[0] ** 2))(params)
    _close({name: getattr(grads.cell, name)[...] for name in params}, expected)

    lengths = jnp.array([7, 4, 1])
    carry, _ = nnx.RNN(cell, return_carry=True)(x, seq_lengths=lengths)
    _close(carry, recurrent.rnn(cell.functional, params, x, lengths=lengths)[1])

    backward = _cell(kind, seed=1)
    both = nnx.Bidirectional(nnx.RNN(cell), nnx.RNN(backward))
    ours = recurrent.bidirectional(
        cell.functional, backward.functional, {"forward": params, "backward": backward.params()}, x
    )[0]
    _close(both(x), ours)


def test_params_load_into_a_cell():
    cell, other = _cell("lstm", 0), _cell("lstm", 1)
    other.load(cell.params())
    x = jnp.ones((2, 3, FEATURES), jnp.float64)
    _close(nnx.RNN(other)(x), nnx.RNN(cell)(x))


@pytest.mark.parametrize(
    "kind",
    # lstm (concat and mul) stands for the wrappers in the default tier; the other cells
    # (the wrappers do not depend on the cell) and merge modes in the slow one
    [
        k if k == "lstm" else pytest.param(k, marks=pytest.mark.slow)
        for k in (*sorted(CELLS), "lstm_all_merges")
    ],
)
def test_nnx_keras_layers_take_any_mask_and_merge_mode(kind):
    from rnn_attn.interop.flax_nnx import KerasBidirectional, KerasRNN

    # the LSTM with two merge modes by default; the slow tier's cases add the other two
    merge_modes = {"lstm": ("concat", "mul"), "lstm_all_merges": ("concat", "sum", "ave")}.get(
        kind, ("concat",)
    )
    kind = kind.removesuffix("_all_merges")
    x = jax.random.normal(jax.random.PRNGKey(2), (BATCH, TIME, FEATURES), jnp.float64)
    rows = np.arange(TIME)[None, :]
    masks = {
        "left": rows >= np.array([[0], [3], [6]]),
        "right": rows < np.array([[7], [4], [1]]),
        "holes": np.broadcast_to((rows % 3 != 1) | (rows == 0), (BATCH, TIME)),
    }
    forward, backward = _cell(kind, 0), _cell(kind, 1)
    f_params, b_params = forward.params(), backward.params()
    # Masks are arguments: one compilation serves the three paddings.
    run_nnx = nnx.jit(lambda layer, mask: layer(x, mask=mask))
    grad_nnx = nnx.jit(nnx.grad(lambda layer, mask: jnp.sum(layer(x, mask=mask)[0] ** 2)))
    grad_ours = jax.jit(
        jax.grad(
            lambda p, mask: jnp.sum(recurrent.rnn(forward.functional, p, x, mask=mask)[0] ** 2)
        )
    )
    rnns = {
        reverse: KerasRNN(forward, reverse=reverse, return_sequences=False)
        for reverse in (False, True)
    }
    bidirectionals = {m: KerasBidirectional(forward, backward, merge_mode=m) for m in merge_modes}
    for mask in map(jnp.asarray, masks.values()):
        for reverse, layer in rnns.items():
            _close(
                run_nnx(layer, mask),
                recurrent.rnn(
                    forward.functional,
                    f_params,
                    x,
                    mask=mask,
                    reverse=reverse,
                    return_sequences=False,
                ),
                tol=1e-6,
            )
        grads = grad_nnx(KerasRNN(forward), mask)
        expected = grad_ours(f_params, mask)
        _close({n: getattr(grads.cell, n)[...] for n in expected}, expected, tol=1e-6)
        # Every cell with concat; the other merge modes (one function, after both
        # directions) on the LSTM.
        for merge_mode, both in bidirectionals.items():
            _close(
                run_nnx(both, mask)[0],
                recurrent.bidirectional(
                    forward.functional,
                    backward.functional,
                    {"forward": f_params, "backward": b_params},
                    x,
                    mask=mask,
                    merge_mode=merge_mode,
                )[0],
                tol=1e-6,
            )
        grads = grad_nnx(bidirectionals["concat"], mask)
        expected = jax.grad(
            lambda p, mask=mask: jnp.sum(
                recurrent.bidirectional(forward.functional, backward.functional, p, x, mask=mask)[0]
                ** 2
            )
        )({"forward": f_params, "backward": b_params})
        for side, cell_grads in (("forward", grads.forward), ("backward", grads.backward)):
            _close({n: getattr(cell_grads, n)[...] for n in f_params}, expected[side], tol=1e-6)
