import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_attn.nn import cells
from rnn_attn.nn.recurrent import rnn
from tests.oracles import numpy_rnn

CASES = [
    ("simple_rnn", {}),
    ("lstm", {}),
    ("gru", {"reset_after": True}),
    ("gru", {"reset_after": False}),
]


def _params64(cell, key, input_dim):
    params = cell.init(key, input_dim)
    # Non-zero biases so the bias paths are tested too.
    params["bias"] = params["bias"] + 0.1 * jax.random.normal(
        jax.random.PRNGKey(7), params["bias"].shape
    )
    return jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params)


@pytest.mark.parametrize("kind,options", CASES)
def test_forward_matches_numpy_reference(kind, options):
    cell = cells.make_cell(kind, 6, **options)
    params = _params64(cell, jax.random.PRNGKey(0), 4)
    x = np.random.default_rng(0).normal(size=(3, 7, 4))
    outputs, carry = rnn(cell, params, jnp.asarray(x))
    np_params = jax.tree.map(np.asarray, params)
    ref_out, ref_h, ref_c = numpy_rnn.run(kind, np_params, x, **options)
    np.testing.assert_allclose(outputs, ref_out, atol=1e-5)
    np.testing.assert_allclose(carry[0], ref_h, atol=1e-5)
    if kind == "lstm":
        np.testing.assert_allclose(carry[1], ref_c, atol=1e-5)


@pytest.mark.parametrize("kind,options", CASES)
def test_gradient_matches_finite_differences(kind, options):
    cell = cells.make_cell(kind, 3, **options)
    params = _params64(cell, jax.random.PRNGKey(1), 2)
    x = jnp.asarray(np.random.default_rng(1).normal(size=(2, 4, 2)))

    @jax.jit
    def loss(p):
        out, _ = rnn(cell, p, x)
        return jnp.sum(jnp.sin(out))

    grads = jax.grad(loss)(params)
    eps = 1e-6
    rng = np.random.default_rng(2)
    for name, value in params.items():
        flat = np.asarray(value).ravel()
        for idx in rng.choice(flat.size, size=min(5, flat.size), replace=False):
            bump = np.zeros_like(flat)
            bump[idx] = eps
            plus = dict(params, **{name: jnp.asarray((flat + bump).reshape(value.shape))})
            minus = dict(params, **{name: jnp.asarray((flat - bump).reshape(value.shape))})
            numeric = (loss(plus) - loss(minus)) / (2 * eps)
            np.testing.assert_allclose(
                np.asarray(grads[name]).ravel()[idx],
                numeric,
                rtol=1e-5,
                atol=1e-7,
                err_msg=f"{kind} {name}[{idx}]",
            )


def test_keras_initialization():
    cell = cells.LSTMCell(8)
    params = cell.init(jax.random.PRNGKey(0), 5)
    assert params["kernel"].shape == (5, 32)
    assert params["recurrent_kernel"].shape == (8, 32)
    # Unit forget bias, zeros elsewhere.
    np.testing.assert_array_equal(params["bias"][8:16], 1.0)
    np.testing.assert_array_equal(params["bias"][:8], 0.0)
    np.testing.assert_array_equal(params["bias"][16:], 0.0)
    # Orthogonal recurrent kernel [8, 32]: orthonormal rows.
    rec = np.asarray(params["recurrent_kernel"], np.float64)
    np.testing.assert_allclose(rec @ rec.T, np.eye(8), atol=1e-5)
    # Glorot-uniform bound sqrt(6 / (fan_in + fan_out)).
    assert np.abs(params["kernel"]).max() <= np.sqrt(6 / (5 + 32))
    gru = cells.GRUCell(4).init(jax.random.PRNGKey(1), 3)
    assert gru["bias"].shape == (2, 12)
    assert cells.GRUCell(4, reset_after=False).init(jax.random.PRNGKey(1), 3)["bias"].shape == (12,)


def test_unknown_cell_kind_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown cell kind 'tree'"):
        cells.make_cell("tree", 4)
    with pytest.raises(ValueError, match="units must be an integer >= 1"):
        cells.LSTMCell(0)
    with pytest.raises(ValueError, match="unknown activation"):
        cells.LSTMCell(4, recurrent_activation="swish2")


def test_hard_sigmoid_is_keras2():
    x = jnp.array([-5.0, -2.5, 0.0, 1.0, 2.5, 5.0])
    np.testing.assert_allclose(cells.hard_sigmoid(x), [0.0, 0.0, 0.5, 0.7, 1.0, 1.0])


def test_recurrent_mask_reaches_only_the_recurrent_matmul():
    # A mask of ones is no dropout; with every unit dropped, LSTM's gates see only x, but
    # its cell state c (the carry) still flows: c_t = f * c_{t-1} + i * g.
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 3)))
    for kind, options in CASES:
        cell = cells.make_cell(kind, 4, **options)
        params = _params64(cell, jax.random.PRNGKey(0), 3)
        carry = tuple(
            jnp.asarray(np.random.default_rng(1).normal(size=(2, 4)))
            for _ in cell.initial_carry((2,))
        )
        x_proj = cell.project(params, x)
        free = cell.step(params, carry, x_proj)
        ones = cell.step(params, carry, x_proj, jnp.ones((2, 4)))
        for a, b in zip(jax.tree.leaves(free), jax.tree.leaves(ones), strict=True):
            np.testing.assert_allclose(a, b, atol=1e-12, err_msg=kind)
    lstm = cells.LSTMCell(4)
    params = _params64(lstm, jax.random.PRNGKey(0), 3)
    h, c = (jnp.asarray(np.random.default_rng(k).normal(size=(2, 4))) for k in (2, 3))
    x_proj = lstm.project(params, x)
    (_, c_new), _ = lstm.step(params, (h, c), x_proj, jnp.zeros((2, 4)))
    i, f, g, _ = jnp.split(x_proj, 4, axis=-1)
    np.testing.assert_allclose(
        c_new, jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g), atol=1e-12
    )


def _np_layer_norm(z, n_gates, gain, bias, eps=1e-5):
    blocks = z.reshape(z.shape[0], n_gates, -1)
    normed = (blocks - blocks.mean(-1, keepdims=True)) / np.sqrt(
        blocks.var(-1, keepdims=True) + eps
    )
    return normed.reshape(z.shape) * gain + bias


def test_layer_norm_cells_match_a_numpy_loop():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 5, 3))
    for kind in ("simple_rnn", "lstm"):
        cell = cells.make_cell(kind, 4, layer_norm=True)
        params = jax.tree.map(
            lambda a: np.asarray(a, np.float64), cell.init(jax.random.PRNGKey(1), 3)
        )
        params["ln_gain"] = rng.uniform(0.5, 1.5, params["ln_gain"].shape)
        outputs, _ = rnn(cell, jax.tree.map(jnp.asarray, params), jnp.asarray(x))
        h = np.zeros((2, 4))
        c = np.zeros((2, 4))
        for t in range(5):
            z = _np_layer_norm(
                x[:, t] @ params["kernel"] + h @ params["recurrent_kernel"],
                cell.n_gates,
                params["ln_gain"],
                params["bias"],
            )
            if kind == "simple_rnn":
                h = np.tanh(z)
            else:
                i, f, g, o = np.split(z, 4, axis=-1)
                sig = lambda v: 1 / (1 + np.exp(-v))
                c = sig(f) * c + sig(i) * np.tanh(g)
                h = sig(o) * np.tanh(c)
            np.testing.assert_allclose(outputs[:, t], h, atol=1e-10)
    with pytest.raises(ValueError, match="layer_norm is implemented for SimpleRNN and LSTM"):
        cells.make_cell("gru", 4, layer_norm=True)


def test_residual_simple_rnn_adds_the_previous_state():
    cell = cells.make_cell("simple_rnn", 4, residual=True)
    plain = cells.make_cell("simple_rnn", 4)
    params = cell.init(jax.random.PRNGKey(0), 3)
    x = jax.random.normal(jax.random.PRNGKey(1), (2, 6, 3))
    outputs, _ = rnn(cell, params, x)
    h_prev = jnp.zeros((2, 4))
    for t in range(6):
        (step_h,), _ = plain(params, (h_prev,), x[:, t])
        np.testing.assert_allclose(outputs[:, t], h_prev + step_h, atol=1e-12)
        h_prev = outputs[:, t]


def test_lstm_forget_bias_option():
    bias = cells.LSTMCell(3, forget_bias=5.0).init(jax.random.PRNGKey(0), 2)["bias"]
    np.testing.assert_array_equal(bias, [0, 0, 0, 5, 5, 5, 0, 0, 0, 0, 0, 0])
    keras = cells.LSTMCell(3).init(jax.random.PRNGKey(0), 2)["bias"]
    np.testing.assert_array_equal(keras[3:6], 1.0)


def test_gru_update_bias_option():
    key = jax.random.PRNGKey(0)
    bias = cells.GRUCell(2, update_bias=5.0).init(key, 3)["bias"]
    np.testing.assert_array_equal(bias, [[5, 5, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]])
    bias = cells.GRUCell(2, update_bias=5.0, reset_after=False).init(key, 3)["bias"]
    np.testing.assert_array_equal(bias, [5, 5, 0, 0, 0, 0])
    np.testing.assert_array_equal(cells.GRUCell(2).init(key, 3)["bias"], np.zeros((2, 6)))
    # z is the share of the old state kept: with h U = 0 and x W = 0, z = sigmoid(5)
    cell = cells.GRUCell(
        2, update_bias=5.0, recurrent_initializer="zeros", kernel_initializer="zeros"
    )
    (h,), _ = cell(cell.init(key, 3), (jnp.ones((1, 2)),), jnp.zeros((1, 3)))
    np.testing.assert_allclose(h, jax.nn.sigmoid(5.0) * jnp.ones((1, 2)), rtol=1e-6)


@pytest.mark.parametrize(
    "cell",
    [
        cells.SimpleRNNCell(3),
        cells.SimpleRNNCell(3, layer_norm=True),
        cells.LSTMCell(3),
        cells.LSTMCell(3, layer_norm=True),
        cells.GRUCell(3),
        cells.GRUCell(3, reset_after=False),
    ],
    ids=["simple_rnn", "simple_rnn_ln", "lstm", "lstm_ln", "gru", "gru_reset_before"],
)
def test_param_shapes_are_those_init_makes(cell):
    """The names and shapes the params are checked against (``check_params``: ``rnn``,
    the nnx cells' ``load``, the weight converters) are the ones ``init`` gives."""
    params = cell.init(jax.random.PRNGKey(0), 5)
    assert cell.param_shapes(5) == {name: value.shape for name, value in params.items()}
    cell.check_params(params, where="here")  # the input width from the kernel
