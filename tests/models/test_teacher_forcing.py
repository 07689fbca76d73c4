"""The sequence-to-sequence models (``models.teacher_forcing``, ``models.transformer``):
teacher forcing is the decoding step run over the given tokens, padding changes nothing,
and the multi-head attention and the sinusoidal positions match their formulas."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_attn.models.decoding import pack
from rnn_attn.models.teacher_forcing import SEQ2SEQ_MODELS, make_seq2seq
from rnn_attn.nn.transformer import sinusoidal_positions

VOCAB, LENGTH = 7, 4
SOURCE = jnp.array([[3, 4, 5, 6], [5, 3, 0, 0]], jnp.int32)
OUTPUTS = jnp.array([[6, 5, 2, 0], [3, 2, 0, 0]], jnp.int32)
KINDS = [k if k == "multihead" else pytest.param(k, marks=pytest.mark.slow) for k in SEQ2SEQ_MODELS]


def _model(kind):
    model = make_seq2seq(kind, VOCAB, LENGTH, units=8, heads=2, dim=8, layers=1, hidden=16)
    return model, model.init(jax.random.PRNGKey(3))


def _forced_stepped_and_padded(model, params):
    """Teacher-forced logits and weights, the same from ``step`` one token at a time, and
    teacher-forced with three more padding steps after the source (one program)."""
    inputs = pack(SOURCE, OUTPUTS, 1)
    logits, weights = model.apply(params, inputs, return_weights=True)
    memory = model.encode(params, SOURCE)
    state, stepped = model.start(params, memory), []
    for t in range(LENGTH):
        step_logits, state, _ = model.step(params, memory, state, inputs[:, SOURCE.shape[1] + t], t)
        stepped.append(step_logits)
    padded = jnp.concatenate([SOURCE, jnp.zeros((2, 3), jnp.int32)], 1)
    more = model.apply(params, pack(padded, OUTPUTS, 1), return_weights=True)
    return (logits, weights), jnp.stack(stepped, 1), more


@pytest.mark.parametrize("kind", KINDS)
def test_teacher_forcing_is_the_decoding_step_and_ignores_padding(kind):
    model, params = _model(kind)
    forced, stepped, more = jax.jit(lambda p: _forced_stepped_and_padded(model, p))(params)
    (logits, weights), (more_logits, more_weights) = forced, more
    assert logits.shape == (2, LENGTH, VOCAB)
    np.testing.assert_allclose(stepped, logits, atol=1e-5)
    # Three more padding steps (a longer source array) change no logit, no weight.
    np.testing.assert_allclose(more_logits, logits, atol=1e-5)
    if weights is not None:
        np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
        np.testing.assert_allclose(more_weights[..., :4], weights, atol=1e-5)
        np.testing.assert_array_equal(more_weights[..., 4:], 0.0)
        np.testing.assert_array_equal(weights[1, :, 2:], 0.0)  # the source's own padding


def test_multihead_attention_matches_its_formula():
    model, params = _model("multihead")  # the decoder of 8 units over 8 features, 2 heads
    decoder, params = model.decoder, params["decoder"]
    rng = np.random.default_rng(0)
    encoded, query = rng.normal(size=(1, 3, 8)), rng.normal(size=(1, 8))
    mask = np.array([[True, True, False]])
    weights, context = decoder.attend(
        params, query, decoder.precompute_keys(params, encoded), encoded, mask
    )
    k, v = encoded[0] @ np.asarray(params["W_k"]), encoded[0] @ np.asarray(params["W_v"])
    heads_w, heads_c = [], []
    for h in range(2):
        cols = slice(4 * h, 4 * h + 4)
        scores = k[:2, cols] @ query[0, cols] / np.sqrt(4)
        w = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
        heads_w.append(np.append(w, 0.0))
        heads_c.append(w @ v[:2, cols])
    np.testing.assert_allclose(weights[0], np.mean(heads_w, 0), atol=1e-6)
    np.testing.assert_allclose(context[0], np.concatenate(heads_c), atol=1e-5)


def test_sinusoidal_positions_extend_past_any_length():
    table = np.asarray(sinusoidal_positions(50, 6))
    p, i = 37, 2
    np.testing.assert_allclose(table[p, 2 * i], np.sin(p / 10000 ** (2 * i / 6)), atol=1e-6)
    np.testing.assert_allclose(table[p, 2 * i + 1], np.cos(p / 10000 ** (2 * i / 6)), atol=1e-6)
    np.testing.assert_array_equal(sinusoidal_positions(20, 6), table[:20])


def test_bad_models_get_one_message():
    with pytest.raises(ValueError, match="unknown model 'lstm'"):
        make_seq2seq("lstm", VOCAB, LENGTH)
    with pytest.raises(ValueError, match="3 heads cannot split the encoder's 8 features"):
        make_seq2seq("multihead", VOCAB, LENGTH, units=8, heads=3).init(jax.random.PRNGKey(0))
    model, params = _model("bahdanau")
    with pytest.raises(ValueError, match="inputs must be <int>"):
        model.apply(params, SOURCE[:, :3])
