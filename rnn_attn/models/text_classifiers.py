"""Sentiment classifiers of reference document 000 (IMDB): Embedding -> BiLSTM ->
[attention pooling] -> Dropout -> Dense(1, sigmoid).

Attention pooling as in document 000: ``e_t = tanh(h_t W + b_t)`` with one bias per time
step, ``a = softmax_t(e)``, output ``sum_t a_t h_t``. The masked variant gives padding
(token 0) weight exactly 0 and keeps it out of the BiLSTM's states.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from rnn_attn import initializers, layers
from rnn_attn.attention import masked_softmax
from rnn_attn.cells import LSTMCell
from rnn_attn.recurrent import bidirectional, init_bidirectional

POOLINGS = ("last", "attention", "masked_attention")


def init_embedding(key: jax.Array, vocab_size: int, dim: int) -> dict[str, jax.Array]:
    """Keras Embedding: uniform(-0.05, 0.05)."""
    return {"embeddings": jax.random.uniform(key, (vocab_size, dim), jnp.float32, -0.05, 0.05)}


def attention_pool(params: dict, sequence: jax.Array, mask: jax.Array | None = None):
    """``sequence <float>[batch, time, d]`` -> ``(pooled [batch, d], weights [batch, time])``."""
    energies = jnp.tanh(sequence @ params["W"] + params["b"][:, None])[..., 0]
    weights = masked_softmax(energies, mask)
    return jnp.einsum("bt,btd->bd", weights, sequence), weights


@dataclasses.dataclass(frozen=True)
class BiLSTMClassifier:
    """Document 000's model; ``pooling='last'`` is its baseline, ``'attention'`` its
    attention model, ``'masked_attention'`` the variant that ignores padding."""

    vocab_size: int = 10_000
    embed_dim: int = 128
    units: int = 64
    maxlen: int = 200
    pooling: str = "last"
    dropout: float = 0.5

    def __post_init__(self):
        if self.pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {self.pooling!r}; expected one of {POOLINGS}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def cell(self) -> LSTMCell:
        return LSTMCell(self.units)

    def init(self, key: jax.Array) -> dict:
        k_emb, k_rnn, k_att, k_out = jax.random.split(key, 4)
        params = {
            "embedding": init_embedding(k_emb, self.vocab_size, self.embed_dim),
            "bilstm": init_bidirectional(k_rnn, self.cell, self.cell, self.embed_dim),
            "output": layers.init_dense(k_out, 2 * self.units, 1),
        }
        if self.pooling != "last":
            params["attention"] = {
                "W": initializers.glorot_uniform(k_att, (2 * self.units, 1)),
                "b": jnp.zeros((self.maxlen,), jnp.float32),
            }
        return params

    def apply(self, params: dict, tokens: jax.Array, *, train: bool = False,
              key: jax.Array | None = None, return_weights: bool = False):
        """``tokens <int>[batch, maxlen]`` -> logits ``<float>[batch]`` (sigmoid = P(pos))."""
        if tokens.shape[-1] != self.maxlen and self.pooling != "last":
            raise ValueError(f"tokens have length {tokens.shape[-1]}, expected maxlen="
                             f"{self.maxlen} (the attention bias has one entry per step)")
        x = params["embedding"]["embeddings"][tokens]
        mask = tokens != 0 if self.pooling == "masked_attention" else None
        cell = self.cell
        if self.pooling == "last":
            h, _ = bidirectional(cell, cell, params["bilstm"], x, return_sequences=False)
            weights = None
        else:
            seq, _ = bidirectional(cell, cell, params["bilstm"], x, mask=mask)
            h, weights = attention_pool(params["attention"], seq, mask)
        if train and self.dropout > 0:
            if key is None:
                raise ValueError("train=True with dropout needs a PRNG key")
            keep = jax.random.bernoulli(key, 1.0 - self.dropout, h.shape)
            h = jnp.where(keep, h / (1.0 - self.dropout), 0.0)
        logits = layers.dense(params["output"], h)[..., 0]
        return (logits, weights) if return_weights else logits
