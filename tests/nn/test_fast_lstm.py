import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_attn.nn import cells
from rnn_attn.nn.fast_lstm import lstm_scan
from rnn_attn.nn.recurrent import bidirectional, has_fast_path, init_bidirectional, rnn


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


def _bi_setup(seed=0, batch=4, time=7, features=3, units=5):
    cell = cells.LSTMCell(units)
    params = init_bidirectional(jax.random.PRNGKey(seed), cell, cell, features)
    params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params)
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.normal(size=(batch, time, features)))
    return cell, params, x, rng


def _pre_padded_mask(lengths, time):
    """Keras 'pre' padding: the valid steps are the last ``lengths[b]``."""
    return jnp.arange(time)[None, :] >= time - jnp.asarray(lengths)[:, None]


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("masking", [None, "pre", "post"])
def test_fused_bidirectional_matches_generic(return_sequences, masking):
    cell, params, x, rng = _bi_setup()
    mask = None
    if masking == "pre":  # fully masked leading steps, rows of different lengths (one empty)
        mask = _pre_padded_mask([7, 3, 0, 5], 7)
    elif masking == "post":
        mask = jnp.arange(7)[None, :] < jnp.array([7, 2, 4, 1])[:, None]
    w_out = jnp.asarray(rng.normal(size=(4, 7, 10) if return_sequences else (4, 10)))

    def loss(p, x, fast):
        out, (c_f, c_b) = bidirectional(cell, cell, p, x, mask=mask,
                                        return_sequences=return_sequences, fast=fast)
        carries = jnp.concatenate([*c_f, *c_b], axis=-1)
        return jnp.sum(jnp.tanh(out) * w_out) + jnp.sum(carries**2), (out, (c_f, c_b))

    grad = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True), static_argnums=2)
    (v_fast, aux_fast), g_fast = grad(params, x, True)
    (v_ref, aux_ref), g_ref = grad(params, x, False)
    np.testing.assert_allclose(v_fast, v_ref, rtol=1e-12)
    for got, want in zip(jax.tree.leaves(aux_fast), jax.tree.leaves(aux_ref), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    for got, want in zip(jax.tree.leaves(g_fast), jax.tree.leaves(g_ref), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("mode", ["concat", "sum", "mul", "ave", "none"])
def test_fused_bidirectional_merge_modes_and_lengths(mode):
    cell, params, x, _ = _bi_setup(seed=1, batch=3, time=5)
    lengths = jnp.array([5, 1, 3])
    run = jax.jit(lambda p, x, fast: bidirectional(cell, cell, p, x, lengths=lengths,
                                                   merge_mode=mode, fast=fast),
                  static_argnums=2)
    fast, c_fast = run(params, x, True)
    ref, c_ref = run(params, x, False)
    for got, want in zip(jax.tree.leaves((fast, c_fast)), jax.tree.leaves((ref, c_ref)),
                         strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_fused_bidirectional_float32_and_unroll():
    cell = cells.LSTMCell(8)
    params = init_bidirectional(jax.random.PRNGKey(2), cell, cell, 6)
    x = jnp.asarray(np.random.default_rng(2).normal(size=(5, 9, 6)), jnp.float32)
    mask = _pre_padded_mask([9, 4, 0, 1, 6], 9)

    def loss(p, fast, unroll):
        out, _ = bidirectional(cell, cell, p, x, mask=mask, fast=fast, unroll=unroll)
        return jnp.sum(jnp.sin(out))

    grad = jax.jit(jax.value_and_grad(loss), static_argnums=(1, 2))
    ref_v, ref_g = grad(params, False, 1)
    for unroll in (3,):  # 9 steps: a partial unroll with a remainder
        v, g = grad(params, True, unroll)
        assert v.dtype == jnp.float32
        np.testing.assert_allclose(v, ref_v, rtol=1e-5)
        for got, want in zip(jax.tree.leaves(g), jax.tree.leaves(ref_g), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_fused_bidirectional_falls_back_for_other_cells():
    gru = cells.GRUCell(4)
    params = init_bidirectional(jax.random.PRNGKey(3), gru, gru, 2)
    x = jnp.asarray(np.random.default_rng(3).normal(size=(2, 3, 2)), jnp.float32)
    fast, _ = bidirectional(gru, gru, params, x, fast=True)
    ref, _ = bidirectional(gru, gru, params, x)
    np.testing.assert_array_equal(fast, ref)


def test_classifier_fast_flag_gives_the_same_logits_and_grads():
    from rnn_attn.models.text_classifiers import BiLSTMClassifier

    tokens = jnp.asarray(np.random.default_rng(4).integers(0, 50, size=(3, 12)), jnp.int32)
    tokens = tokens.at[1, :5].set(0)  # 'pre' padding
    for pooling in ("last", "masked_attention"):  # the projected-table path for both
        fast = BiLSTMClassifier(vocab_size=50, embed_dim=6, units=4, maxlen=12,
                                pooling=pooling)
        slow = dataclasses.replace(fast, fast=False)
        params = fast.init(jax.random.PRNGKey(5))

        def loss(p, model):
            return jnp.sum(model.apply(p, tokens, train=True, key=jax.random.PRNGKey(6)))

        grad = jax.jit(jax.value_and_grad(loss), static_argnums=1)
        v_f, g_f = grad(params, fast)
        v_s, g_s = grad(params, slow)
        np.testing.assert_allclose(v_f, v_s, rtol=1e-5)
        for got, want in zip(jax.tree.leaves(g_f), jax.tree.leaves(g_s), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_training_projects_only_the_batch_words_in_chunks_even_under_vmap():
    """Training projects the distinct words of a batch ROW_CHUNK rows at a time; batches
    needing one and three chunks, vmapped together (a loop with a per-seed trip count),
    give the gradients of the generic path."""
    from rnn_attn.models.text_classifiers import BiLSTMClassifier
    from rnn_attn.nn.fast_lstm import ROW_CHUNK

    rng = np.random.default_rng(7)
    vocab = 4 * ROW_CHUNK
    few = rng.integers(0, ROW_CHUNK // 2, size=(8, 160))  # one chunk of distinct words
    many = rng.permutation(vocab)[:1280].reshape(8, 160)  # three chunks
    assert len(np.unique(few)) < ROW_CHUNK < 2 * ROW_CHUNK < len(np.unique(many))
    tokens = jnp.asarray(np.stack([few, many]), jnp.int32)
    fast = BiLSTMClassifier(vocab_size=vocab, embed_dim=6, units=4, maxlen=160)
    slow = dataclasses.replace(fast, fast=False)
    params = fast.init(jax.random.PRNGKey(8))

    def grads(model, toks):
        def loss(p):
            return jnp.sum(model.apply(p, toks, train=True, key=jax.random.PRNGKey(9)))
        return jax.grad(loss)(params)

    batched = jax.jit(jax.vmap(lambda t: grads(fast, t)))(tokens)
    for s in range(2):
        want = jax.jit(lambda t: grads(slow, t))(tokens[s])
        got = jax.tree.map(lambda x, s=s: x[s], batched)
        for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6)
