"""Character-level language model of reference document 003: a window of characters
(one-hot, or through an embedding) -> LSTM(128) -> Dense -> softmax over characters.

Document 003's model: LSTM(128, dropout=0.1, bias_regularizer=L1L2(0.01, 0.01)) on
one-hot windows of 10 characters, then Dense(n_chars) and a softmax; RMSprop. Its code
imports SimpleRNN and GRU beside LSTM: ``cell_kind`` swaps the recurrent layer.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp

from rnn_attn import memory
from rnn_attn.checks import argument
from rnn_attn.models.text_classifiers import init_embedding
from rnn_attn.nn import layers
from rnn_attn.nn.cells import make_cell
from rnn_attn.nn.recurrent import check_coefficient, check_rate, check_unroll, rnn

INPUTS = ("one_hot", "embedding")


@dataclasses.dataclass(frozen=True)
class CharRNN:
    """``apply(params, ids <int32>[batch, seqlen]) -> logits <float32>[batch, vocab]``: the
    next character's logits after reading the window. The recurrent layer's parameters
    are ``params[cell_kind]`` (``"lstm"``, ``"gru"`` or ``"simple_rnn"``).
    ``HYPERPARAMETERS``: the fields a sweep may give as arrays (``recurrent.is_array``)."""

    HYPERPARAMETERS: ClassVar[tuple[str, ...]] = ("dropout", "bias_l1", "bias_l2")
    vocab_size: int
    cell_kind: str = "lstm"
    units: int = 128
    inputs: str = "one_hot"
    embed_dim: int = 32
    dropout: float = 0.1
    bias_l1: float = 0.01
    bias_l2: float = 0.01
    unroll: bool = True

    def __post_init__(self):
        argument("vocab_size", self.vocab_size, int, minimum=2)
        make_cell(self.cell_kind, self.units)  # the kind and the units
        if not isinstance(self.inputs, str) or self.inputs not in INPUTS:
            raise ValueError(f"unknown input encoding {self.inputs!r}; expected one of {INPUTS}")
        argument("embed_dim", self.embed_dim, int, minimum=1)
        check_rate("dropout", self.dropout)
        for name in ("bias_l1", "bias_l2"):
            check_coefficient(name, getattr(self, name))
        check_unroll(self.unroll)

    @property
    def cell(self):
        return make_cell(self.cell_kind, self.units)

    @property
    def input_dim(self) -> int:
        return self.vocab_size if self.inputs == "one_hot" else self.embed_dim

    @memory.checked_init
    def init(self, key: jax.Array) -> dict:
        k_emb, k_rnn, k_out = jax.random.split(key, 3)
        params = {
            self.cell_kind: self.cell.init(k_rnn, self.input_dim),
            "output": layers.init_dense(k_out, self.units, self.vocab_size),
        }
        if self.inputs == "embedding":
            params["embedding"] = init_embedding(k_emb, self.vocab_size, self.embed_dim)
        return params

    def embed(self, params: dict, ids: jax.Array) -> jax.Array:
        if self.inputs == "one_hot":
            return jax.nn.one_hot(ids, self.vocab_size, dtype=params["output"]["kernel"].dtype)
        return params["embedding"]["embeddings"][ids]

    def apply(
        self, params: dict, ids: jax.Array, *, train: bool = False, key: jax.Array | None = None
    ) -> jax.Array:
        """Concrete ids outside ``[0, vocab_size)`` get one ValueError; under ``jit`` they
        cannot be checked (``layers.check_token_ids``: one-hot gives them zeros, the
        embedding clamps them) and the engine checks the splits before training."""
        layers.check_token_ids(ids, self.vocab_size, "character ids")
        h, _ = rnn(
            self.cell,
            params[self.cell_kind],
            self.embed(params, ids),
            return_sequences=False,
            unroll=self.unroll,
            dropout=self.dropout,
            train=train,
            key=key,
        )
        return layers.dense(params["output"], h)

    def regularization(self, params: dict) -> jax.Array:
        """Keras's L1L2 on the recurrent layer's bias."""
        bias = params[self.cell_kind]["bias"]
        return self.bias_l1 * jnp.sum(jnp.abs(bias)) + self.bias_l2 * jnp.sum(bias**2)
