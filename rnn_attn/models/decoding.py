"""Decoding a sequence-to-sequence model: greedy search and beam search, compiled and
batched (each example decoded on its own, ``vmap``ped over the batch, so a whole test
set, and under ``compile_per_seed`` every seed, is one program).

A model decodes through three methods beside the models' convention: ``encode(params,
source <int>[batch, S]) -> memory``, ``start(params, memory) -> state`` and
``step(params, memory, state, token <int>[batch], t) -> (logits <float>[batch, V],
state, weights <float>[batch, S] or None)``: the distribution of output ``t`` after the
tokens before it (``token``: the previous one, the start token at ``t = 0``). A
decoded row holds the output tokens, its end token, then ``pad_id``; a row that never
ends holds ``max_length`` tokens.

Beam search keeps ``beam_width`` unfinished hypotheses (extended by every token but the
end token) and the ``beam_width`` best finished ones (a hypothesis followed by the end
token), scored by ``log p(y) / lp(|y|)`` with the length penalty ``lp(n) = ((5 + n) /
6) ** alpha`` of Wu et al. (2016, arXiv:1609.08144; ``alpha = 0``: the log-probability
itself); ``|y|`` counts the end token. The best finished hypothesis is the output (the
best unfinished one when none finished). Width 1 without a length penalty is greedy
search exactly: both take the most probable token at each step. With a width no smaller
than the number of unfinished sequences of ``max_length - 1`` tokens the search is
exhaustive.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from rnn_attn.checks import argument


@dataclasses.dataclass(frozen=True)
class Tokens:
    """The special token ids: the decoder's first input, the end of an output, padding."""

    start: int
    end: int
    pad: int

    def __post_init__(self):
        for name in ("start", "end", "pad"):
            argument(f"{name} token", getattr(self, name), int, minimum=0)


def split_inputs(inputs: jax.Array, target_length: int) -> tuple[jax.Array, jax.Array]:
    """``(source <int>[batch, S], decoder_inputs <int>[batch, T])`` of a model's packed
    inputs ``<int>[batch, S + T]`` (``models.teacher_forcing``)."""
    if inputs.ndim != 2 or inputs.shape[-1] <= target_length:
        raise ValueError(
            f"inputs must be <int>[batch, S + T] with S >= 1 source tokens before the "
            f"{target_length} decoder inputs, got shape {tuple(inputs.shape)}"
        )
    return inputs[:, :-target_length], inputs[:, -target_length:]


def pack(source: jax.Array, outputs: jax.Array, start: int) -> jax.Array:
    """The packed inputs that feed ``outputs <int>[batch, T]`` back (teacher forcing):
    ``source``, then ``start`` and ``outputs`` shifted right."""
    shifted = jnp.concatenate(
        [jnp.full((outputs.shape[0], 1), start, outputs.dtype), outputs[:, :-1]], 1
    )
    return jnp.concatenate([source.astype(outputs.dtype), shifted], axis=1)


def length_penalty(length: jax.Array, alpha: float) -> jax.Array:
    """``((5 + length) / 6) ** alpha`` in float32 (exactly 1 for ``alpha = 0``)."""
    return ((5.0 + jnp.asarray(length, jnp.float32)) / 6.0) ** jnp.float32(alpha)


def _log_softmax(logits: jax.Array) -> jax.Array:
    """Log-probabilities in float32, whatever the logits' dtype (the sums decoding
    carries keep one dtype)."""
    return jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)


def _encode_one(model, params, source: jax.Array, copies: int):
    memory = model.encode(params, source[None])
    memory = jax.tree.map(lambda x: jnp.repeat(x, copies, axis=0), memory)
    return memory, model.start(params, memory)


def _greedy_one(model, params, source, max_length: int, tokens: Tokens):
    memory, state = _encode_one(model, params, source, 1)

    def body(carry, t):
        state, token, done, log_prob = carry
        logits, state, weights = model.step(params, memory, state, token, t)
        scores = _log_softmax(logits)  # [1, V], as beam search's
        best = jnp.argmax(scores[0]).astype(jnp.int32)
        log_prob = jnp.where(done, log_prob, log_prob + scores[0, best])
        out = jnp.where(done, tokens.pad, best)
        weights = jnp.zeros(source.shape, logits.dtype) if weights is None else weights[0]
        return (state, best[None], done | (best == tokens.end), log_prob), (out, weights)

    start = jnp.full((1,), tokens.start, jnp.int32)
    carry = (state, start, jnp.zeros((), bool), jnp.zeros((), jnp.float32))
    (_, _, _, log_prob), (out, weights) = jax.lax.scan(body, carry, jnp.arange(max_length))
    return out, log_prob, weights


def greedy(model, params, source: jax.Array, *, max_length: int, tokens: Tokens) -> dict:
    """Greedy search: ``{"tokens" <int32>[batch, max_length], "log_prob" <float>[batch]
    (of the decoded tokens, end token included), "weights" <float>[batch, max_length,
    S] (zeros where the model has no attention)}``."""
    max_length = argument("max_length", max_length, int, minimum=1)
    out, log_prob, weights = jax.vmap(lambda s: _greedy_one(model, params, s, max_length, tokens))(
        source
    )
    return {"tokens": out.astype(jnp.int32), "log_prob": log_prob, "weights": weights}


def _top(scores: jax.Array, k: int) -> jax.Array:
    """The indices of the ``k`` largest ``scores`` (the lower index first among ties)."""
    return jax.lax.top_k(scores, k)[1]


def _finish(carry_done, ended, ended_lp, ended_score, width: int):
    """The finished pool after a step: the ``width`` best of the old pool and the
    hypotheses ended now (a pool already full takes none)."""
    done, done_lp, done_score, count = carry_done
    ended_score = jnp.where(count >= width, -jnp.inf, ended_score)
    pool_score = jnp.concatenate([done_score, ended_score])
    keep = _top(pool_score, width)
    count = count + jnp.sum(ended_score > -jnp.inf, dtype=count.dtype)
    done = jnp.concatenate([done, ended])[keep]
    return done, jnp.concatenate([done_lp, ended_lp])[keep], pool_score[keep], count


def _beam_step(model, params, memory, tokens: Tokens, alpha: float, carry, t):
    state, last, alive, alive_lp, finished = carry
    width = last.shape[0]
    logits, state, _ = model.step(params, memory, state, last, t)
    scores = _log_softmax(logits)  # [K, V]
    vocab = scores.shape[-1]
    candidates = (alive_lp[:, None] + scores).reshape(-1)
    # The end tokens among the K best candidates finish their hypotheses (Fairseq's rule:
    # at width 1, the end token finishes exactly when greedy search would stop) ...
    best = _top(candidates, width)
    ends = best % vocab == tokens.end
    ended = alive[best // vocab].at[:, t].set(tokens.end)
    ended_lp = jnp.where(ends, candidates[best], -jnp.inf)
    penalty = length_penalty(t + 1.0, alpha)
    finished = _finish(finished, ended, ended_lp, ended_lp / penalty, width)
    # ... and the K best candidates but the end token go on.
    extended = candidates.at[jnp.arange(width) * vocab + tokens.end].set(-jnp.inf)
    flat = _top(extended, width)
    beam, token = flat // vocab, (flat % vocab).astype(jnp.int32)
    alive = alive[beam].at[:, t].set(token)
    state = jax.tree.map(lambda x: x[beam], state)
    return (state, token, alive, extended[flat], finished), None


def _beam_one(model, params, source, max_length, width, alpha, tokens: Tokens):
    memory, state = _encode_one(model, params, source, width)
    blank = jnp.full((width, max_length), tokens.pad, jnp.int32)
    # One live hypothesis at first (the others at -inf), none finished.
    alive_lp = jnp.full((width,), -jnp.inf, jnp.float32).at[0].set(0.0)
    none = jnp.full((width,), -jnp.inf, jnp.float32)
    start = jnp.full((width,), tokens.start, jnp.int32)
    carry = (state, start, blank, alive_lp, (blank, none, none, jnp.zeros((), jnp.int32)))

    def body(carry, t):
        return _beam_step(model, params, memory, tokens, alpha, carry, t)

    carry, _ = jax.lax.scan(body, carry, jnp.arange(max_length))
    _, _, alive, alive_lp, (done, done_lp, done_score, _) = carry
    finished = done_score[0] > -jnp.inf
    unfinished_score = alive_lp[0] / length_penalty(float(max_length), alpha)
    return (
        jnp.where(finished, done[0], alive[0]),
        jnp.where(finished, done_lp[0], alive_lp[0]),
        jnp.where(finished, done_score[0], unfinished_score),
    )


def beam_search(
    model,
    params,
    source: jax.Array,
    *,
    max_length: int,
    beam_width: int,
    tokens: Tokens,
    alpha: float = 0.0,
) -> dict:
    """Beam search (the module doc): ``{"tokens" <int32>[batch, max_length], "log_prob"
    <float>[batch] (of the chosen tokens, end token included), "score" <float>[batch]
    (the log-probability over the length penalty)}``."""
    max_length = argument("max_length", max_length, int, minimum=1)
    beam_width = argument("beam_width", beam_width, int, minimum=1)
    alpha = argument("length penalty alpha", alpha, float, minimum=0.0)

    def one(s):
        return _beam_one(model, params, s, max_length, beam_width, alpha, tokens)

    out, log_prob, score = jax.vmap(one)(source)
    return {"tokens": out, "log_prob": log_prob, "score": score}


def sequence_log_prob(model, params, source: jax.Array, outputs: jax.Array, tokens: Tokens):
    """``<float>[batch]``: the model's log-probability of ``outputs <int>[batch, T]``
    (rows as decoding writes them) given ``source``, by teacher forcing: the sum over the
    positions up to the first end token."""
    logits = model.apply(params, pack(source, outputs, tokens.start))
    scores = jnp.take_along_axis(jax.nn.log_softmax(logits, -1), outputs[..., None], -1)[..., 0]
    ended_before = jnp.cumsum(outputs == tokens.end, axis=1) - (outputs == tokens.end)
    return jnp.sum(jnp.where(ended_before == 0, scores, 0.0), axis=1)


def make_decoder(
    model,
    *,
    max_length: int,
    tokens: Tokens,
    beam_width: int | None = None,
    alpha: float = 0.0,
    weights_of: int = 0,
):
    """``decode(params, source) -> {"tokens", "log_prob"}``: greedy search (``beam_width``
    None) or beam search; with ``weights_of`` > 0, also ``attention_weights <float>[n,
    max_length, S]`` of the first ``n = weights_of`` rows, teacher-forced on the decoded
    tokens (for heatmaps; none for a model without attention)."""

    def decode(params, source):
        if beam_width is None:
            out = greedy(model, params, source, max_length=max_length, tokens=tokens)
        else:
            out = beam_search(
                model,
                params,
                source,
                max_length=max_length,
                beam_width=beam_width,
                tokens=tokens,
                alpha=alpha,
            )
        found = {"tokens": out["tokens"], "log_prob": out["log_prob"]}
        if weights_of:
            first = source[:weights_of], out["tokens"][:weights_of]
            _, weights = model.apply(params, pack(*first, tokens.start), return_weights=True)
            if weights is not None:
                found["attention_weights"] = weights
        return found

    return decode
