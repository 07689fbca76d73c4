"""Attention: scores, masked softmax, and the Bahdanau attention decoder.

The decoder follows Bahdanau, Cho & Bengio (2015, arXiv:1409.0473, appendix A), the
form used by reference document 001, written here from the equations:

    s_0   = tanh(h_1 W_s)
    e_tj  = v_a^T tanh(W_a s_{t-1} + U_a h_j + b_a)        (U_a h_j + b_a once, up front)
    a_t   = softmax_j(e_tj)          (masked input steps get weight 0)
    c_t   = sum_j a_tj h_j
    r_t   = sigmoid(y_{t-1} W_r + s_{t-1} U_r + c_t C_r + b_r)
    z_t   = sigmoid(y_{t-1} W_z + s_{t-1} U_z + c_t C_z + b_z)
    p_t   = tanh(y_{t-1} W_p + (r_t * s_{t-1}) U_p + c_t C_p + b_p)
    s_t   = (1 - z_t) * s_{t-1} + z_t * p_t
    y_t   = softmax(y_{t-1} W_o + s_{t-1} U_o + c_t C_o + b_o)

``y_0 = 0`` and each step feeds its own output distribution back as ``y_{t-1}``. With a
mask, the masked steps of ``h`` are zeroed before any arithmetic (as a masked recurrent
layer emits them), so whatever padding holds, NaN included, reaches neither the outputs
nor the gradients (a weight of 0 times NaN would be NaN). The
matrices multiplying the same vector are fused (``W_y = [W_r|W_z|W_p|W_o]``,
``U_s = [W_a|U_r|U_z|U_o]``, ``C = [C_r|C_z|C_p|C_o]``) so a step is four matmuls.
Luong's multiplicative scores (``dot``: ``s . h_j``; ``general``: ``s W h_j``) can replace
the additive energy.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from rnn_attn.checks import argument
from rnn_attn.nn import initializers
from rnn_attn.nn.layers import zero_masked
from rnn_attn.nn.recurrent import check_unroll

ATTENTION_KINDS = ("bahdanau", "luong_dot", "luong_general")


def _check_size(what: str, got: int, expected: int, of: str, **arrays: jax.Array) -> None:
    """One ValueError naming the mismatched size (and the arrays' shapes) when
    ``got != expected``."""
    if got != expected:
        shapes = ", ".join(f"{name} {tuple(jnp.shape(a))}" for name, a in arrays.items())
        raise ValueError(f"{what} is {got}, expected {expected} ({of}); got {shapes}")


def _check_ndim(name: str, array: jax.Array, ndim: int, layout: str) -> None:
    if jnp.ndim(array) < ndim:
        raise ValueError(f"{name} must be {layout}, got shape {tuple(jnp.shape(array))}")


def masked_softmax(scores: jax.Array, mask: jax.Array | None, axis: int = -1) -> jax.Array:
    """Softmax over ``axis`` with weight exactly 0 where ``mask`` is False.

    A row with no valid position gets all-zero weights rather than NaN.
    """
    axis = argument("axis", axis, int)
    if mask is None:
        return jax.nn.softmax(scores, axis=axis)
    mask = jnp.asarray(mask, bool)
    try:
        fits = jnp.broadcast_shapes(mask.shape, jnp.shape(scores)) == jnp.shape(scores)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not fit scores of shape "
            f"{tuple(jnp.shape(scores))}; expected a mask of the scores' shape "
            f"(or one that broadcasts to it)"
        )
    scores = jnp.where(mask, scores, -jnp.inf)
    peak = jnp.max(scores, axis=axis, keepdims=True)
    peak = jnp.where(jnp.isfinite(peak), peak, 0.0)
    exp = jnp.where(mask, jnp.exp(scores - jax.lax.stop_gradient(peak)), 0.0)
    total = jnp.sum(exp, axis=axis, keepdims=True)
    return exp / jnp.where(total > 0, total, 1.0)


def additive_scores(query_proj: jax.Array, keys_proj: jax.Array, v: jax.Array) -> jax.Array:
    """Bahdanau energies ``v^T tanh(q + k_j)``.

    Args:
      query_proj: ``<float>[batch, units]`` (``W_a s_{t-1}``).
      keys_proj: ``<float>[batch, time, units]`` (``U_a h_j + b_a``, precomputed).
      v: ``<float>[units]``.

    Returns: ``<float>[batch, time]``.
    """
    _check_ndim("query_proj", query_proj, 1, "<float>[batch, units]")
    _check_ndim("keys_proj", keys_proj, 2, "<float>[batch, time, units]")
    arrays = dict(query_proj=query_proj, keys_proj=keys_proj, v=v)
    units = jnp.shape(query_proj)[-1]
    _check_size("keys_proj's width", jnp.shape(keys_proj)[-1], units, "the query's width", **arrays)
    _check_size("v's size", jnp.size(v), units, "the query's width", **arrays)
    return jnp.tanh(query_proj[..., None, :] + keys_proj) @ v


def dot_scores(query: jax.Array, keys: jax.Array) -> jax.Array:
    """Luong dot scores ``s . h_j``: ``[batch, d]`` x ``[batch, time, d]`` -> ``[batch, time]``."""
    _check_ndim("query", query, 1, "<float>[batch, d]")
    _check_ndim("keys", keys, 2, "<float>[batch, time, d]")
    _check_size(
        "the keys' width",
        jnp.shape(keys)[-1],
        jnp.shape(query)[-1],
        "the query's width",
        query=query,
        keys=keys,
    )
    return jnp.einsum("...d,...td->...t", query, keys)


def context_vector(weights: jax.Array, values: jax.Array) -> jax.Array:
    """``sum_j a_j h_j``: ``[batch, time]`` x ``[batch, time, d]`` -> ``[batch, d]``."""
    _check_ndim("weights", weights, 1, "<float>[batch, time]")
    _check_ndim("values", values, 2, "<float>[batch, time, d]")
    _check_size(
        "the values' time axis",
        jnp.shape(values)[-2],
        jnp.shape(weights)[-1],
        "one step per weight",
        weights=weights,
        values=values,
    )
    return jnp.einsum("...t,...td->...d", weights, values)


@dataclasses.dataclass(frozen=True)
class AttentionDecoder:
    """Bahdanau attention decoder (GRU-style state, softmax outputs fed back).

    Attributes:
      units: state size (and attention size).
      output_dim: size of the output distribution (vocabulary).
      attention: ``bahdanau`` (additive), ``luong_dot`` or ``luong_general``.
    """

    units: int
    output_dim: int
    attention: str = "bahdanau"

    def __post_init__(self):
        for name in ("units", "output_dim"):
            argument(name, getattr(self, name), int, minimum=1)
        if not isinstance(self.attention, str) or self.attention not in ATTENTION_KINDS:
            raise ValueError(
                f"unknown attention kind {self.attention!r}; expected one of {ATTENTION_KINDS}"
            )

    def init(self, key: jax.Array, input_dim: int) -> dict[str, jax.Array]:
        """Initialization of the reference implementation: glorot-uniform attention
        matrices, orthogonal gate matrices (each block on its own), zero biases."""
        u, o = self.units, self.output_dim
        input_dim = argument("input_dim (the encoder's output width)", input_dim, int, minimum=1)
        if self.attention == "luong_dot" and input_dim != u:
            raise ValueError(
                f"luong_dot attention needs encoder width == decoder units; got {input_dim} and {u}"
            )
        keys = iter(jax.random.split(key, 16))
        glorot, orth = initializers.glorot_uniform, initializers.orthogonal

        def blocks(rows, widths):
            return jnp.concatenate([orth(next(keys), (rows, w)) for w in widths], axis=1)

        # The query projection W_a (none for luong_dot) leads U_s, so one matmul of the
        # state gives the attention query and its gate contributions.
        query_width = self.query_width(input_dim)
        w_a = [glorot(next(keys), (u, query_width))] if query_width else []
        params = {
            "W_s": orth(next(keys), (input_dim, u)),
            "W_y": blocks(o, (u, u, u, o)),  # [W_r | W_z | W_p | W_o]
            "U_s": jnp.concatenate([*w_a, blocks(u, (u, u, o))], axis=1),  # [W_a|U_r|U_z|U_o]
            "U_p": orth(next(keys), (u, u)),
            "C": blocks(input_dim, (u, u, u, o)),  # [C_r | C_z | C_p | C_o]
            "b_rzp": jnp.zeros((3 * u,), jnp.float32),
            "b_o": jnp.zeros((o,), jnp.float32),
        }
        if self.attention == "bahdanau":
            params.update(
                V_a=glorot(next(keys), (u,)),
                U_a=glorot(next(keys), (input_dim, u)),
                b_a=jnp.zeros((u,), jnp.float32),
            )
        return params

    def query_width(self, input_dim: int) -> int:
        """Width of ``W_a``'s output: ``units`` (Bahdanau), ``input_dim`` (Luong general),
        0 (Luong dot, which uses the state itself)."""
        return {"bahdanau": self.units, "luong_general": input_dim, "luong_dot": 0}[self.attention]

    def precompute_keys(self, params, encoded: jax.Array) -> jax.Array:
        """What does not depend on the decoder step (``U_a h_j + b_a`` for Bahdanau)."""
        if self.attention == "bahdanau":
            return encoded @ params["U_a"] + params["b_a"]
        return encoded

    def scores(self, params, query, keys) -> jax.Array:
        """Energies ``[batch, time]`` from the query (``W_a s``, or ``s`` for Luong dot)."""
        if self.attention == "bahdanau":
            return additive_scores(query, keys, params["V_a"])
        return dot_scores(query, keys)

    def attend(self, params, query, keys, encoded, mask=None) -> tuple[jax.Array, jax.Array]:
        """``(weights <float>[batch, time], context <float>[batch, input_dim])`` of one
        step: the masked softmax of the energies, and the weighted sum of ``encoded``."""
        weights = masked_softmax(self.scores(params, query, keys), mask)
        return weights, context_vector(weights, encoded)

    def initial_carry(self, params, encoded: jax.Array):
        """``(y_0, s_0)``: a zero output distribution and ``tanh(h_1 W_s)``."""
        y0 = jnp.zeros((*encoded.shape[:-2], self.output_dim), encoded.dtype)
        s0 = jnp.tanh(encoded[..., 0, :] @ params["W_s"])
        return y0, s0

    def step(self, params, carry, encoded, keys, mask=None):
        """One decoder step.

        Args:
          carry: ``(y_{t-1} <float>[batch, output_dim], s_{t-1} <float>[batch, units])``.
          encoded: encoder outputs ``<float>[batch, time, input_dim]``.
          keys: ``precompute_keys(params, encoded)``.
          mask: optional ``<bool>[batch, time]`` of valid encoder steps.

        Returns:
          ``(new_carry, (logits <float>[batch, output_dim], weights <float>[batch, time]))``.
        """
        y, s = carry
        u = self.units
        from_s = s @ params["U_s"]
        query_width = self.query_width(encoded.shape[-1])
        query = from_s[..., :query_width] if query_width else s
        from_s = from_s[..., query_width:]
        weights, context = self.attend(params, query, keys, encoded, mask)
        from_y = y @ params["W_y"]
        from_c = context @ params["C"]
        gates = jax.nn.sigmoid(
            from_y[..., : 2 * u]
            + from_s[..., : 2 * u]
            + from_c[..., : 2 * u]
            + params["b_rzp"][: 2 * u]
        )
        r, z = gates[..., :u], gates[..., u:]
        proposal = jnp.tanh(
            from_y[..., 2 * u : 3 * u]
            + (r * s) @ params["U_p"]
            + from_c[..., 2 * u : 3 * u]
            + params["b_rzp"][2 * u :]
        )
        new_s = (1.0 - z) * s + z * proposal
        logits = from_y[..., 3 * u :] + from_s[..., 2 * u :] + from_c[..., 3 * u :] + params["b_o"]
        new_y = jax.nn.softmax(logits, axis=-1)
        return (new_y, new_s), (logits, weights)

    def apply(
        self,
        params,
        encoded: jax.Array,
        *,
        num_steps: int | None = None,
        mask: jax.Array | None = None,
        unroll: int | bool = 1,
        return_weights: bool = False,
    ) -> jax.Array | tuple[jax.Array, jax.Array]:
        """Decodes ``num_steps`` outputs (default: as many as encoder steps).

        ``mask``: optional ``<bool>[batch, time]`` of valid encoder steps; the others get
        weight 0 and are read as zeros (``s_0`` too, when the first step is masked).

        Returns:
          logits ``<float>[batch, steps, output_dim]`` (``softmax(logits)`` is the layer's
          output distribution); with ``return_weights``, ``(logits, weights <float>[batch,
          steps, time])``.
        """
        num_steps = argument("num_steps", num_steps, int, minimum=1, optional=True)
        argument("return_weights", return_weights, bool)
        unroll = check_unroll(unroll)
        if encoded.ndim < 3 or encoded.shape[-2] == 0:
            raise ValueError(
                f"encoded must be <float>[batch, time, features] with time >= 1 "
                f"(the decoder starts from the first step), got shape "
                f"{tuple(encoded.shape)}"
            )
        if encoded.shape[-1] != params["W_s"].shape[0]:
            raise ValueError(
                f"encoded has {encoded.shape[-1]} features, but the params were "
                f"made for {params['W_s'].shape[0]} (init's input_dim)"
            )
        steps = encoded.shape[-2] if num_steps is None else num_steps
        encoded = zero_masked(encoded, mask)
        keys = self.precompute_keys(params, encoded)
        carry = self.initial_carry(params, encoded)

        def body(carry, _):
            return self.step(params, carry, encoded, keys, mask)

        _, (logits, weights) = jax.lax.scan(body, carry, None, length=steps, unroll=unroll)
        logits = jnp.moveaxis(logits, 0, -2)
        return (logits, jnp.moveaxis(weights, 0, -2)) if return_weights else logits


@dataclasses.dataclass(frozen=True)
class MultiHeadAttentionDecoder(AttentionDecoder):
    """The attention decoder with multi-head scaled dot-product attention (Vaswani et
    al. 2017, arXiv:1706.03762, section 3.2.2) in place of one score: the query ``s W_a``
    (``W_a`` leading ``U_s``, as Luong's general score), keys ``h W_k`` and values ``h
    W_v``, each cut into ``heads`` heads of ``input_dim / heads`` features; head ``i``'s
    weights are ``softmax_j(q_i . k_ij / sqrt(d))`` and the context is its heads' weighted
    values side by side (``C`` then projects it, as the one-head context). The weights
    returned are the heads' mean."""

    attention: str = "multihead"
    heads: int = 4

    def __post_init__(self):
        for name in ("units", "output_dim", "heads"):
            argument(name, getattr(self, name), int, minimum=1)
        if self.attention != "multihead":
            raise ValueError(f"attention must be 'multihead' here, got {self.attention!r}")

    def init(self, key: jax.Array, input_dim: int) -> dict[str, jax.Array]:
        input_dim = argument("input_dim (the encoder's output width)", input_dim, int, minimum=1)
        if input_dim % self.heads:
            raise ValueError(
                f"{self.heads} heads cannot split the encoder's {input_dim} features; "
                f"expected a width divisible by heads"
            )
        k_base, k_k, k_v = jax.random.split(key, 3)
        params = super().init(k_base, input_dim)
        glorot = initializers.glorot_uniform
        params.update(
            W_k=glorot(k_k, (input_dim, input_dim)), W_v=glorot(k_v, (input_dim, input_dim))
        )
        return params

    def query_width(self, input_dim: int) -> int:
        return input_dim

    def precompute_keys(self, params, encoded: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Keys and values, each ``<float>[batch, time, heads, input_dim / heads]``."""
        split = (*encoded.shape[:-1], self.heads, encoded.shape[-1] // self.heads)
        return (encoded @ params["W_k"]).reshape(split), (encoded @ params["W_v"]).reshape(split)

    def attend(self, params, query, keys, encoded, mask=None) -> tuple[jax.Array, jax.Array]:
        k, v = keys
        q = query.reshape(*query.shape[:-1], self.heads, -1)  # [batch, heads, d]
        scores = jnp.einsum("...hd,...thd->...ht", q, k) / jnp.sqrt(q.shape[-1]).astype(q.dtype)
        head_mask = None if mask is None else jnp.asarray(mask, bool)[..., None, :]
        weights = masked_softmax(scores, head_mask)  # [batch, heads, time]
        context = jnp.einsum("...ht,...thd->...hd", weights, v)
        return weights.mean(-2), context.reshape(*context.shape[:-2], -1)
