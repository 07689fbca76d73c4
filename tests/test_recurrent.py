import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_attn import cells, numpy_rnn
from rnn_attn.recurrent import (
    MERGE_MODES,
    bidirectional,
    init_bidirectional,
    init_stack,
    rnn,
    stacked_rnn,
)


@pytest.mark.parametrize("kind", ["simple_rnn", "lstm", "gru"])
def test_padded_batch_matches_each_sequence_alone(kind):
    cell = cells.make_cell(kind, 5)
    params = cell.init(jax.random.PRNGKey(0), 3)
    lengths = np.array([6, 2, 4, 1])
    x = np.random.default_rng(0).normal(size=(4, 6, 3)).astype(np.float32)
    x[np.arange(6)[None, :] >= lengths[:, None]] = 99.0  # padding must not leak in
    outputs, carry = rnn(cell, params, jnp.asarray(x), lengths=jnp.asarray(lengths))
    last, _ = rnn(cell, params, jnp.asarray(x), lengths=jnp.asarray(lengths),
                  return_sequences=False)
    for b, n in enumerate(lengths):
        alone, alone_carry = rnn(cell, params, jnp.asarray(x[b : b + 1, :n]))
        np.testing.assert_allclose(outputs[b, :n], alone[0], atol=1e-6)
        np.testing.assert_array_equal(outputs[b, n:], 0.0)  # masked steps emit zeros
        for got, want in zip(carry, alone_carry, strict=True):
            np.testing.assert_allclose(got[b], want[0], atol=1e-6)
        np.testing.assert_allclose(last[b], alone[0, -1], atol=1e-6)


def test_masked_scan_matches_numpy_loop():
    cell = cells.LSTMCell(4)
    params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), cell.init(jax.random.PRNGKey(2), 3))
    x = np.random.default_rng(3).normal(size=(3, 5, 3))
    lengths = np.array([5, 3, 1])
    for reverse in (False, True):
        out, carry = rnn(cell, params, jnp.asarray(x), lengths=jnp.asarray(lengths),
                         reverse=reverse)
        ref_out, ref_h, ref_c = numpy_rnn.run("lstm", jax.tree.map(np.asarray, params), x,
                                              lengths=lengths, reverse=reverse)
        np.testing.assert_allclose(out, ref_out, atol=1e-6)
        np.testing.assert_allclose(carry[0], ref_h, atol=1e-6)
        np.testing.assert_allclose(carry[1], ref_c, atol=1e-6)


def test_reverse_is_go_backwards():
    cell = cells.GRUCell(4)
    params = cell.init(jax.random.PRNGKey(0), 2)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 5, 2)), jnp.float32)
    backwards, carry_b = rnn(cell, params, x, reverse=True)
    flipped, carry_f = rnn(cell, params, x[:, ::-1])
    np.testing.assert_allclose(backwards, flipped, atol=1e-6)
    np.testing.assert_allclose(carry_b[0], carry_f[0], atol=1e-6)


def test_initial_state_and_unroll():
    cell = cells.LSTMCell(3)
    params = cell.init(jax.random.PRNGKey(0), 2)
    x = jnp.ones((2, 4, 2))
    h0 = (jnp.full((2, 3), 0.5), jnp.full((2, 3), -0.5))
    a, ca = rnn(cell, params, x, initial_carry=h0)
    b, cb = rnn(cell, params, x, initial_carry=h0, unroll=True)
    np.testing.assert_allclose(a, b, atol=1e-6)
    zero, _ = rnn(cell, params, x)
    assert not np.allclose(a, zero)
    # Continuing from a carry equals running the whole sequence.
    first, mid = rnn(cell, params, x[:, :2])
    second, end = rnn(cell, params, x[:, 2:], initial_carry=mid)
    whole, whole_end = rnn(cell, params, x)
    np.testing.assert_allclose(jnp.concatenate([first, second], 1), whole, atol=1e-6)
    np.testing.assert_allclose(end[1], whole_end[1], atol=1e-6)


@pytest.mark.parametrize("mode", MERGE_MODES)
def test_bidirectional_merge_modes(mode):
    fwd, bwd = cells.LSTMCell(3), cells.LSTMCell(3)
    params = init_bidirectional(jax.random.PRNGKey(0), fwd, bwd, 2)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 5, 2)), jnp.float32)
    lengths = jnp.array([5, 3])
    merged, _ = bidirectional(fwd, bwd, params, x, lengths=lengths, merge_mode=mode)
    y_f, _ = rnn(fwd, params["forward"], x, lengths=lengths)
    # The backward direction of each sequence is its valid part read backwards, realigned.
    y_b = np.zeros_like(np.asarray(y_f))
    for b, n in enumerate([5, 3]):
        alone, _ = rnn(bwd, params["backward"], x[b : b + 1, :n][:, ::-1])
        y_b[b, :n] = np.asarray(alone[0])[::-1]
    expected = {
        "concat": np.concatenate([y_f, y_b], -1),
        "sum": y_f + y_b,
        "mul": y_f * y_b,
        "ave": (y_f + y_b) / 2,
    }
    if mode == "none":
        np.testing.assert_allclose(merged[0], y_f, atol=1e-6)
        np.testing.assert_allclose(merged[1], y_b, atol=1e-6)
    else:
        np.testing.assert_allclose(merged, expected[mode], atol=1e-6)


def test_bidirectional_last_outputs_and_bad_mode():
    fwd, bwd = cells.GRUCell(3), cells.GRUCell(3)
    params = init_bidirectional(jax.random.PRNGKey(0), fwd, bwd, 2)
    x = jnp.ones((1, 4, 2))
    last, _ = bidirectional(fwd, bwd, params, x, return_sequences=False)
    seq, _ = bidirectional(fwd, bwd, params, x)
    np.testing.assert_allclose(last[:, :3], seq[:, -1, :3], atol=1e-6)
    np.testing.assert_allclose(last[:, 3:], seq[:, 0, 3:], atol=1e-6)
    with pytest.raises(ValueError, match="unknown merge mode 'max'"):
        bidirectional(fwd, bwd, params, x, merge_mode="max")


def test_stacked_layers_feed_each_other():
    stack = [cells.LSTMCell(4), cells.GRUCell(3)]
    params = init_stack(jax.random.PRNGKey(0), stack, 2)
    x = jnp.ones((2, 5, 2))
    out, carries = stacked_rnn(stack, params, x, return_sequences=False)
    h1, _ = rnn(stack[0], params[0], x)
    h2, _ = rnn(stack[1], params[1], h1, return_sequences=False)
    np.testing.assert_allclose(out, h2, atol=1e-6)
    assert len(carries) == 2


def test_rank_error_is_clear():
    cell = cells.LSTMCell(3)
    with pytest.raises(ValueError, match=r"\[batch, time, features\]"):
        rnn(cell, cell.init(jax.random.PRNGKey(0), 2), jnp.ones((4, 2)))
