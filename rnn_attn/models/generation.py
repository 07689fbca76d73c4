"""Sampling text from a next-token model, compiled as one ``lax.scan``.

The model sees a sliding window of the last ``seqlen`` tokens (as it was trained, on
windows that start from a zero state), predicts the next token's logits, a token is
chosen (greedy, or sampled at a temperature, optionally among the ``top_k`` likeliest),
and the window moves on by one. The whole loop is one compiled program: no Python call
per token.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from rnn_attn.checks import argument

NextLogits = Callable[[object, jax.Array], jax.Array]


def choose(logits: jax.Array, key: jax.Array, temperature: float, top_k: int = 0) -> jax.Array:
    """One token from ``logits <float>[vocab]``: argmax when ``temperature`` is 0, else a
    sample from ``softmax(logits / temperature)`` restricted to the ``top_k`` largest
    (``top_k`` 0: all)."""
    if temperature == 0.0:
        return jnp.argmax(logits).astype(jnp.int32)
    scaled = logits / temperature
    if top_k:
        kth = jax.lax.top_k(scaled, top_k)[0][-1]
        scaled = jnp.where(scaled < kth, -jnp.inf, scaled)
    return jax.random.categorical(key, scaled).astype(jnp.int32)


def make_generator(
    next_logits: NextLogits, length: int, *, temperature: float = 0.0, top_k: int = 0
) -> Callable[[object, jax.Array, jax.Array], jax.Array]:
    """``generate(params, window <int32>[seqlen], key) -> <int32>[length]``, jitted.

    ``next_logits(params, window <int32>[1, seqlen]) -> <float>[1, vocab]``.
    """
    length = argument("length", length, int, minimum=1)
    temperature = argument("temperature", temperature, float, minimum=0.0, why="0: greedy")
    top_k = argument("top_k", top_k, int, minimum=0, why="0: all")

    def generate(params, window, key):
        def step(window, step_key):
            token = choose(next_logits(params, window[None, :])[0], step_key, temperature, top_k)
            return jnp.concatenate([window[1:], token[None]]), token

        _, tokens = jax.lax.scan(
            step, jnp.asarray(window, jnp.int32), jax.random.split(key, length)
        )
        return tokens

    return jax.jit(generate)
