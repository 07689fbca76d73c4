import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_attn.nn import cells
from rnn_attn.nn.fast_lstm import lstm_scan
from rnn_attn.nn.recurrent import (
    bidirectional,
    fused_kernel_for,
    init_bidirectional,
    kernel_choice,
    rnn,
)
from tests._tiers import covering, tiered


@pytest.mark.parametrize(
    "unroll, reverse, masked", covering([1, True], [False, True], [False, True])
)
def test_matches_autodiff_of_the_generic_scan(masked, reverse, unroll):
    cell = cells.LSTMCell(5)
    params = jax.tree.map(
        lambda a: jnp.asarray(a, jnp.float64), cell.init(jax.random.PRNGKey(0), 3)
    )
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(4, 6, 3)))
    lengths = jnp.array([6, 2, 4, 1]) if masked else None
    h0 = (jnp.asarray(rng.normal(size=(4, 5))), jnp.asarray(rng.normal(size=(4, 5))))
    w_out = jnp.asarray(rng.normal(size=(6, 5)))

    def loss(p, x, h0, choice):
        with kernel_choice(choice):
            out, (h, c) = rnn(
                cell, p, x, lengths=lengths, reverse=reverse, initial_carry=h0, unroll=unroll
            )
        return jnp.sum(jnp.tanh(out) * w_out) + jnp.sum(h * c) + jnp.sum(h**2)

    grad = jax.value_and_grad(loss, argnums=(0, 1, 2))
    value_fast, grads_fast = grad(params, x, h0, "fused")
    value_ref, grads_ref = grad(params, x, h0, "generic")
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
    ref, ref_carry = rnn(cell, params, x, reverse=True)
    np.testing.assert_allclose(jnp.moveaxis(ys, 0, 1)[:, ::-1], ref, atol=1e-6)
    np.testing.assert_allclose(h, ref_carry[0], atol=1e-6)


def test_fused_kernels_only_for_standard_activations():
    lstm = cells.LSTMCell(3)
    others = [
        cells.LSTMCell(3, recurrent_activation="hard_sigmoid"),
        cells.LSTMCell(3, activation="relu"),
        cells.LSTMCell(3, layer_norm=True),
        cells.GRUCell(3),
        cells.SimpleRNNCell(3),
    ]
    with kernel_choice("fused"):
        assert fused_kernel_for((lstm,)) is not None
        assert fused_kernel_for((lstm, lstm)) is not None
        assert fused_kernel_for((lstm, lstm), embedded=True) is not None
        for other in others:
            assert fused_kernel_for((other,)) is None
            assert fused_kernel_for((lstm, other), embedded=True) is None
        assert fused_kernel_for((lstm,), batch_ndim=2) is None
        assert fused_kernel_for((lstm, lstm), embedded=True, batch_ndim=2) is None
        assert fused_kernel_for((lstm,), recurrent_dropout=True) is None


def test_the_default_fuses_only_the_embedded_bidirectional_lstm():
    """What models get: the fused kernel for Embedding -> Bidirectional(LSTM) read through
    the table; layers on features keep the generic scan; ``generic`` turns it off."""
    lstm = cells.LSTMCell(3)
    assert fused_kernel_for((lstm, lstm), embedded=True) is not None
    assert fused_kernel_for((lstm, lstm)) is None
    assert fused_kernel_for((lstm,)) is None
    with kernel_choice("generic"):
        assert fused_kernel_for((lstm, lstm), embedded=True) is None
        with kernel_choice("default"):
            assert fused_kernel_for((lstm, lstm), embedded=True) is not None
        assert fused_kernel_for((lstm, lstm), embedded=True) is None
    assert fused_kernel_for((lstm, lstm), embedded=True) is not None
    with pytest.raises(ValueError, match="unknown kernel choice 'fast'"):
        with kernel_choice("fast"):
            pass


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


@pytest.mark.parametrize(
    "masking, return_sequences", covering([None, "pre", "post"], [True, False])
)
def test_fused_bidirectional_matches_generic(return_sequences, masking):
    cell, params, x, rng = _bi_setup()
    mask = None
    if masking == "pre":  # fully masked leading steps, rows of different lengths (one empty)
        mask = _pre_padded_mask([7, 3, 0, 5], 7)
    elif masking == "post":
        mask = jnp.arange(7)[None, :] < jnp.array([7, 2, 4, 1])[:, None]
    w_out = jnp.asarray(rng.normal(size=(4, 7, 10) if return_sequences else (4, 10)))

    def loss(p, x, choice):
        with kernel_choice(choice):
            out, (c_f, c_b) = bidirectional(
                cell, cell, p, x, mask=mask, return_sequences=return_sequences
            )
        carries = jnp.concatenate([*c_f, *c_b], axis=-1)
        return jnp.sum(jnp.tanh(out) * w_out) + jnp.sum(carries**2), (out, (c_f, c_b))

    grad = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True), static_argnums=2)
    (v_fast, aux_fast), g_fast = grad(params, x, "fused")
    (v_ref, aux_ref), g_ref = grad(params, x, "generic")
    np.testing.assert_allclose(v_fast, v_ref, rtol=1e-12)
    for got, want in zip(jax.tree.leaves(aux_fast), jax.tree.leaves(aux_ref), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    for got, want in zip(jax.tree.leaves(g_fast), jax.tree.leaves(g_ref), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    "mode", tiered(["concat", "sum", "mul", "ave", "none"], ["concat", "none"])
)
def test_fused_bidirectional_merge_modes_and_lengths(mode):
    cell, params, x, _ = _bi_setup(seed=1, batch=3, time=5)
    lengths = jnp.array([5, 1, 3])

    def layer(p, x, choice):
        with kernel_choice(choice):
            return bidirectional(cell, cell, p, x, lengths=lengths, merge_mode=mode)

    run = jax.jit(layer, static_argnums=2)
    fast, c_fast = run(params, x, "fused")
    ref, c_ref = run(params, x, "generic")
    for got, want in zip(
        jax.tree.leaves((fast, c_fast)), jax.tree.leaves((ref, c_ref)), strict=True
    ):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_fused_bidirectional_float32_and_unroll():
    cell = cells.LSTMCell(8)
    params = init_bidirectional(jax.random.PRNGKey(2), cell, cell, 6)
    x = jnp.asarray(np.random.default_rng(2).normal(size=(5, 9, 6)), jnp.float32)
    mask = _pre_padded_mask([9, 4, 0, 1, 6], 9)

    def loss(p, choice, unroll):
        with kernel_choice(choice):
            out, _ = bidirectional(cell, cell, p, x, mask=mask, unroll=unroll)
        return jnp.sum(jnp.sin(out))

    grad = jax.jit(jax.value_and_grad(loss), static_argnums=(1, 2))
    ref_v, ref_g = grad(params, "generic", 1)
    for unroll in (3,):  # 9 steps: a partial unroll with a remainder
        v, g = grad(params, "fused", unroll)
        assert v.dtype == jnp.float32
        np.testing.assert_allclose(v, ref_v, rtol=1e-5)
        for got, want in zip(jax.tree.leaves(g), jax.tree.leaves(ref_g), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_fused_bidirectional_falls_back_for_other_cells():
    gru = cells.GRUCell(4)
    params = init_bidirectional(jax.random.PRNGKey(3), gru, gru, 2)
    x = jnp.asarray(np.random.default_rng(3).normal(size=(2, 3, 2)), jnp.float32)
    with kernel_choice("fused"):
        fast, _ = bidirectional(gru, gru, params, x)
    with kernel_choice("generic"):
        ref, _ = bidirectional(gru, gru, params, x)
    np.testing.assert_array_equal(fast, ref)


@pytest.mark.parametrize("return_sequences", [True, False])
def test_embedded_bidirectional_matches_embedding_then_generic(return_sequences):
    """``bidirectional(..., embeddings=table)`` on token ids, fused by default, gives the
    generic layer on ``table[tokens]``; lengths and masks are checked as ``rnn`` does."""
    cell = cells.LSTMCell(4)
    params = init_bidirectional(jax.random.PRNGKey(10), cell, cell, 3)
    rng = np.random.default_rng(10)
    table = jnp.asarray(rng.normal(size=(20, 3)), jnp.float32)
    tokens = jnp.asarray(rng.integers(0, 20, size=(3, 6)), jnp.int32)
    lengths = jnp.array([6, 0, 2])
    layer = dict(lengths=lengths, return_sequences=return_sequences)
    fused, c_fused = bidirectional(cell, cell, params, tokens, embeddings=table, **layer)
    ref, c_ref = bidirectional(cell, cell, params, table[tokens], **layer)
    for got, want in zip(
        jax.tree.leaves((fused, c_fused)), jax.tree.leaves((ref, c_ref)), strict=True
    ):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="give either lengths or mask, not both"):
        bidirectional(
            cell, cell, params, tokens, embeddings=table, lengths=lengths, mask=tokens != 0
        )
    with pytest.raises(ValueError, match=r"mask of shape \(3, 5\) does not fit"):
        bidirectional(cell, cell, params, tokens, embeddings=table, mask=tokens[:, 1:] != 0)
    with pytest.raises(ValueError, match=r"lengths must lie in \[0, 6\]"):
        bidirectional(cell, cell, params, tokens, embeddings=table, lengths=lengths + 1)


def test_classifier_fused_and_generic_give_the_same_logits_and_grads():
    from rnn_attn.models.text_classifiers import BiLSTMClassifier

    tokens = jnp.asarray(np.random.default_rng(4).integers(0, 50, size=(3, 12)), jnp.int32)
    tokens = tokens.at[1, :5].set(0)  # 'pre' padding
    for pooling in ("last", "masked_attention"):  # the projected-table path for both
        model = BiLSTMClassifier(vocab_size=50, embed_dim=6, units=4, maxlen=12, pooling=pooling)
        params = model.init(jax.random.PRNGKey(5))

        def loss(p, model, choice):
            with kernel_choice(choice):
                return jnp.sum(model.apply(p, tokens, train=True, key=jax.random.PRNGKey(6)))

        grad = jax.jit(jax.value_and_grad(loss), static_argnums=(1, 2))
        v_f, g_f = grad(params, model, "default")
        v_s, g_s = grad(params, model, "generic")
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
    model = BiLSTMClassifier(vocab_size=vocab, embed_dim=6, units=4, maxlen=160)
    params = model.init(jax.random.PRNGKey(8))

    def grads(choice, toks):
        def loss(p):
            return jnp.sum(model.apply(p, toks, train=True, key=jax.random.PRNGKey(9)))

        with kernel_choice(choice):
            return jax.grad(loss)(params)

    batched = jax.jit(jax.vmap(lambda t: grads("default", t)))(tokens)
    for s in range(2):
        want = jax.jit(lambda t: grads("generic", t))(tokens[s])
        got = jax.tree.map(lambda x, s=s: x[s], batched)
        for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6)
