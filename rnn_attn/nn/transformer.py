"""Transformer layers (Vaswani et al. 2017, arXiv:1706.03762) as pure functions over
parameter pytrees: sinusoidal positions, layer normalization, multi-head attention with a
mask, the position-wise feed-forward block, and pre-normalized encoder and decoder
layers (``x + sublayer(norm(x))``, Xiong et al. 2020, arXiv:2002.04745).

Sinusoidal positions are a function of the position alone, so a model trained on
sequences of length ``L`` reads longer ones with the same formula.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rnn_attn.checks import argument
from rnn_attn.nn import layers
from rnn_attn.nn.attention import masked_softmax


def sinusoidal_positions(length: int, dim: int) -> jax.Array:
    """``<float32>[length, dim]``: ``sin(p / 10000^(2i/dim))`` at even features ``2i``,
    ``cos`` at odd ones (section 3.5)."""
    length = argument("length", length, int, minimum=0)
    dim = argument("dim", dim, int, minimum=2)
    position = np.arange(length)[:, None]
    rates = 1.0 / 10000 ** (np.arange(0, dim, 2) / dim)
    table = np.zeros((length, dim), np.float32)
    table[:, 0::2] = np.sin(position * rates)
    table[:, 1::2] = np.cos(position * rates)[:, : dim // 2]
    return jnp.asarray(table)


def init_layer_norm(dim: int) -> dict[str, jax.Array]:
    return {"scale": jnp.ones((dim,), jnp.float32), "bias": jnp.zeros((dim,), jnp.float32)}


def layer_norm(params: dict[str, jax.Array], x: jax.Array, eps: float = 1e-6) -> jax.Array:
    """``x`` normalized over its last axis, then scaled and shifted."""
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + eps) * params["scale"] + params["bias"]


def init_attention(key: jax.Array, dim: int) -> dict[str, dict]:
    """Query, key, value and output projections, each ``dim -> dim`` (glorot-uniform)."""
    keys = jax.random.split(key, 4)
    return {name: layers.init_dense(k, dim, dim) for name, k in zip("qkvo", keys, strict=True)}


def attention(
    params: dict[str, dict],
    queries: jax.Array,
    memory: jax.Array,
    heads: int,
    mask: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Multi-head scaled dot-product attention of ``queries <float>[batch, q, dim]`` over
    ``memory <float>[batch, k, dim]``; ``mask <bool>[batch, q, k]`` (or one that
    broadcasts to it) is True where a query may look.

    Returns: ``(outputs <float>[batch, q, dim], weights <float>[batch, heads, q, k])``.
    """
    dim = queries.shape[-1]
    if dim % heads:
        raise ValueError(f"{heads} heads cannot split {dim} features; expected dim % heads == 0")

    def split(x):  # [batch, t, dim] -> [batch, heads, t, dim / heads]
        return jnp.moveaxis(x.reshape(*x.shape[:-1], heads, dim // heads), -2, -3)

    q = split(layers.dense(params["q"], queries))
    k = split(layers.dense(params["k"], memory))
    v = split(layers.dense(params["v"], memory))
    scores = jnp.einsum("...qd,...kd->...qk", q, k) / np.sqrt(dim // heads).astype(np.float32)
    head_mask = None if mask is None else jnp.asarray(mask, bool)[..., None, :, :]
    weights = masked_softmax(scores, head_mask)
    out = jnp.moveaxis(jnp.einsum("...qk,...kd->...qd", weights, v), -3, -2)
    return layers.dense(params["o"], out.reshape(*out.shape[:-2], dim)), weights


def init_feed_forward(key: jax.Array, dim: int, hidden: int) -> dict[str, dict]:
    k1, k2 = jax.random.split(key)
    return {"in": layers.init_dense(k1, dim, hidden), "out": layers.init_dense(k2, hidden, dim)}


def feed_forward(params: dict[str, dict], x: jax.Array) -> jax.Array:
    """``relu(x W_1 + b_1) W_2 + b_2`` at every position."""
    return layers.dense(params["out"], jax.nn.relu(layers.dense(params["in"], x)))


def init_encoder_layer(key: jax.Array, dim: int, hidden: int) -> dict:
    k_att, k_ff = jax.random.split(key)
    return {
        "norm_att": init_layer_norm(dim),
        "self": init_attention(k_att, dim),
        "norm_ff": init_layer_norm(dim),
        "ff": init_feed_forward(k_ff, dim, hidden),
    }


def encoder_layer(params: dict, x: jax.Array, mask: jax.Array | None, heads: int) -> jax.Array:
    """One encoder layer over ``x <float>[batch, time, dim]``; ``mask <bool>[batch,
    time]``: the valid steps (the others are never attended to)."""
    pair_mask = None if mask is None else mask[..., None, :]
    normed = layer_norm(params["norm_att"], x)
    x = x + attention(params["self"], normed, normed, heads, pair_mask)[0]
    return x + feed_forward(params["ff"], layer_norm(params["norm_ff"], x))


def init_decoder_layer(key: jax.Array, dim: int, hidden: int) -> dict:
    k_self, k_cross, k_ff = jax.random.split(key, 3)
    return {
        "norm_self": init_layer_norm(dim),
        "self": init_attention(k_self, dim),
        "norm_cross": init_layer_norm(dim),
        "cross": init_attention(k_cross, dim),
        "norm_ff": init_layer_norm(dim),
        "ff": init_feed_forward(k_ff, dim, hidden),
    }


def decoder_layer(
    params: dict, y: jax.Array, memory: jax.Array, memory_mask: jax.Array | None, heads: int
) -> tuple[jax.Array, jax.Array]:
    """One decoder layer over ``y <float>[batch, out, dim]``: causal self-attention (a
    position sees itself and the ones before), attention over ``memory <float>[batch,
    time, dim]`` (``memory_mask <bool>[batch, time]``), feed-forward. Returns ``(y,
    cross-attention weights <float>[batch, heads, out, time])``."""
    steps = y.shape[-2]
    causal = jnp.tril(jnp.ones((steps, steps), bool))
    normed = layer_norm(params["norm_self"], y)
    y = y + attention(params["self"], normed, normed, heads, causal)[0]
    cross_mask = None if memory_mask is None else memory_mask[..., None, :]
    attended, weights = attention(
        params["cross"], layer_norm(params["norm_cross"], y), memory, heads, cross_mask
    )
    y = y + attended
    return y + feed_forward(params["ff"], layer_norm(params["norm_ff"], y)), weights
