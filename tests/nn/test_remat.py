"""The rematerialised scan (``remat=n``, issue 33): the generic scan in chunks of ``n``
steps under ``jax.checkpoint`` gives the plain scan's values and gradients (float32: 1e-5
relative values, 1e-4 gradients) for every cell, masked or not, either direction, with
a time axis that ``n`` does not divide; it rules the fused kernels out (they save their
own residuals); and it lowers the compiled backward pass's temporary memory."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_attn.models.forecasters import make_forecaster
from rnn_attn.models.text_classifiers import make_text_model
from rnn_attn.nn import cells
from rnn_attn.nn.recurrent import (
    bidirectional,
    fused_kernel_for,
    kernel_choice,
    rnn,
    scan_projected,
    stacked_rnn,
)

T = 11  # 4 does not divide it: the last chunk is padded with masked steps
LENGTHS = jnp.array([11, 3, 6, 1])

# (cell, reverse, masked, recurrent dropout): every cell's step, each option on some; the
# default tier runs every cell kind, masked and not, either direction (each case compiles
# two programs: about 1-2 s), the slow tier the rest.
CASES = {
    "simple_rnn-unmasked": (cells.SimpleRNNCell(5), False, False, 0.0),
    "lstm-reverse-masked": (cells.LSTMCell(5), True, True, 0.0),
    "gru-reset_after-masked-dropout": (cells.GRUCell(5), False, True, 0.3),
    "lstm-unmasked": (cells.LSTMCell(5), False, False, 0.0),
    "lstm-layer_norm-reverse-unmasked": (cells.LSTMCell(5, layer_norm=True), True, False, 0.0),
    "gru-reset_before-reverse-masked": (cells.GRUCell(5, reset_after=False), True, True, 0.0),
}
DEFAULT = ("simple_rnn-unmasked", "lstm-reverse-masked", "gru-reset_after-masked-dropout")


def tiered(cases: dict | list, default) -> list:
    """``cases`` (name -> arguments, or names, each its one argument) as pytest parameters
    named by their names, those not in ``default`` slow."""
    if isinstance(cases, list):
        cases = {name: (name,) for name in cases}
    return [
        pytest.param(*value, id=name, marks=() if name in default else pytest.mark.slow)
        for name, value in cases.items()
    ]


def assert_same(got, want, rtol):
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=1e-6)


def value_and_grads(fn, params):
    """``fn(params)`` (outputs, final carry) and the gradient of a loss on both, in one
    jitted program."""

    def loss(p):
        outputs, carry = fn(p)
        return jnp.sum(jnp.tanh(outputs) ** 2) + sum(jnp.sum(c**2) for c in jax.tree.leaves(carry))

    return jax.jit(lambda p: (fn(p), jax.grad(loss)(p)))(params)


def primitives(jaxpr) -> set[str]:
    """The names of every primitive of ``jaxpr``, those of its inner programs included."""
    names = set()
    for eqn in jaxpr.eqns:
        names.add(eqn.primitive.name)
        for value in eqn.params.values():
            for inner in value if isinstance(value, list | tuple) else [value]:
                inner = getattr(inner, "jaxpr", inner)
                if hasattr(inner, "eqns"):
                    names |= primitives(inner)
    return names


def compare(cell, x, params, chunk, reverse=False, masked=True, rate=0.0):
    """``rnn`` with ``remat=chunk`` against the plain scan: values 1e-5, gradients 1e-4."""
    options = dict(
        lengths=LENGTHS if masked else None,
        reverse=reverse,
        recurrent_dropout=rate,
        train=rate > 0,
        key=jax.random.PRNGKey(2),
    )
    want = value_and_grads(lambda p: rnn(cell, p, x, **options), params)
    got = value_and_grads(lambda p: rnn(cell, p, x, remat=chunk, **options), params)
    assert_same(got[0], want[0], 1e-5)
    assert_same(got[1], want[1], 1e-4)


@pytest.mark.parametrize("cell,reverse,masked,rate", tiered(CASES, DEFAULT))
def test_remat_gives_the_plain_scans_values_and_gradients(cell, reverse, masked, rate):
    x = jax.random.normal(jax.random.PRNGKey(1), (4, T, 3), jnp.float32)
    compare(cell, x, cell.init(jax.random.PRNGKey(0), 3), 4, reverse, masked, rate)


@pytest.mark.parametrize("chunk", [50, pytest.param(T, marks=pytest.mark.slow)])
def test_a_chunk_as_long_as_the_sequence_or_longer_is_one_chunk(chunk):
    cell = cells.LSTMCell(5)
    x = jax.random.normal(jax.random.PRNGKey(1), (4, T, 3), jnp.float32)
    compare(cell, x, cell.init(jax.random.PRNGKey(0), 3), chunk, reverse=True)


CELL = cells.LSTMCell(4)
X = jax.random.normal(jax.random.PRNGKey(1), (3, 7, 4), jnp.float32)
MASK = jnp.arange(7)[None, :] < jnp.array([7, 2, 5])[:, None]
P = CELL.init(jax.random.PRNGKey(0), 4)
LAYERS = {  # (the layer with remat=n, its params)
    "scan_projected": (
        lambda p, n: scan_projected(CELL, p, CELL.project(p, X), mask=MASK, reverse=True, remat=n),
        P,
    ),
    "bidirectional": (
        lambda p, n: bidirectional(CELL, CELL, p, X, mask=MASK, remat=n),
        {"forward": P, "backward": CELL.init(jax.random.PRNGKey(3), 4)},
    ),
    "stacked_rnn": (lambda p, n: stacked_rnn([CELL, CELL], p, X, remat=n), [P, P]),
}


@pytest.mark.parametrize("name", tiered(list(LAYERS), ("bidirectional",)))
def test_remat_in_scan_projected_bidirectional_and_stacked_layers(name):
    layer, params = LAYERS[name]
    with kernel_choice("generic"):  # the plain scan to compare with
        want = value_and_grads(lambda p: layer(p, 0), params)
        got = value_and_grads(lambda p: layer(p, 3), params)
    assert_same(got[0], want[0], 1e-5)
    assert_same(got[1], want[1], 1e-4)


def test_remat_rules_the_fused_kernels_out():
    """The fused kernels keep every step's gate factors (``jax.custom_vjp``), which
    ``jax.checkpoint`` cannot chunk: a layer asking for remat runs on the generic scan,
    checkpointed, even under ``kernel_choice("fused")`` (values and gradients: the next
    tests' ``bilstm``)."""
    lstm = cells.LSTMCell(4)
    for choice in ("default", "fused"):
        with kernel_choice(choice):
            assert fused_kernel_for((lstm, lstm), embedded=True) is not None
            assert fused_kernel_for((lstm, lstm), embedded=True, remat=True) is None
            assert fused_kernel_for((lstm,), remat=True) is None
    tokens = jax.random.randint(jax.random.PRNGKey(1), (3, 9), 0, 20)
    sizes = dict(vocab_size=20, embed_dim=4, units=3, maxlen=9)
    fused, checkpointed = (make_text_model("bilstm", **sizes, remat=n) for n in (0, 4))
    params = fused.init(jax.random.PRNGKey(0))
    programs = {}
    for m in (fused, checkpointed):
        names = primitives(jax.make_jaxpr(m.apply)(params, tokens).jaxpr)
        programs[m.remat] = {
            "fused": any("custom_vjp" in n for n in names),
            "remat": any(n.startswith("remat") or n == "checkpoint" for n in names),
        }
    assert programs == {0: {"fused": True, "remat": False}, 4: {"fused": False, "remat": True}}


def test_remat_lowers_the_compiled_backward_passs_temporary_memory():
    cell = cells.LSTMCell(16)
    x = jnp.ones((8, 256, 16), jnp.float32)
    params = cell.init(jax.random.PRNGKey(0), 16)

    def temp_bytes(remat):
        def loss(p):
            return jnp.sum(rnn(cell, p, x, return_sequences=False, remat=remat)[0])

        return jax.jit(jax.grad(loss)).lower(params).compile().memory_analysis().temp_size_in_bytes

    plain, checkpointed = temp_bytes(0), temp_bytes(16)
    assert checkpointed < plain / 3, (plain, checkpointed)


@pytest.mark.parametrize("name", tiered(["bilstm", "lstm", "bidirectional_lstm"], ("bilstm",)))
def test_a_text_models_remat_changes_no_value(name):
    """Document 000's BiLSTM on its fused kernel against the checkpointed generic scan;
    document 002's LSTM and Bidirectional LSTM on the generic scan with and without."""
    tokens = jax.random.randint(jax.random.PRNGKey(1), (3, 9), 0, 20)
    sizes = dict(vocab_size=20, embed_dim=4, units=3, maxlen=9)
    plain, checkpointed = (make_text_model(name, **sizes, remat=n) for n in (0, 4))
    params = plain.init(jax.random.PRNGKey(0))
    want, got = (
        value_and_grads(lambda p, m=m: (m.apply(p, tokens), ()), params)
        for m in (plain, checkpointed)
    )
    assert_same(got[0], want[0], 1e-5)
    assert_same(got[1], want[1], 1e-4)


@pytest.mark.parametrize("name", tiered(["gru", "gru_stacked", "gru_bidirectional"], ("gru",)))
def test_a_forecasters_remat_changes_no_value(name):
    x = jax.random.normal(jax.random.PRNGKey(1), (3, 9, 2), jnp.float32)
    plain, checkpointed = (make_forecaster(name, 2, 9, remat=n) for n in (0, 4))
    params = plain.init(jax.random.PRNGKey(0))
    key = jax.random.PRNGKey(2)
    want, got = (
        value_and_grads(lambda p, m=m: (m.apply(p, x, train=True, key=key), ()), params)
        for m in (plain, checkpointed)
    )
    assert_same(got[0], want[0], 1e-5)
    assert_same(got[1], want[1], 1e-4)
