"""Greedy and beam search (``models.decoding``): width 1 is greedy exactly, and a beam as
wide as the search space finds what exhaustive search over every sequence finds. The
default tier checks one model; ``slow`` checks every kind."""

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_attn.models import decoding
from rnn_attn.models.teacher_forcing import SEQ2SEQ_MODELS, make_seq2seq

TOKENS = decoding.Tokens(start=1, end=2, pad=0)
VOCAB, LENGTH = 4, 3  # pad, start, end and one symbol: 1 + 3 + 9 outputs that end
SOURCES = jnp.array([[3, 3, 0], [3, 0, 0], [3, 3, 3]], jnp.int32)
DEFAULT = "luong_general"
KINDS = [k if k == DEFAULT else pytest.param(k, marks=pytest.mark.slow) for k in SEQ2SEQ_MODELS]


@functools.cache
def small(kind: str, scale: float = 2.5):
    """A small model whose parameters are scaled up, so its distributions are peaked."""
    model = make_seq2seq(kind, VOCAB, LENGTH, units=8, heads=2, dim=8, layers=1, hidden=16)
    params = model.init(jax.random.PRNGKey(7))
    return model, jax.tree.map(lambda x: x * scale, params)


@functools.cache
def decoders(kind: str, width: int, alpha: float = 0.0):
    model, _ = small(kind)
    greedy = jax.jit(lambda p, s: decoding.greedy(model, p, s, max_length=LENGTH, tokens=TOKENS))
    beam = jax.jit(
        lambda p, s: decoding.beam_search(
            model, p, s, max_length=LENGTH, beam_width=width, tokens=TOKENS, alpha=alpha
        )
    )
    return greedy, beam


@pytest.mark.parametrize("kind", KINDS)
def test_beam_of_width_one_is_greedy_search_exactly(kind):
    _, params = small(kind)
    greedy, beam = decoders(kind, 1)
    ends = set()
    for draw in range(4):  # parameter draws whose outputs end early, late, never
        p = jax.tree.map(lambda x, d=draw: x * (0.5 + 0.5 * d), params)
        g, b = greedy(p, SOURCES), beam(p, SOURCES)
        np.testing.assert_array_equal(g["tokens"], b["tokens"])
        np.testing.assert_array_equal(g["log_prob"], b["log_prob"])
        np.testing.assert_array_equal(b["score"], b["log_prob"])
        ended = np.asarray(g["tokens"]) == TOKENS.end
        ends |= set(np.where(ended.any(1), np.argmax(ended, 1), -1).tolist())
    assert len(ends) > 1, f"every output ended alike ({ends}): the check would be weak"


def exhaustive(model, params, alpha: float):
    """Every output that ends within ``LENGTH`` tokens, scored by teacher forcing for
    each of ``SOURCES``: ``(rows [R, LENGTH], scores [sources, R])``."""
    rows = []
    for n in range(LENGTH):
        for prefix in itertools.product([t for t in range(VOCAB) if t != TOKENS.end], repeat=n):
            rows.append([*prefix, TOKENS.end] + [TOKENS.pad] * (LENGTH - n - 1))
    rows = jnp.array(rows, jnp.int32)
    sources = jnp.repeat(SOURCES, len(rows), axis=0)
    outputs = jnp.tile(rows, (len(SOURCES), 1))
    log_prob = decoding.sequence_log_prob(model, params, sources, outputs, TOKENS)
    lengths = jnp.argmax(outputs == TOKENS.end, axis=1) + 1
    scores = log_prob / decoding.length_penalty(lengths, alpha)
    return np.asarray(rows), np.asarray(scores).reshape(len(SOURCES), len(rows))


@pytest.mark.parametrize(
    "kind,alpha",
    [(DEFAULT, 0.0), *(pytest.param(k, 1.0, marks=pytest.mark.slow) for k in SEQ2SEQ_MODELS)],
)
def test_a_beam_as_wide_as_the_search_space_is_exhaustive_search(kind, alpha):
    model, params = small(kind)
    _, beam = decoders(kind, VOCAB**LENGTH, alpha)  # wider than every step's candidates
    found = beam(params, SOURCES)
    rows, scores = exhaustive(model, params, alpha)
    clear = 0
    for i in range(len(SOURCES)):
        best = int(np.argmax(scores[i]))
        np.testing.assert_allclose(found["score"][i], scores[i, best], rtol=1e-5)
        if np.sort(scores[i])[-2] < scores[i, best] - 1e-4:  # a clear best: the rows agree
            np.testing.assert_array_equal(found["tokens"][i], rows[best])
            clear += 1
    assert clear, "no source has a clear best output: the rows were never compared"


@pytest.mark.slow
@pytest.mark.parametrize("kind", SEQ2SEQ_MODELS)
def test_decoded_rows_are_padded_after_the_end_and_scored_as_teacher_forcing(kind):
    model, params = small(kind)
    out = decoders(kind, 1)[0](params, SOURCES)
    again = decoding.sequence_log_prob(model, params, SOURCES, out["tokens"], TOKENS)
    np.testing.assert_allclose(again, out["log_prob"], rtol=1e-5)
    tokens = np.asarray(out["tokens"])
    after_end = (np.cumsum(tokens == TOKENS.end, 1) > 0) & (tokens != TOKENS.end)
    assert np.all(tokens[after_end] == TOKENS.pad)


def test_bad_decoding_arguments_get_one_message():
    model, params = small(DEFAULT)
    with pytest.raises(ValueError, match="beam_width must be an integer >= 1, got 0"):
        decoding.beam_search(model, params, SOURCES, max_length=3, beam_width=0, tokens=TOKENS)
    with pytest.raises(ValueError, match="max_length must be an integer >= 1"):
        decoding.greedy(model, params, SOURCES, max_length=0, tokens=TOKENS)
