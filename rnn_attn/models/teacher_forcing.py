"""Recurrent encoder-decoders trained with teacher forcing, for tasks whose output
differs from the input (``rnn_attn.data.seq2seq_tasks``).

``RecurrentSeq2Seq``: an LSTM (or GRU) encoder over the one-hot source, its padding
masked, and a decoder that reads the previous output token:

* ``attention="none"``: an LSTM decoder started from the encoder's final state
  (Sutskever et al. 2014): the whole source passes through one state vector;
* ``bahdanau``, ``luong_dot``, ``luong_general``: the attention decoder of
  ``nn.attention`` (the copy task's, document 001), fed the previous token one-hot as
  ``y_{t-1}`` and started from ``tanh(h_last W_s)`` (the last valid encoder state: this
  encoder runs forwards, where Bahdanau's ``h_1`` is a backward state);
* ``multihead``: the same decoder with multi-head attention
  (``nn.attention.MultiHeadAttentionDecoder``).

Models follow the convention of every model (``init(key)``, ``apply(params, inputs, *,
train=False, key=None, return_weights=False)``) where ``inputs <int>[batch, S + T]``
holds the source (``S`` tokens, ``pad_id`` after its end) followed by the ``T =
target_length`` decoder inputs (the start token and the target shifted right): the
engine hands a model one array. ``apply`` returns logits ``<float>[batch, T, vocab]``
(with ``return_weights``, and the attention weights ``<float>[batch, T, S]``, None for
``none``). ``encode``, ``start`` and ``step`` decode one token at a time
(``models.decoding``); ``apply`` is the same ``step`` scanned over the given tokens.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from rnn_attn.checks import argument
from rnn_attn.models.decoding import split_inputs
from rnn_attn.models.transformer import TransformerSeq2Seq
from rnn_attn.nn import layers
from rnn_attn.nn.attention import ATTENTION_KINDS, AttentionDecoder, MultiHeadAttentionDecoder
from rnn_attn.nn.cells import Cell, make_cell
from rnn_attn.nn.recurrent import check_switches, rnn

RECURRENT_ATTENTION = ("none", *ATTENTION_KINDS, "multihead")
SEQ2SEQ_MODELS = (*RECURRENT_ATTENTION, "transformer")


def teacher_forced(model, params, inputs, return_weights: bool):
    """Logits ``[batch, T, vocab]`` (and weights ``[batch, T, S]`` or None): ``model``'s
    ``step`` scanned over the packed inputs' decoder inputs."""
    layers.check_token_ids(inputs, model.vocab_size, "tokens")
    source, decoder_inputs = split_inputs(inputs, model.target_length)
    memory = model.encode(params, source)
    state = model.start(params, memory)

    def body(state, xs):
        token, t = xs
        logits, state, weights = model.step(params, memory, state, token, t)
        return state, (logits, weights)

    steps = jnp.arange(model.target_length)
    _, (logits, weights) = jax.lax.scan(body, state, (decoder_inputs.T, steps))
    logits = jnp.moveaxis(logits, 0, 1)
    if not return_weights:
        return logits
    return logits, None if weights is None else jnp.moveaxis(weights, 0, 1)


@dataclasses.dataclass(frozen=True)
class RecurrentSeq2Seq:
    """See the module doc. ``units``: encoder and decoder state size; ``heads``: for
    ``multihead``."""

    vocab_size: int
    target_length: int
    attention: str = "bahdanau"
    units: int = 64
    cell: str = "lstm"
    heads: int = 4
    pad_id: int = 0

    def __post_init__(self):
        argument("vocab_size", self.vocab_size, int, minimum=2)
        argument("target_length", self.target_length, int, minimum=1)
        argument("pad_id", self.pad_id, int, minimum=0, maximum=self.vocab_size - 1)
        if not isinstance(self.attention, str) or self.attention not in RECURRENT_ATTENTION:
            raise ValueError(
                f"unknown attention {self.attention!r}; expected one of {RECURRENT_ATTENTION}"
            )
        make_cell(self.cell, self.units)
        if self.attention != "none":
            self.decoder  # noqa: B018 - validates units and heads

    @property
    def encoder(self) -> Cell:
        return make_cell(self.cell, self.units)

    @property
    def decoder(self):
        if self.attention == "none":
            return make_cell(self.cell, self.units)
        if self.attention == "multihead":
            return MultiHeadAttentionDecoder(self.units, self.vocab_size, heads=self.heads)
        return AttentionDecoder(self.units, self.vocab_size, attention=self.attention)

    def init(self, key: jax.Array) -> dict:
        k_enc, k_dec, k_out = jax.random.split(key, 3)
        params = {"encoder": self.encoder.init(k_enc, self.vocab_size)}
        if self.attention == "none":
            params["decoder"] = self.decoder.init(k_dec, self.vocab_size)
            params["output"] = layers.init_dense(k_out, self.units, self.vocab_size)
        else:
            params["decoder"] = self.decoder.init(k_dec, self.units)
        return params

    def one_hot(self, params, tokens: jax.Array) -> jax.Array:
        dtype = params["encoder"]["kernel"].dtype
        return jax.nn.one_hot(tokens, self.vocab_size, dtype=dtype)

    def encode(self, params, source: jax.Array):
        """``(encoded [batch, S, units], final carry, mask <bool>[batch, S], the
        attention's keys or None)``."""
        mask = source != self.pad_id
        one_hot = self.one_hot(params, source)
        encoded, final = rnn(self.encoder, params["encoder"], one_hot, mask=mask)
        if self.attention == "none":
            return encoded, final, mask, None
        return encoded, final, mask, self.decoder.precompute_keys(params["decoder"], encoded)

    def start(self, params, memory):
        _, final, _, _ = memory
        if self.attention == "none":
            return final
        return jnp.tanh(final[0] @ params["decoder"]["W_s"])

    def step(self, params, memory, state, token: jax.Array, t):
        """``(logits [batch, vocab], state, weights [batch, S] or None)``."""
        encoded, _, mask, keys = memory
        y = self.one_hot(params, token)
        if self.attention == "none":
            state, h = self.decoder(params["decoder"], state, y)
            return layers.dense(params["output"], h), state, None
        (_, state), (logits, weights) = self.decoder.step(
            params["decoder"], (y, state), encoded, keys, mask
        )
        return logits, state, weights

    def apply(
        self,
        params: dict,
        inputs: jax.Array,
        *,
        train: bool = False,
        key: jax.Array | None = None,
        return_weights: bool = False,
    ):
        """Teacher-forced logits (the module doc); no dropout, so ``train`` and ``key``
        change nothing."""
        check_switches(train=train, return_weights=return_weights)
        return teacher_forced(self, params, inputs, return_weights)


def make_seq2seq(
    kind: str,
    vocab_size: int,
    target_length: int,
    *,
    units: int = 64,
    heads: int = 4,
    dim: int = 64,
    layers: int = 2,
    hidden: int = 128,
    pad_id: int = 0,
):
    """A model of ``SEQ2SEQ_MODELS``: a ``RecurrentSeq2Seq`` with ``kind`` as its attention
    (``units``, ``heads``) or the ``transformer`` (``dim``, ``heads``, ``layers``,
    ``hidden``)."""
    if kind == "transformer":
        return TransformerSeq2Seq(
            vocab_size,
            target_length,
            dim=dim,
            heads=heads,
            layers=layers,
            hidden=hidden,
            pad_id=pad_id,
        )
    if not isinstance(kind, str) or kind not in RECURRENT_ATTENTION:
        raise ValueError(f"unknown model {kind!r}; expected one of {SEQ2SEQ_MODELS}")
    return RecurrentSeq2Seq(
        vocab_size, target_length, kind, units=units, heads=heads, pad_id=pad_id
    )
