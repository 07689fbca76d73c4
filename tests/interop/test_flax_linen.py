"""The linen cells and KerasRNN equal the functional layers, forward and in gradients."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_attn.interop.flax_linen import (
    KerasGRUCell,
    KerasLSTMCell,
    KerasRNN,
    KerasSimpleRNNCell,
)
from rnn_attn.nn import recurrent
from tests._tiers import tiered

# In float64 (the suite enables x64): Flax's scan projects each step's inputs where ours
# projects them all at once, so in float32 the sums round differently (~1e-6 relative).
F64 = {"param_dtype": jnp.float64}
CELLS = {
    "simple_rnn": lambda: KerasSimpleRNNCell(5, **F64),
    "lstm": lambda: KerasLSTMCell(5, **F64),
    "gru": lambda: KerasGRUCell(5, **F64),
    "gru_reset_before": lambda: KerasGRUCell(5, reset_after=False, **F64),
}
BATCH, TIME, FEATURES = 3, 7, 4


def _inputs(seed=0):
    return jax.random.normal(jax.random.PRNGKey(seed), (BATCH, TIME, FEATURES), jnp.float64)


def _close(a, b, tol=1e-6):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=tol, atol=tol)


@pytest.mark.parametrize("kind", tiered(sorted(CELLS), ["lstm"]))  # the rest: slow tier
def test_nn_rnn_over_a_linen_cell_is_the_functional_layer(kind):
    cell = CELLS[kind]()
    layer = nn.RNN(cell)
    x = _inputs()
    variables = layer.init(jax.random.PRNGKey(1), x)
    params = variables["params"]["cell"]
    # The linen params are the functional cell's tree, initialized by its init.
    functional = cell.functional()
    expected = functional.init(jax.random.PRNGKey(2), FEATURES)
    assert jax.tree.map(jnp.shape, params) == jax.tree.map(jnp.shape, expected)

    def linen_loss(p):
        return jnp.sum(layer.apply({"params": {"cell": p}}, x) ** 2)

    def functional_loss(p):
        return jnp.sum(recurrent.rnn(functional, p, x)[0] ** 2)

    _close(layer.apply(variables, x), recurrent.rnn(functional, params, x)[0])
    _close(jax.grad(linen_loss)(params), jax.grad(functional_loss)(params))


@pytest.mark.parametrize("kind", tiered(sorted(CELLS), ["gru_reset_before"]))
def test_right_padding_reverse_and_bidirectional_agree_with_the_functional_layers(kind):
    cell = CELLS[kind]()
    functional = cell.functional()
    x, lengths = _inputs(3), jnp.array([7, 4, 1])
    layer = nn.RNN(cell, return_carry=True)
    variables = layer.init(jax.random.PRNGKey(1), x)
    params = variables["params"]["cell"]
    carry, ys = layer.apply(variables, x, seq_lengths=lengths)
    expected_ys, expected_carry = recurrent.rnn(functional, params, x, lengths=lengths)
    valid = np.arange(TIME)[None, :] < np.asarray(lengths)[:, None]
    _close(np.asarray(ys)[valid], np.asarray(expected_ys)[valid])  # padding: Flax's own
    _close(carry, expected_carry)

    backward = nn.RNN(cell, reverse=True, keep_order=True)
    # Ours returns go_backwards's outputs in processing order, as Keras; keep_order flips.
    _close(
        backward.apply(variables, x),
        jnp.flip(recurrent.rnn(functional, params, x, reverse=True)[0], axis=1),
    )

    both = nn.Bidirectional(nn.RNN(cell), nn.RNN(CELLS[kind]()))
    bi_variables = both.init(jax.random.PRNGKey(4), x)
    p = bi_variables["params"]
    ours = recurrent.bidirectional(
        functional,
        functional,
        {"forward": p["forward_rnn"]["cell"], "backward": p["backward_rnn"]["cell"]},
        x,
    )[0]
    _close(both.apply(bi_variables, x), ours)


def _mask(padding):
    rows = np.arange(TIME)[None, :]
    mask = {
        "left": rows >= np.array([[0], [3], [6]]),
        "right": rows < np.array([[7], [4], [1]]),
        "holes": np.broadcast_to((rows % 3 != 1) | (rows == 0), (BATCH, TIME)),
    }[padding]
    return jnp.asarray(mask)


@pytest.mark.parametrize("kind", tiered(sorted(CELLS), ["gru"]))
def test_keras_rnn_takes_any_mask(kind):
    cell = CELLS[kind]()
    x = _inputs(5)
    layer = KerasRNN(cell, return_sequences=False)
    variables = layer.init(jax.random.PRNGKey(1), x)
    params = variables["params"]
    functional = cell.functional()

    def jitted(module, **options):
        """(linen, functional) as functions of (params, mask): the mask is an argument, so
        one compilation serves the three paddings; with their gradients."""
        linen = jax.jit(lambda p, mask: module.apply({"params": p}, x, mask=mask))
        ours = jax.jit(lambda p, mask: recurrent.rnn(functional, p, x, mask=mask, **options))
        return [(linen, ours), (loss(linen), loss(ours))]

    def loss(f):
        return jax.jit(jax.grad(lambda p, mask: jnp.sum(f(p, mask)[0] ** 2)))

    # Forward to the last valid step; and backwards (go_backwards), every step's output.
    pairs = jitted(layer, return_sequences=False) + jitted(
        KerasRNN(cell, reverse=True), reverse=True
    )
    linen = pairs[0][0]
    for padding in ("left", "right", "holes"):
        mask = _mask(padding)
        for f, g in pairs:
            _close(f(params, mask), g(params, mask), tol=1e-6)
    # Left padding: the last output is the last real step's, as with no padding at all.
    mask = _mask("left")
    last = layer.apply(variables, x[1:2, 3:], mask=mask[1:2, 3:])[0]
    _close(last, linen(params, mask)[0][1:2], tol=1e-6)


def test_keras_rnn_dropout_masks_are_drawn_from_the_dropout_rng():
    layer = KerasRNN(KerasLSTMCell(5), dropout=0.5, recurrent_dropout=0.5)
    x = _inputs(6)
    variables = layer.init(jax.random.PRNGKey(1), x)
    plain = KerasRNN(KerasLSTMCell(5)).apply(variables, x)[0]
    _close(layer.apply(variables, x)[0], plain)  # deterministic by default
    drop = {"dropout": jax.random.PRNGKey(7)}
    first = layer.apply(variables, x, deterministic=False, rngs=drop)[0]
    again = layer.apply(variables, x, deterministic=False, rngs=drop)[0]
    other = layer.apply(variables, x, deterministic=False, rngs={"dropout": jax.random.PRNGKey(8)})[
        0
    ]
    _close(first, again)
    assert not np.allclose(first, plain) and not np.allclose(first, other)


@pytest.mark.parametrize(
    "cell, count",
    [
        (KerasGRUCell(32), 4608),
        (KerasGRUCell(32, reset_after=False), 4512),
        (KerasLSTMCell(32), 6016),
        (KerasSimpleRNNCell(32), 1504),
    ],
)
def test_parameter_counts_are_keras(cell, count):
    """Keras's counts for 32 units on 14 features (the weather model's cells)."""
    x = jnp.zeros((1, 5, 14), jnp.float32)
    table = nn.tabulate(nn.RNN(cell), jax.random.PRNGKey(0))(x)
    assert f"{count:,}" in table
    variables = nn.RNN(cell).init(jax.random.PRNGKey(0), x)
    assert sum(v.size for v in jax.tree.leaves(variables)) == count


def test_document_models_as_flax_modules_count_keras_parameters():
    """Document 000's IMDB models: Keras's summary gives 1,378,945 (BiLSTM) and
    1,379,273 (BiLSTM + attention pooling) trainable parameters."""
    from rnn_attn.interop.flax_linen import FlaxModel
    from rnn_attn.models.text_classifiers import BiLSTMClassifier

    tokens = jnp.zeros((2, 200), jnp.int32)
    for pooling, count in (("last", 1_378_945), ("attention", 1_379_273)):
        model = BiLSTMClassifier(pooling=pooling)
        module = FlaxModel(model)
        table = nn.tabulate(module, jax.random.PRNGKey(0))(tokens)
        assert f"{count:,}" in table, table
        variables = module.init(jax.random.PRNGKey(0), tokens)
        _close(module.apply(variables, tokens), model.apply(variables["params"]["model"], tokens))
        dropped = module.apply(
            variables, tokens, deterministic=False, rngs={"dropout": jax.random.PRNGKey(1)}
        )
        assert dropped.shape == module.apply(variables, tokens).shape


# Every cell with concat; the other merge modes (one function, after both directions) on
# the LSTM (the README's command runs two of these cases, the slow tier the rest).
@pytest.mark.parametrize(
    "kind, merge_mode",
    tiered(
        [(kind, "concat") for kind in sorted(CELLS)]
        + [("lstm", mode) for mode in ("sum", "mul", "ave")],
        [("simple_rnn", "concat"), ("lstm", "mul")],
    ),
)
def test_keras_bidirectional_with_masks_and_merge_modes(kind, merge_mode):
    from rnn_attn.interop.flax_linen import KerasBidirectional

    x = _inputs(8)
    layer = KerasBidirectional(CELLS[kind](), CELLS[kind](), merge_mode=merge_mode)
    variables = layer.init(jax.random.PRNGKey(1), x)
    functional = CELLS[kind]().functional()

    @jax.jit
    def linen(p, mask):
        return layer.apply({"params": p}, x, mask=mask)[0]

    @jax.jit
    def ours(p, mask):
        return recurrent.bidirectional(
            functional, functional, p, x, mask=mask, merge_mode=merge_mode
        )[0]

    def grad(f):
        return jax.jit(jax.grad(lambda p, mask: jnp.sum(f(p, mask) ** 2)))

    linen_grad, our_grad = grad(linen), grad(ours)
    p = variables["params"]
    for padding in ("left", "right", "holes"):
        mask = _mask(padding)
        _close(linen(p, mask), ours(p, mask), tol=1e-6)
        _close(linen_grad(p, mask), our_grad(p, mask), tol=1e-6)


@pytest.mark.parametrize("kind", tiered(["lstm", "gru"], ["gru"]))
def test_cells_drop_out_as_keras_under_nn_rnn(kind):
    """With the 'dropout' rng not split over steps, a cell's masks are the same at every
    step: the functional layer's dropout for the same key, exactly."""
    from rnn_attn.interop import flax_linen

    key = jax.random.PRNGKey(11)
    base = {"lstm": flax_linen.KerasLSTMCell, "gru": flax_linen.KerasGRUCell}[kind]

    class FixedKey(base):  # the key recurrent.rnn is given below
        def _dropout_key(self):
            return key

    rates = {"dropout": 0.3, "recurrent_dropout": 0.4}
    cell = FixedKey(5, deterministic=False, **rates, **F64)
    layer = nn.RNN(cell, split_rngs={"params": False, "dropout": False})
    x = _inputs(9)
    variables = layer.init(jax.random.PRNGKey(1), x)
    params = variables["params"]["cell"]
    ours = recurrent.rnn(cell.functional(), params, x, train=True, key=key, **rates)[0]
    _close(layer.apply(variables, x), ours, tol=1e-6)
    plain = recurrent.rnn(cell.functional(), params, x)[0]
    assert not np.allclose(np.asarray(ours), np.asarray(plain))
    # The real cell, rngs from Flax: reproducible, and off when deterministic.
    real = nn.RNN(
        base(5, deterministic=False, **rates, **F64), split_rngs={"params": False, "dropout": False}
    )
    drop = {"dropout": jax.random.PRNGKey(3)}
    _close(real.apply(variables, x, rngs=drop), real.apply(variables, x, rngs=drop))
    _close(nn.RNN(base(5, **rates, **F64)).apply(variables, x), plain, tol=1e-6)


def test_the_other_document_models_as_flax_modules():
    """The seq2seq with Bahdanau attention, a forecaster and the character LM: the module
    holds the model's own tree (its parameter count) and gives its outputs."""
    from rnn_attn.interop.flax_linen import FlaxModel
    from rnn_attn.models.char_lm import CharRNN
    from rnn_attn.models.forecasters import make_forecaster
    from rnn_attn.models.seq2seq import make_model

    cases = [
        (make_model("attention", 6, units=8), jax.nn.one_hot(jnp.arange(10).reshape(2, 5) % 6, 6)),
        (make_forecaster("gru", 14, 12, units=8), jnp.ones((2, 12, 14), jnp.float32)),
        (CharRNN(7, units=8), jnp.zeros((2, 10), jnp.int32)),
    ]
    for model, inputs in cases:
        module = FlaxModel(model)
        variables = module.init(jax.random.PRNGKey(0), inputs)
        own = model.init(jax.random.PRNGKey(0))
        count = sum(v.size for v in jax.tree.leaves(own))
        assert sum(v.size for v in jax.tree.leaves(variables)) == count
        assert f"{count:,}" in nn.tabulate(module, jax.random.PRNGKey(0))(inputs)
        _close(module.apply(variables, inputs), model.apply(variables["params"]["model"], inputs))
