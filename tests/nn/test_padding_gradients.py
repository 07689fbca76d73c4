"""Padding never reaches a gradient: NaN (or any value) in masked-out steps leaves the
outputs AND the gradients finite, and equal to those of zero padding, on every path that
takes a mask (the generic scan, every fused kernel, the attention decoder and pooling).

A ``where`` that only discards a masked step's result is not enough: on the way back its
zero cotangent meets the step's NaN (``0 * NaN = NaN``). The layers zero masked inputs
before any arithmetic; these tests failed before they did."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_attn.models.text_classifiers import attention_pool, make_text_model
from rnn_attn.nn import attention, cells
from rnn_attn.nn.fast_lstm import lstm_scan
from rnn_attn.nn.recurrent import (
    bidirectional,
    init_bidirectional,
    kernel_choice,
    length_mask,
    rnn,
    scan_projected,
)
from tests._tiers import covering, tiered

B, T, F = 3, 6, 4
LENGTHS = np.array([6, 3, 1])
MASK = length_mask(jnp.asarray(LENGTHS), T)


def padded(fill: float, *, pre: bool = False) -> tuple[jax.Array, jax.Array]:
    """``(x <float32>[B, T, F], mask)``: random valid steps, ``fill`` in the padding
    (after the sequence, or before it with ``pre``)."""
    mask = np.asarray(MASK)[:, ::-1] if pre else np.asarray(MASK)
    x = np.random.default_rng(0).normal(size=(B, T, F)).astype(np.float32)
    x[~mask] = fill
    return jnp.asarray(x), jnp.asarray(mask)


def value_and_grads(fn, *args):
    """``fn``'s output and the gradient of a scalar of it w.r.t. every argument, both
    compiled as a model's step is (the NaN and the zero padding share the programs; run
    op by op the layers are many times slower)."""
    out = jax.jit(fn)(*args)
    argnums = tuple(range(len(args)))
    grads = jax.jit(jax.grad(lambda *a: jnp.sum(jnp.sin(fn(*a))), argnums=argnums))(*args)
    return out, grads


def assert_nan_padding_is_harmless(fn, args_nan, args_zero):
    """Finite outputs and gradients with NaN padding, equal to zero padding's."""
    out_nan, grads_nan = value_and_grads(fn, *args_nan)
    out_zero, grads_zero = value_and_grads(fn, *args_zero)
    assert np.all(np.isfinite(out_nan)), "outputs not finite"
    leaves_nan, leaves_zero = jax.tree.leaves(grads_nan), jax.tree.leaves(grads_zero)
    for got, want in zip(leaves_nan, leaves_zero, strict=True):
        assert np.all(np.isfinite(got)), "a gradient is not finite"
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out_nan, out_zero, rtol=1e-6, atol=1e-6)


RNN_CASES = list(
    itertools.product([False, True], ["lstm", "gru", "simple_rnn"], ["generic", "fused"])
)
# The default tier: every cell, both paddings, both paths, the fused LSTM kernel included.
RNN_DEFAULT = [(False, "lstm", "fused"), (True, "lstm", "generic"), (True, "gru", "fused")]
RNN_DEFAULT += [(False, "simple_rnn", "generic")]


@pytest.mark.parametrize("pre, kind, choice", tiered(RNN_CASES, RNN_DEFAULT))
def test_rnn_nan_padding_gives_finite_gradients(kind, choice, pre):
    cell = cells.make_cell(kind, 5)
    params = cell.init(jax.random.PRNGKey(1), F)
    x_nan, mask = padded(np.nan, pre=pre)
    x_zero, _ = padded(0.0, pre=pre)
    with kernel_choice(choice):
        for reverse in (False, True):

            def fn(p, x, reverse=reverse):
                return rnn(cell, p, x, mask=mask, reverse=reverse)[0]

            assert_nan_padding_is_harmless(fn, (params, x_nan), (params, x_zero))


@pytest.mark.parametrize("choice", ["generic", "fused"])
def test_scan_projected_nan_padding_gives_finite_gradients(choice):
    cell = cells.LSTMCell(5)
    params = cell.init(jax.random.PRNGKey(2), F)
    x_nan, mask = padded(np.nan)
    x_zero, _ = padded(0.0)
    proj_nan = jnp.where(mask[..., None], cell.project(params, x_zero), jnp.nan)
    proj_zero = jnp.where(mask[..., None], proj_nan, 0.0)
    with kernel_choice(choice):

        def fn(p, xp):
            return scan_projected(cell, p, xp, mask=mask)[0]

        assert_nan_padding_is_harmless(fn, (params, proj_nan), (params, proj_zero))


def test_the_fused_kernel_itself_ignores_nan_at_masked_steps():
    cell = cells.LSTMCell(5)
    params = cell.init(jax.random.PRNGKey(3), F)
    x_zero, mask = padded(0.0)
    proj = jnp.moveaxis(cell.project(params, x_zero), 1, 0)
    masks = jnp.moveaxis(mask, 1, 0)
    proj_nan = jnp.where(masks[..., None], proj, jnp.nan)
    proj_zero = jnp.where(masks[..., None], proj, 0.0)
    h0 = jnp.zeros((B, 5))

    def fn(kernel, xp):
        return lstm_scan(kernel, xp, h0, h0, masks)[0]

    kernel = params["recurrent_kernel"]
    assert_nan_padding_is_harmless(fn, (kernel, proj_nan), (kernel, proj_zero))


@pytest.mark.parametrize(
    "kind, choice",
    tiered(
        itertools.product(["lstm", "gru"], ["generic", "fused"]),
        [("lstm", "fused"), ("gru", "generic")],
    ),
)
def test_bidirectional_nan_padding_gives_finite_gradients(kind, choice):
    cell = cells.make_cell(kind, 5)
    params = init_bidirectional(jax.random.PRNGKey(4), cell, cell, F)
    x_nan, mask = padded(np.nan)
    x_zero, _ = padded(0.0)
    with kernel_choice(choice):

        def fn(p, x):
            return bidirectional(cell, cell, p, x, mask=mask)[0]

        assert_nan_padding_is_harmless(fn, (params, x_nan), (params, x_zero))


@pytest.mark.parametrize(
    "return_sequences, choice", covering([True, False], ["generic", "default"])
)
def test_embedded_bidirectional_nan_padding_row_gives_finite_gradients(choice, return_sequences):
    """The padding token's embedding row (token 0, masked) is NaN; the words' rows are
    not. ``default`` runs the fused embedded kernel."""
    cell = cells.LSTMCell(5)
    params = init_bidirectional(jax.random.PRNGKey(5), cell, cell, F)
    vocab = 9
    table = jax.random.normal(jax.random.PRNGKey(6), (vocab, F), jnp.float32)
    tokens = jnp.where(MASK, jax.random.randint(jax.random.PRNGKey(7), (B, T), 1, vocab), 0)
    table_nan, table_zero = table.at[0].set(jnp.nan), table.at[0].set(0.0)
    with kernel_choice(choice):

        def fn(p, e):
            out, _ = bidirectional(
                cell,
                cell,
                p,
                tokens,
                embeddings=e,
                mask=MASK,
                return_sequences=return_sequences,
            )
            return out

        out_nan, (g_params, g_table) = value_and_grads(fn, params, table_nan)
        out_zero, (z_params, z_table) = value_and_grads(fn, params, table_zero)
    assert np.all(np.isfinite(out_nan))
    for got, want in zip(jax.tree.leaves(g_params), jax.tree.leaves(z_params), strict=True):
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # The masked row gets no gradient; the words' rows the same as with a zero row.
    np.testing.assert_array_equal(g_table[0], 0.0)
    np.testing.assert_allclose(g_table[1:], z_table[1:], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out_nan, out_zero, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "pre, kind", covering([False, True], ["bahdanau", "luong_dot", "luong_general"])
)
def test_attention_decoder_nan_padding_gives_finite_gradients(kind, pre):
    decoder = attention.AttentionDecoder(F if kind == "luong_dot" else 6, 5, attention=kind)
    params = decoder.init(jax.random.PRNGKey(8), F)
    x_nan, mask = padded(np.nan, pre=pre)
    x_zero, _ = padded(0.0, pre=pre)

    def fn(p, h):
        return decoder.apply(p, h, mask=mask)

    assert_nan_padding_is_harmless(fn, (params, x_nan), (params, x_zero))


def test_attention_pooling_nan_padding_gives_finite_gradients():
    params = {
        "W": jax.random.normal(jax.random.PRNGKey(9), (F, 1)),
        "b": jax.random.normal(jax.random.PRNGKey(10), (T,)),
    }
    x_nan, mask = padded(np.nan)
    x_zero, _ = padded(0.0)

    def fn(p, h):
        return attention_pool(p, h, mask)[0]

    assert_nan_padding_is_harmless(fn, (params, x_nan), (params, x_zero))


@pytest.mark.slow  # whole-model gradients; the layer-level NaN-padding tests run in the default tier
def test_masked_attention_model_trains_past_a_nan_padding_row():
    """Document 000's masked model with a NaN embedding for the padding token: its loss
    and every gradient stay finite (its unmasked twin reads the padding and goes NaN)."""
    tokens = jnp.where(MASK, jax.random.randint(jax.random.PRNGKey(11), (B, T), 1, 20), 0)
    for name, finite in (("bilstm_masked_attention", True), ("bilstm_attention", False)):
        model = make_text_model(name, vocab_size=20, embed_dim=F, units=3, maxlen=T)
        params = model.init(jax.random.PRNGKey(12))
        params["embedding"]["embeddings"] = params["embedding"]["embeddings"].at[0].set(jnp.nan)
        grads = jax.grad(lambda p, m=model: jnp.sum(m.apply(p, tokens)))(params)
        assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads)) == finite, name
