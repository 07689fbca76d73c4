import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_attn.nn import cells
from rnn_attn.nn.recurrent import (
    MERGE_MODES,
    bidirectional,
    dropout_mask,
    init_bidirectional,
    kernel_choice,
    rnn,
    scan_projected,
    stacked_rnn,
)
from tests.oracles import numpy_rnn


@pytest.mark.parametrize("kind", ["simple_rnn", "lstm", "gru"])
def test_padded_batch_matches_each_sequence_alone(kind):
    cell = cells.make_cell(kind, 5)
    params = cell.init(jax.random.PRNGKey(0), 3)
    lengths = np.array([6, 2, 4, 1])
    x = np.random.default_rng(0).normal(size=(4, 6, 3)).astype(np.float32)
    x[np.arange(6)[None, :] >= lengths[:, None]] = 99.0  # padding must not leak in
    outputs, carry = rnn(cell, params, jnp.asarray(x), lengths=jnp.asarray(lengths))
    last, _ = rnn(
        cell, params, jnp.asarray(x), lengths=jnp.asarray(lengths), return_sequences=False
    )
    for b, n in enumerate(lengths):
        alone, alone_carry = rnn(cell, params, jnp.asarray(x[b : b + 1, :n]))
        np.testing.assert_allclose(outputs[b, :n], alone[0], atol=1e-6)
        np.testing.assert_array_equal(outputs[b, n:], 0.0)  # masked steps emit zeros
        for got, want in zip(carry, alone_carry, strict=True):
            np.testing.assert_allclose(got[b], want[0], atol=1e-6)
        np.testing.assert_allclose(last[b], alone[0, -1], atol=1e-6)


def init_stack(key, cells, input_dim):
    """Each cell's parameters, the next cell reading the previous one's units."""
    params = []
    for cell, k in zip(cells, jax.random.split(key, len(cells)), strict=True):
        params.append(cell.init(k, input_dim))
        input_dim = cell.units
    return params


def test_masked_scan_matches_numpy_loop():
    cell = cells.LSTMCell(4)
    params = jax.tree.map(
        lambda a: jnp.asarray(a, jnp.float64), cell.init(jax.random.PRNGKey(2), 3)
    )
    x = np.random.default_rng(3).normal(size=(3, 5, 3))
    lengths = np.array([5, 3, 1])
    for reverse in (False, True):
        out, carry = rnn(
            cell, params, jnp.asarray(x), lengths=jnp.asarray(lengths), reverse=reverse
        )
        ref_out, ref_h, ref_c = numpy_rnn.run(
            "lstm", jax.tree.map(np.asarray, params), x, lengths=lengths, reverse=reverse
        )
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


# -- dropout (Keras / Gal & Ghahramani: one mask per sequence, fixed over time) ----------

# (kind, options, reverse): each cell once, both directions covered.
DROPOUT_CASES = [
    ("simple_rnn", {}, False),
    ("lstm", {}, True),
    ("gru", {"reset_after": True}, False),
    ("gru", {"reset_after": False}, True),
]


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def _np_step(kind, options, p, h, c, x, m_in, m_rec):
    """One step in numpy with dropout written out: ``x * m_in`` feeds the kernel,
    ``h * m_rec`` feeds the recurrent kernel, the carried ``h``/``c`` stay undropped."""
    u = h.shape[-1]
    xd, hd = x * m_in, h * m_rec
    if kind == "simple_rnn":
        h = np.tanh(xd @ p["kernel"] + p["bias"] + hd @ p["recurrent_kernel"])
        return h, c
    if kind == "lstm":
        z = xd @ p["kernel"] + p["bias"] + hd @ p["recurrent_kernel"]
        i, f, g, o = (
            _sig(z[:, :u]),
            _sig(z[:, u : 2 * u]),
            np.tanh(z[:, 2 * u : 3 * u]),
            _sig(z[:, 3 * u :]),
        )
        c = f * c + i * g
        return o * np.tanh(c), c
    rec = p["recurrent_kernel"]
    if options["reset_after"]:
        xs = xd @ p["kernel"] + p["bias"][0]
        hs = hd @ rec + p["bias"][1]
        z = _sig(xs[:, :u] + hs[:, :u])
        r = _sig(xs[:, u : 2 * u] + hs[:, u : 2 * u])
        cand = np.tanh(xs[:, 2 * u :] + r * hs[:, 2 * u :])
    else:
        xs = xd @ p["kernel"] + p["bias"]
        z = _sig(xs[:, :u] + hd @ rec[:, :u])
        r = _sig(xs[:, u : 2 * u] + hd @ rec[:, u : 2 * u])
        cand = np.tanh(xs[:, 2 * u :] + (r * hd) @ rec[:, 2 * u :])
    return z * h + (1.0 - z) * cand, c  # the carried h_prev is NOT masked


def _np_run(kind, options, p, x, lengths, m_in, m_rec, reverse):
    batch, steps, _ = x.shape
    units = p["recurrent_kernel"].shape[0]
    h, c = np.zeros((batch, units)), np.zeros((batch, units))
    out = np.zeros((batch, steps, units))
    order = range(steps - 1, -1, -1) if reverse else range(steps)
    for k, t in enumerate(order):
        new_h, new_c = _np_step(kind, options, p, h, c, x[:, t], m_in, m_rec)  # same masks every t
        valid = (t < lengths)[:, None]
        h, c = np.where(valid, new_h, h), np.where(valid, new_c, c)
        out[:, k] = np.where(valid, new_h, 0.0)
    return out, h, c


def _float64_params(cell, key, input_dim):
    params = cell.init(key, input_dim)
    params["bias"] = params["bias"] + 0.1 * jax.random.normal(
        jax.random.PRNGKey(9), params["bias"].shape
    )
    return jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params)


@pytest.mark.parametrize("kind,options,reverse", DROPOUT_CASES)
def test_dropout_masks_are_fixed_over_time_and_match_numpy_loop(kind, options, reverse):
    cell = cells.make_cell(kind, 4, **options)
    params = _float64_params(cell, jax.random.PRNGKey(0), 3)
    x = np.random.default_rng(0).normal(size=(3, 5, 3))
    lengths = np.array([5, 2, 4])
    x[np.arange(5)[None, :] >= lengths[:, None]] = 99.0  # padding must not leak in
    key = jax.random.PRNGKey(42)
    # rnn's documented key use: (input_key, recurrent_key) = split(key).
    k_in, k_rec = jax.random.split(key)
    m_in = np.asarray(dropout_mask(k_in, 0.3, (3, 3), jnp.float64))
    m_rec = np.asarray(dropout_mask(k_rec, 0.5, (3, 4), jnp.float64))
    assert set(np.unique(m_rec)) == {0.0, 2.0}  # scaled by 1/(1 - rate)
    out, carry = rnn(
        cell,
        params,
        jnp.asarray(x),
        lengths=jnp.asarray(lengths),
        reverse=reverse,
        dropout=0.3,
        recurrent_dropout=0.5,
        train=True,
        key=key,
    )
    ref_out, ref_h, ref_c = _np_run(
        kind, options, jax.tree.map(np.asarray, params), x, lengths, m_in, m_rec, reverse
    )
    np.testing.assert_allclose(out, ref_out, atol=1e-10)
    np.testing.assert_allclose(carry[0], ref_h, atol=1e-10)
    if kind == "lstm":
        np.testing.assert_allclose(carry[1], ref_c, atol=1e-10)


def test_dropped_units_never_reach_the_recurrent_kernel():
    # Independent of how the masks are drawn: a unit dropped for a sequence is dropped at
    # EVERY step, so its row of the recurrent kernel gets exactly zero gradient from that
    # sequence; a per-step mask would leak gradient into every row.
    cell = cells.GRUCell(6)  # the cell whose h has the most paths (z, r, candidate, carry)
    params = cell.init(jax.random.PRNGKey(1), 2)
    x = jnp.asarray(np.random.default_rng(1).normal(size=(2, 7, 2)))
    key = jax.random.PRNGKey(3)
    m_rec = dropout_mask(jax.random.split(key)[1], 0.5, (2, 6), jnp.float64)

    def row_losses(rec):
        out, _ = rnn(
            cell, dict(params, recurrent_kernel=rec), x, recurrent_dropout=0.5, train=True, key=key
        )
        return jnp.sum(jnp.sin(out), axis=(1, 2))  # one loss per sequence

    jac = np.abs(np.asarray(jax.jacrev(row_losses)(params["recurrent_kernel"]))).sum(-1)
    for b in range(2):
        g = jac[b]
        dropped = np.asarray(m_rec[b]) == 0.0
        assert dropped.any() and (~dropped).any()
        np.testing.assert_array_equal(g[dropped], 0.0)
        assert np.all(g[~dropped] > 0.0)


def test_dropout_off_at_inference_and_reproducible_by_key():
    cell = cells.LSTMCell(4)
    params = cell.init(jax.random.PRNGKey(0), 3)
    x = jnp.asarray(np.random.default_rng(2).normal(size=(4, 5, 3)), jnp.float32)
    # Jitted so that calls differing only in the key share one compilation.
    run = jax.jit(
        lambda key, **kw: rnn(cell, params, x, key=key, **kw)[0],
        static_argnames=("train", "dropout", "recurrent_dropout"),
    )
    rates = dict(dropout=0.4, recurrent_dropout=0.4)
    k1, k2 = jax.random.PRNGKey(1), jax.random.PRNGKey(2)
    # train=False (the default) is exactly the no-dropout layer, key or not.
    np.testing.assert_array_equal(rnn(cell, params, x, **rates)[0], rnn(cell, params, x)[0])
    plain = run(None, train=False)  # compared with jitted runs: same compiler, same rounding
    np.testing.assert_array_equal(run(k1, train=False, **rates), plain)
    # Rates of zero with train=True change nothing either.
    np.testing.assert_array_equal(run(k1, train=True), plain)
    a, b, c = (run(k, train=True, **rates) for k in (k1, k1, k2))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert not np.allclose(a, plain)
    # Each kind of dropout on its own is active.
    assert not np.allclose(run(k1, train=True, dropout=0.4), plain)
    assert not np.allclose(run(k1, train=True, recurrent_dropout=0.4), plain)


def test_gru_update_uses_the_undropped_previous_state():
    # z * h_prev must use the carried h, not the dropped one: with every unit of the
    # recurrent input dropped (mask 0), the new state is z * h_prev + (1 - z) * tanh(x-part).
    for reset_after in (True, False):
        cell = cells.GRUCell(3, reset_after=reset_after)
        params = _float64_params(cell, jax.random.PRNGKey(0), 2)
        h_prev = jnp.asarray(np.random.default_rng(0).normal(size=(2, 3)))
        x_proj = cell.project(params, jnp.asarray(np.random.default_rng(1).normal(size=(2, 2))))
        (h,), _ = cell.step(params, (h_prev,), x_proj, jnp.zeros((2, 3)))
        rec_bias = params["bias"][1] if reset_after else jnp.zeros(9)
        xz, xr, xh = jnp.split(x_proj, 3, axis=-1)
        bz, br, bh = jnp.split(rec_bias, 3)
        z = jax.nn.sigmoid(xz + bz)
        cand = jnp.tanh(xh + jax.nn.sigmoid(xr + br) * bh)
        np.testing.assert_allclose(h, z * h_prev + (1 - z) * cand, atol=1e-12)
        assert not np.allclose(h, (1 - z) * cand)  # the carry was not zeroed


def test_stacked_dropout_and_fast_path_fallback():
    stack = [cells.LSTMCell(4), cells.GRUCell(3)]
    params = init_stack(jax.random.PRNGKey(0), stack, 2)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 5, 2)), jnp.float32)
    key = jax.random.PRNGKey(5)
    out, _ = stacked_rnn(
        stack,
        params,
        x,
        return_sequences=False,
        dropout=[0.1, 0.2],
        recurrent_dropout=0.5,
        train=True,
        key=key,
    )
    k0, k1 = jax.random.split(key, 2)
    h1, _ = rnn(stack[0], params[0], x, dropout=0.1, recurrent_dropout=0.5, train=True, key=k0)
    h2, _ = rnn(
        stack[1],
        params[1],
        h1,
        return_sequences=False,
        dropout=0.2,
        recurrent_dropout=0.5,
        train=True,
        key=k1,
    )
    np.testing.assert_allclose(out, h2, atol=1e-6)
    with pytest.raises(ValueError, match="dropout has 3 rates for 2 layers"):
        stacked_rnn(stack, params, x, dropout=[0.1, 0.1, 0.1])
    # The fused kernels have no recurrent mask: with one active, even kernel_choice("fused")
    # takes the generic scan, same numbers.
    cell = stack[0]
    with kernel_choice("fused"):
        fast, _ = rnn(cell, params[0], x, recurrent_dropout=0.5, train=True, key=key)
    with kernel_choice("generic"):
        slow, _ = rnn(cell, params[0], x, recurrent_dropout=0.5, train=True, key=key)
    np.testing.assert_allclose(fast, slow, atol=1e-6)


@pytest.mark.parametrize(
    "rates,message",
    [
        (dict(dropout=1.0), r"dropout must be a number in \[0, 1\), got 1.0"),
        (dict(recurrent_dropout=-0.1), r"recurrent_dropout must be a number in \[0, 1\), got -0.1"),
        (dict(dropout="0.2"), r"dropout must be a number in \[0, 1\), got '0.2'"),
        (dict(recurrent_dropout=float("nan")), r"recurrent_dropout must be .* got nan"),
    ],
)
def test_bad_dropout_rates_are_clear_errors(rates, message):
    cell = cells.SimpleRNNCell(2)
    params = cell.init(jax.random.PRNGKey(0), 2)
    with pytest.raises(ValueError, match=message):
        rnn(cell, params, jnp.ones((1, 3, 2)), **rates)


def test_training_dropout_without_a_key_is_a_clear_error():
    cell = cells.SimpleRNNCell(2)
    params = cell.init(jax.random.PRNGKey(0), 2)
    with pytest.raises(ValueError, match=r"train=True with recurrent_dropout=0.5 needs a PRNG key"):
        rnn(cell, params, jnp.ones((1, 3, 2)), recurrent_dropout=0.5, train=True)
    with pytest.raises(ValueError, match="needs a PRNG key"):
        scan_projected(cell, params, jnp.ones((1, 3, 2)), recurrent_dropout=0.5, train=True)
    with pytest.raises(ValueError, match="needs a PRNG key"):
        stacked_rnn([cell], [params], jnp.ones((1, 3, 2)), dropout=0.5, train=True)


# -- the params' names and shapes, checked at every entry point --------------------------------


def _lstm_params(**changes):
    params = cells.LSTMCell(4).init(jax.random.PRNGKey(0), 3)
    return {**params, **changes}


X = jnp.zeros((2, 5, 3))


@pytest.mark.parametrize(
    "params, message",
    [
        (
            {"kernel": jnp.zeros((3, 16))},
            "rnn (LSTMCell of 4 units): no weight 'recurrent_kernel', no weight 'bias'; "
            "expected exactly the weights ['kernel', 'recurrent_kernel', 'bias']",
        ),
        (_lstm_params(extra=jnp.zeros(3)), "rnn (LSTMCell of 4 units): unknown weight 'extra'"),
        (
            _lstm_params(recurrent_kernel=jnp.zeros((5, 16))),
            "rnn (LSTMCell of 4 units): recurrent_kernel has shape (5, 16); expected (4, 16)",
        ),
        (_lstm_params(bias=jnp.zeros(())), "bias has shape (); expected (16,)"),
    ],
    ids=["missing", "unknown", "recurrent_shape", "scalar_bias"],
)
def test_rnn_refuses_params_of_other_names_or_shapes(params, message):
    """A name missing gave a KeyError from inside the cell; a scalar bias was broadcast."""
    with pytest.raises(ValueError) as info:
        rnn(cells.LSTMCell(4), params, X)
    assert message in str(info.value)


def test_rnn_refuses_a_reset_before_gru_bias_in_a_reset_after_cell():
    """A ``reset_after=False`` bias ``[3u]`` read by a ``reset_after=True`` cell: its
    ``bias[0]`` was one number broadcast over every gate (outputs silently wrong)."""
    params = cells.GRUCell(4).init(jax.random.PRNGKey(0), 3)
    params["bias"] = params["bias"][0]
    with pytest.raises(ValueError, match=r"rnn \(GRUCell of 4 units\): bias has shape \(12,\)"):
        rnn(cells.GRUCell(4), params, X)


def test_rnn_refuses_params_that_are_not_a_dict():
    with pytest.raises(TypeError, match=r"rnn \(LSTMCell of 4 units\) takes a dict of weights"):
        rnn(cells.LSTMCell(4), None, X)


def test_scan_projected_checks_the_params_too():
    params = _lstm_params()
    del params["recurrent_kernel"]
    with pytest.raises(ValueError, match="no weight 'recurrent_kernel'"):
        scan_projected(cells.LSTMCell(4), params, jnp.zeros((2, 5, 16)))


@pytest.mark.parametrize("kernel", ["generic", "fused"])
def test_bidirectional_checks_each_direction_before_any_kernel(kernel):
    cell = cells.LSTMCell(4)
    params = init_bidirectional(jax.random.PRNGKey(0), cell, cell, 3)
    with kernel_choice(kernel):
        with pytest.raises(ValueError, match="expected exactly the directions"):
            bidirectional(cell, cell, {"forward": params["forward"]}, X)
        del params["backward"]["bias"]
        with pytest.raises(
            ValueError, match=r"bidirectional backward \(LSTMCell of 4 units\): no weight 'bias'"
        ):
            bidirectional(cell, cell, params, X)


def test_stacked_rnn_checks_one_params_per_cell_and_each_layer():
    stack = [cells.GRUCell(4), cells.GRUCell(2)]
    params = init_stack(jax.random.PRNGKey(0), stack, 3)
    with pytest.raises(ValueError, match="2 cells and 1 parameter sets"):
        stacked_rnn(stack, params[:1], X)
    del params[1]["kernel"]
    with pytest.raises(
        ValueError, match=r"stacked_rnn layer 1 \(GRUCell of 2 units\): no weight 'kernel'"
    ):
        stacked_rnn(stack, params, X)


PROJECTION_CASES = {  # every cell's step, each direction on some; two in the slow tier
    "simple_rnn": (cells.SimpleRNNCell(6), False),
    "lstm-reverse": (cells.LSTMCell(6), True),
    "gru-reset_after": (cells.GRUCell(6, reset_after=True), False),
    "lstm-layer_norm": (cells.LSTMCell(6, layer_norm=True), False, pytest.mark.slow),
    "gru-reset_before-reverse": (cells.GRUCell(6, reset_after=False), True, pytest.mark.slow),
}


@pytest.mark.parametrize(
    "cell,reverse",
    [pytest.param(*case[:2], id=name, marks=case[2:]) for name, case in PROJECTION_CASES.items()],
)
def test_projecting_each_step_in_the_loop_gives_the_projection_before_it(cell, reverse):
    """``rnn`` on the generic scan projects each step's inputs inside the loop;
    ``scan_projected`` of ``cell.project`` over every step is the other way: float32 values
    within 1e-5 relative and gradients within 1e-4, with masks and recurrent dropout."""
    x = jax.random.normal(jax.random.PRNGKey(1), (4, 7, 5), jnp.float32)
    lengths = jnp.array([7, 3, 5, 1])
    mask = jnp.arange(7)[None, :] < lengths[:, None]
    key = jax.random.PRNGKey(2)
    options = dict(reverse=reverse, recurrent_dropout=0.3, train=True)

    def per_step(params):
        return rnn(cell, params, x, lengths=lengths, key=key, **options)

    def before(params):  # rnn draws its recurrent mask from the second half of key
        projected = cell.project(params, jnp.where(mask[..., None], x, 0.0))
        recurrent_key = jax.random.split(key)[1]
        return scan_projected(cell, params, projected, mask=mask, key=recurrent_key, **options)

    def both(params):  # one compiled program: values and gradients of both ways
        def loss(fn, p):
            return jnp.sum(jnp.tanh(fn(p)[0]) ** 2)

        return [
            (fn(params), jax.grad(lambda p, f=fn: loss(f, p))(params)) for fn in (per_step, before)
        ]

    (values, grads), (want_values, want_grads) = jax.jit(both)(cell.init(jax.random.PRNGKey(0), 5))
    for got, want in zip(jax.tree.leaves(values), jax.tree.leaves(want_values), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for name in grads:
        np.testing.assert_allclose(grads[name], want_grads[name], rtol=1e-4, atol=1e-6)
