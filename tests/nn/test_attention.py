import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_attn.nn.attention import ATTENTION_KINDS, AttentionDecoder, masked_softmax


def _numpy_bahdanau(p, encoded, steps):
    """The document-001 equations, one step at a time, in numpy."""
    p = {k: np.asarray(v, np.float64) for k, v in p.items()}
    u, o = p["U_p"].shape[0], p["b_o"].shape[0]
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    W_r, W_z, W_p, W_o = np.split(p["W_y"], [u, 2 * u, 3 * u], axis=1)
    W_a, U_r, U_z, U_o = np.split(p["U_s"], [u, 2 * u, 3 * u], axis=1)
    C_r, C_z, C_p, C_o = np.split(p["C"], [u, 2 * u, 3 * u], axis=1)
    b_r, b_z, b_p = np.split(p["b_rzp"], 3)
    s = np.tanh(encoded[:, 0] @ p["W_s"])
    y = np.zeros((encoded.shape[0], o))
    ys, ats = [], []
    for _ in range(steps):
        e = np.tanh((s @ W_a)[:, None, :] + encoded @ p["U_a"] + p["b_a"]) @ p["V_a"]
        a = np.exp(e) / np.exp(e).sum(1, keepdims=True)
        c = np.einsum("bt,btd->bd", a, encoded)
        r = sig(y @ W_r + s @ U_r + c @ C_r + b_r)
        z = sig(y @ W_z + s @ U_z + c @ C_z + b_z)
        prop = np.tanh(y @ W_p + (r * s) @ p["U_p"] + c @ C_p + b_p)
        logits = y @ W_o + s @ U_o + c @ C_o + p["b_o"]
        s = (1 - z) * s + z * prop
        y = np.exp(logits - logits.max(1, keepdims=True))
        y /= y.sum(1, keepdims=True)
        ys.append(y)
        ats.append(a)
    return np.stack(ys, 1), np.stack(ats, 1)


def test_bahdanau_decoder_matches_equations():
    dec = AttentionDecoder(units=6, output_dim=5)
    params = dec.init(jax.random.PRNGKey(0), 4)
    params = jax.tree.map(lambda a: a + 0.05, params)  # non-zero biases
    encoded = np.random.default_rng(0).normal(size=(3, 7, 4))
    logits, weights = dec.apply(params, jnp.asarray(encoded, jnp.float64), return_weights=True)
    ref_y, ref_a = _numpy_bahdanau(params, encoded, 7)
    np.testing.assert_allclose(jax.nn.softmax(logits, -1), ref_y, atol=1e-6)
    np.testing.assert_allclose(weights, ref_a, atol=1e-6)


@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_weights_sum_to_one_and_respect_mask(kind):
    dec = AttentionDecoder(units=4, output_dim=3, attention=kind)
    params = dec.init(jax.random.PRNGKey(1), 4)
    encoded = jnp.asarray(np.random.default_rng(1).normal(size=(2, 6, 4)), jnp.float32)
    mask = jnp.array([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1]], bool)
    logits, weights = dec.apply(params, encoded, mask=mask, num_steps=3, return_weights=True)
    assert logits.shape == (2, 3, 3) and weights.shape == (2, 3, 6)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(weights[0, :, 3:], 0.0)
    assert np.all(weights[1] > 0)
    # Padding values cannot change the result.
    noisy = encoded.at[0, 3:].set(100.0)
    np.testing.assert_allclose(
        dec.apply(params, noisy, mask=mask, num_steps=3)[0], logits[0], atol=1e-5
    )


def test_masked_softmax_edge_cases():
    scores = jnp.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    mask = jnp.array([[True, False, True], [False, False, False]])
    w = masked_softmax(scores, mask)
    np.testing.assert_allclose(w[0], [1 / (1 + np.e**2), 0, np.e**2 / (1 + np.e**2)], rtol=1e-6)
    np.testing.assert_array_equal(w[1], 0.0)  # nothing valid: zeros, not NaN
    g = jax.grad(lambda s: masked_softmax(s, mask)[0, 2])(scores)
    assert np.all(np.isfinite(g))


def test_bad_attention_kind_and_shapes():
    with pytest.raises(ValueError, match="unknown attention kind 'cosine'"):
        AttentionDecoder(4, 3, attention="cosine")
    with pytest.raises(ValueError, match="luong_dot attention needs"):
        AttentionDecoder(4, 3, attention="luong_dot").init(jax.random.PRNGKey(0), 5)
    with pytest.raises(ValueError, match="output_dim must be an integer >= 1"):
        AttentionDecoder(4, 0)
