"""Sentiment classifiers of reference document 000 (IMDB): Embedding -> BiLSTM ->
[attention pooling] -> Dropout -> Dense(1, sigmoid).

Attention pooling as in document 000: ``e_t = tanh(h_t W + b_t)`` with one bias per time
step, ``a = softmax_t(e)``, output ``sum_t a_t h_t``. The masked variant gives padding
(token 0) weight exactly 0 and keeps it out of the BiLSTM's states.

Also the IMDB models of documents 002 (Embedding+Flatten, SimpleRNN, LSTM, GRU, reversed
and bidirectional LSTM) and 003 (LSTM with input dropout and an L1L2 bias regularizer),
all behind one interface, and the registry ``TEXT_MODELS`` / ``make_text_model``.

Beside document 000's models (issue 32): ``bilstm_mha``, its BiLSTM with multi-head
attention pooling (learned queries over the BiLSTM's outputs), and ``transformer_encoder``,
a small Transformer encoder classifier; both reuse ``nn.transformer`` and mask padding.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from rnn_attn import memory
from rnn_attn.checks import argument
from rnn_attn.nn import initializers, layers, transformer
from rnn_attn.nn.attention import masked_softmax
from rnn_attn.nn.cells import CELLS, Cell, LSTMCell, make_cell
from rnn_attn.nn.recurrent import (
    bidirectional,
    check_coefficient,
    check_rate,
    check_remat,
    check_switches,
    check_unroll,
    dropout_active,
    init_bidirectional,
    is_array,
    rnn,
)

POOLINGS = ("last", "attention", "masked_attention")


def init_embedding(key: jax.Array, vocab_size: int, dim: int) -> dict[str, jax.Array]:
    """Keras Embedding: uniform(-0.05, 0.05); a table past half the free memory is refused
    first (``rnn_attn.memory.check_array``)."""
    vocab_size = argument("vocab_size", vocab_size, int, minimum=1)
    dim = argument("embedding dim", dim, int, minimum=1)
    memory.check_array("embedding weights", (vocab_size, dim), jnp.float32, key)
    return {"embeddings": jax.random.uniform(key, (vocab_size, dim), jnp.float32, -0.05, 0.05)}


def attention_pool(params: dict, sequence: jax.Array, mask: jax.Array | None = None):
    """``sequence <float>[batch, time, d]`` -> ``(pooled [batch, d], weights [batch, time])``.

    Masked steps get weight 0 and are zeroed before any arithmetic, so whatever they hold
    (NaN included) reaches neither the output nor a gradient."""
    sequence = layers.zero_masked(sequence, mask)
    energies = jnp.tanh(sequence @ params["W"] + params["b"][:, None])[..., 0]
    weights = masked_softmax(energies, mask)
    return jnp.einsum("bt,btd->bd", weights, sequence), weights


@dataclasses.dataclass(frozen=True)
class BiLSTMClassifier:
    """Document 000's model; ``pooling='last'`` is its baseline, ``'attention'`` its
    attention model, ``'masked_attention'`` the variant that ignores padding.
    ``HYPERPARAMETERS``: the fields a sweep may give as arrays (``recurrent.is_array``)."""

    HYPERPARAMETERS: ClassVar[tuple[str, ...]] = ("dropout",)
    vocab_size: int = 10_000
    embed_dim: int = 128
    units: int = 64
    maxlen: int = 200
    pooling: str = "last"
    dropout: float = 0.5
    # Time steps per loop iteration of the BiLSTM's scan (1 measured fastest on the 2-core CPU:
    # 625 examples/s against 560 for 2 and 539 for 4).
    unroll: int = 1
    # Rematerialise the BiLSTM's scan in chunks of this many steps (0: off; see
    # recurrent.rnn). Asking for it trades the fused kernel for the generic scan.
    remat: int = 0

    def __post_init__(self):
        for name in ("vocab_size", "embed_dim", "units", "maxlen"):
            argument(name, getattr(self, name), int, minimum=1)
        if not isinstance(self.pooling, str) or self.pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {self.pooling!r}; expected one of {POOLINGS}")
        check_rate("dropout", self.dropout)
        check_unroll(self.unroll)
        check_remat(self.remat)

    @property
    def cell(self) -> LSTMCell:
        return LSTMCell(self.units)

    def regularization(self, params: dict) -> jax.Array:
        """No weight penalty in document 000: 0."""
        return jnp.zeros((), jnp.float32)

    @memory.checked_init
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

    def apply(
        self,
        params: dict,
        tokens: jax.Array,
        *,
        train: bool = False,
        key: jax.Array | None = None,
        return_weights: bool = False,
    ):
        """``tokens <int>[batch, maxlen]`` -> logits ``<float>[batch]`` (sigmoid = P(pos)).

        Concrete ids outside ``[0, vocab_size)`` get one ValueError; traced ones (under
        ``jit``) cannot be checked and the gather would clamp them silently
        (``layers.check_token_ids``; the engine checks every split before training)."""
        check_switches(train=train, return_weights=return_weights)
        layers.check_token_ids(tokens, self.vocab_size, "tokens")
        if tokens.shape[-1] != self.maxlen and self.pooling != "last":
            raise ValueError(
                f"tokens have length {tokens.shape[-1]}, expected maxlen="
                f"{self.maxlen} (the attention bias has one entry per step)"
            )
        mask = tokens != 0 if self.pooling == "masked_attention" else None
        # Embedding -> Bidirectional(LSTM): the layer reads the tokens through the table
        # (recurrent.fused_kernel_for runs it on the fused kernel of rnn_attn/nn/fast_lstm).
        last = self.pooling == "last"  # the last states, else attention over the sequence
        h, _ = bidirectional(
            self.cell,
            self.cell,
            params["bilstm"],
            tokens,
            embeddings=params["embedding"]["embeddings"],
            mask=mask,
            return_sequences=not last,
            unroll=self.unroll,
            remat=self.remat,
        )
        weights = None
        if not last:
            h, weights = attention_pool(params["attention"], h, mask)
        if dropout_active(self.dropout, train):
            if key is None:
                raise ValueError("train=True with dropout needs a PRNG key")
            keep = jax.random.bernoulli(key, 1.0 - self.dropout, h.shape)
            h = jnp.where(keep, h / (1.0 - self.dropout), 0.0)
        logits = layers.dense(params["output"], h)[..., 0]
        return (logits, weights) if return_weights else logits


# -- the models of documents 002 and 003, and the registry ----------------------------------
#
# Every text model follows one interface (the engine, rnn_attn.train, relies on it):
#   init(key) -> params
#   apply(params, tokens <int>[batch, time], *, train=False, key=None) -> logits <float32>[batch]
#       (one logit per review; sigmoid(logit) = P(positive))
#   regularization(params) -> <float32>[] (the penalty added to the loss; 0 when none)
#   vocab_size, maxlen (None when the model takes any length)
# Token ids outside [0, vocab_size) get one ValueError when ``apply`` sees concrete values.
# Under ``jit`` the ids are traced and cannot be checked: the embedding gather would read
# an id past the table as its last row and a negative one from the end, without a word;
# the engine (rnn_attn.train) checks every split's ids on the host before that
# (``layers.check_token_ids``).


def embed(params: dict, tokens: jax.Array, *, frozen: bool = False) -> jax.Array:
    """``tokens <int>[batch, time]`` -> ``<float32>[batch, time, dim]`` (Keras Embedding).

    ``frozen``: no gradient reaches the table (Keras's ``trainable=False``, e.g. for
    pretrained GloVe vectors); the optimizers used here then leave it unchanged.
    """
    table = params["embedding"]["embeddings"]
    if frozen:
        table = jax.lax.stop_gradient(table)
    return table[tokens]


def reverse_tokens(tokens: jax.Array) -> jax.Array:
    """Each row read backwards, padding (token 0) left where it is.

    ``tokens <int>[batch, time]``: the span from a row's first to its last non-zero token
    is reversed; the padding outside it stays put. For a review padded 'pre' or 'post'
    this is what document 002 feeds its reversed LSTM (``lapply(x, rev)`` and then
    ``pad_sequences``), except for reviews longer than ``maxlen``: truncating after
    reversing keeps the review's FIRST words, so those need ``truncating='post'`` upstream.
    """
    tokens = jnp.asarray(tokens)
    steps = tokens.shape[-1]
    t = jnp.arange(steps)
    present = tokens != 0
    first = jnp.argmax(present, axis=-1)[..., None]
    last = steps - 1 - jnp.argmax(present[..., ::-1], axis=-1)[..., None]
    inside = (t >= first) & (t <= last)
    source = jnp.where(inside, first + last - t, t)
    return jnp.take_along_axis(tokens, source, axis=-1)


def _check_positive_int(name: str, value) -> None:
    argument(name, value, int, minimum=1)


def _check_tokens(tokens: jax.Array, maxlen: int | None, vocab_size: int) -> None:
    """Shape and dtype always; the ids against ``vocab_size`` when they are concrete (see
    ``layers.check_token_ids``: under ``jit`` they are not checked)."""
    if tokens.ndim != 2 or not jnp.issubdtype(tokens.dtype, jnp.integer):
        raise ValueError(
            f"tokens must be <int>[batch, time], got {tokens.dtype}{list(tokens.shape)}"
        )
    if maxlen is not None and tokens.shape[-1] != maxlen:
        raise ValueError(f"tokens have length {tokens.shape[-1]}, expected maxlen={maxlen}")
    layers.check_token_ids(tokens, vocab_size, "tokens")


@dataclasses.dataclass(frozen=True)
class EmbeddingFlattenClassifier:
    """Embedding -> Flatten -> [Dense(hidden_units, relu)] -> Dense(1, sigmoid).

    Document 002's first IMDB model (``hidden_units=None``: Embedding(10,000, 8),
    ``input_length`` 20, 80,161 parameters) and its GloVe model (Embedding(10,000, 100),
    maxlen 100, Dense(32, relu): 1,320,065 parameters). Flatten ties the model to one
    length, so ``maxlen`` is required and checked.
    """

    vocab_size: int = 10_000
    embed_dim: int = 8
    maxlen: int = 20
    hidden_units: int | None = None
    freeze_embedding: bool = False

    def __post_init__(self):
        _check_positive_int("vocab_size", self.vocab_size)
        _check_positive_int("embed_dim", self.embed_dim)
        _check_positive_int("maxlen", self.maxlen)
        if self.hidden_units is not None:
            _check_positive_int("hidden_units", self.hidden_units)
        check_switches(freeze_embedding=self.freeze_embedding)

    @memory.checked_init
    def init(self, key: jax.Array) -> dict:
        k_emb, k_hidden, k_out = jax.random.split(key, 3)
        width = self.maxlen * self.embed_dim
        params = {"embedding": init_embedding(k_emb, self.vocab_size, self.embed_dim)}
        if self.hidden_units is not None:
            params["hidden"] = layers.init_dense(k_hidden, width, self.hidden_units)
            width = self.hidden_units
        params["output"] = layers.init_dense(k_out, width, 1)
        return params

    def apply(
        self, params: dict, tokens: jax.Array, *, train: bool = False, key: jax.Array | None = None
    ) -> jax.Array:
        """``tokens <int>[batch, maxlen]`` -> logits ``<float32>[batch]``.

        ``train`` and ``key`` are accepted for the common interface; nothing is random.
        """
        check_switches(train=train)
        _check_tokens(tokens, self.maxlen, self.vocab_size)
        x = embed(params, tokens, frozen=self.freeze_embedding)
        x = x.reshape(*x.shape[:-2], -1)  # Flatten: [batch, maxlen * dim], time-major rows
        if self.hidden_units is not None:
            x = jax.nn.relu(layers.dense(params["hidden"], x))
        return layers.dense(params["output"], x)[..., 0]

    def regularization(self, params: dict) -> jax.Array:
        return jnp.zeros((), jnp.float32)


@dataclasses.dataclass(frozen=True)
class RecurrentClassifier:
    """Embedding -> [Bidirectional](SimpleRNN | LSTM | GRU) -> Dense(1, sigmoid).

    Document 002's IMDB models (Embedding(10,000, 32) and 32 units; the reversed LSTM reads
    each review backwards; the bidirectional one concatenates both directions' last
    states) and document 003's (Embedding(20,000, 128) -> LSTM(64, dropout 0.2, bias
    regularizer L1L2(0.01, 0.01))).

    Fields:
      cell_kind: ``simple_rnn``, ``lstm`` or ``gru`` (Keras inits, GRU ``reset_after``).
      maxlen: None takes any length; an integer is checked against the tokens' length.
      dropout, recurrent_dropout: Keras's layer arguments (one mask per review, fixed over
        time; only with ``apply(..., train=True, key=...)``).
      bias_l1, bias_l2: Keras's ``bias_regularizer=L1L2(l1, l2)`` on the recurrent layer's
        bias, returned by ``regularization``.
      reverse: feed each review backwards (``reverse_tokens``), as document 002 does.
      bidirectional: Keras's ``Bidirectional(layer)`` with ``merge_mode='concat'``
        (without dropout: ``recurrent.bidirectional`` has none yet).
      HYPERPARAMETERS: the fields a sweep may give as arrays (``recurrent.is_array``).
      mask_padding: treat token 0 as padding and keep it out of the recurrent state
        (Keras's ``mask_zero=True``). The documents' models do not mask, so the default is
        False: with Keras's 'pre' padding the padded steps then come first and run through
        the cell.
      remat: rematerialise the recurrent scan in chunks of this many steps (0: off; see
        ``recurrent.rnn``): less memory for long reviews, one more forward pass.
    """

    HYPERPARAMETERS: ClassVar[tuple[str, ...]] = (
        "dropout",
        "recurrent_dropout",
        "bias_l1",
        "bias_l2",
    )
    cell_kind: str = "lstm"
    vocab_size: int = 10_000
    embed_dim: int = 32
    units: int = 32
    maxlen: int | None = None
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    bias_l1: float = 0.0
    bias_l2: float = 0.0
    reverse: bool = False
    bidirectional: bool = False
    mask_padding: bool = False
    freeze_embedding: bool = False
    remat: int = 0

    def __post_init__(self):
        if not isinstance(self.cell_kind, str) or self.cell_kind not in CELLS:
            raise ValueError(
                f"unknown cell_kind {self.cell_kind!r}; expected one of {sorted(CELLS)}"
            )
        for name in ("vocab_size", "embed_dim", "units"):
            _check_positive_int(name, getattr(self, name))
        argument("maxlen", self.maxlen, int, minimum=1, optional=True)
        check_rate("dropout", self.dropout)
        check_rate("recurrent_dropout", self.recurrent_dropout)
        check_remat(self.remat)
        for name in ("bias_l1", "bias_l2"):
            check_coefficient(name, getattr(self, name))
        check_switches(
            reverse=self.reverse,
            bidirectional=self.bidirectional,
            mask_padding=self.mask_padding,
            freeze_embedding=self.freeze_embedding,
        )
        if self.bidirectional and (
            dropout_active(self.dropout, True) or dropout_active(self.recurrent_dropout, True)
        ):
            raise ValueError(
                "dropout in a bidirectional model is not supported yet "
                f"(dropout={self.dropout}, recurrent_dropout="
                f"{self.recurrent_dropout})"
            )

    @property
    def cell(self) -> Cell:
        return make_cell(self.cell_kind, self.units)

    @property
    def layer_name(self) -> str:
        """The recurrent layer's key in the params (as Keras names it in a summary)."""
        return f"bidirectional_{self.cell_kind}" if self.bidirectional else self.cell_kind

    @memory.checked_init
    def init(self, key: jax.Array) -> dict:
        k_emb, k_rnn, k_out = jax.random.split(key, 3)
        cell = self.cell
        if self.bidirectional:
            recurrent = init_bidirectional(k_rnn, cell, cell, self.embed_dim)
        else:
            recurrent = cell.init(k_rnn, self.embed_dim)
        return {
            "embedding": init_embedding(k_emb, self.vocab_size, self.embed_dim),
            self.layer_name: recurrent,
            "output": layers.init_dense(k_out, self.features, 1),
        }

    @property
    def features(self) -> int:
        """Width of what reaches the output layer."""
        return 2 * self.units if self.bidirectional else self.units

    def encode(
        self, params: dict, tokens: jax.Array, *, train: bool = False, key: jax.Array | None = None
    ) -> jax.Array:
        """``tokens <int>[batch, time]`` -> the recurrent layer's last state
        ``<float32>[batch, features]``."""
        check_switches(train=train)
        _check_tokens(tokens, self.maxlen, self.vocab_size)
        if self.reverse:
            tokens = reverse_tokens(tokens)
        x = embed(params, tokens, frozen=self.freeze_embedding)
        mask = tokens != 0 if self.mask_padding else None
        cell = self.cell
        if self.bidirectional:
            h, _ = bidirectional(
                cell,
                cell,
                params[self.layer_name],
                x,
                mask=mask,
                return_sequences=False,
                remat=self.remat,
            )
            return h
        h, _ = rnn(
            cell,
            params[self.layer_name],
            x,
            mask=mask,
            return_sequences=False,
            dropout=self.dropout,
            recurrent_dropout=self.recurrent_dropout,
            train=train,
            key=key,
            remat=self.remat,
        )
        return h

    def apply(
        self, params: dict, tokens: jax.Array, *, train: bool = False, key: jax.Array | None = None
    ) -> jax.Array:
        """``tokens <int>[batch, time]`` -> logits ``<float32>[batch]`` (sigmoid = P(pos)).

        Dropout only with ``train=True``, which then needs ``key`` when a rate is > 0.
        """
        h = self.encode(params, tokens, train=train, key=key)
        return layers.dense(params["output"], h)[..., 0]

    def recurrent_biases(self, params: dict) -> list[jax.Array]:
        layer = params[self.layer_name]
        if self.bidirectional:
            return [layer["forward"]["bias"], layer["backward"]["bias"]]
        return [layer["bias"]]

    def regularization(self, params: dict) -> jax.Array:
        """Keras's ``L1L2(bias_l1, bias_l2)`` on the recurrent bias:
        ``l1 * sum|b| + l2 * sum b^2`` (a float32 scalar; 0 when both are 0)."""
        penalty = jnp.zeros((), jnp.float32)
        for b in self.recurrent_biases(params):
            if is_array(self.bias_l1) or self.bias_l1:
                penalty = penalty + self.bias_l1 * jnp.sum(jnp.abs(b))
            if is_array(self.bias_l2) or self.bias_l2:
                penalty = penalty + self.bias_l2 * jnp.sum(jnp.square(b))
        return penalty


# -- self-attention beside document 000 (issue 32, item 4) ----------------------------------


def _dropout(h: jax.Array, rate: float, train: bool, key: jax.Array | None) -> jax.Array:
    """Inverted dropout of ``h`` at ``rate`` when training (as ``BiLSTMClassifier``'s)."""
    if not train or rate == 0:
        return h
    if key is None:
        raise ValueError("train=True with dropout needs a PRNG key")
    keep = jax.random.bernoulli(key, 1.0 - rate, h.shape)
    return jnp.where(keep, h / (1.0 - rate), 0.0)


def _check_heads(width_name: str, width: int, heads: int) -> None:
    if width % heads:
        raise ValueError(
            f"{heads} heads cannot split {width_name} {width}; expected a width divisible by heads"
        )


@dataclasses.dataclass(frozen=True)
class BiLSTMMultiHeadClassifier:
    """Document 000's BiLSTM with multi-head attention pooling: Embedding -> BiLSTM ->
    ``queries`` learned query vectors attending over the BiLSTM's outputs
    (``nn.transformer.attention``: scaled dot-product, ``heads`` heads of ``2 * units /
    heads`` features, query/key/value/output projections) -> the queries' outputs side
    by side -> Dropout -> Dense(1, sigmoid).

    Padding (token 0) is masked out of the BiLSTM's states and out of the attention, so
    a review padded longer gives the same logit. Defaults: document 000's sizes
    (Embedding(10,000, 128), BiLSTM(64), dropout 0.5), 4 heads, one query: 1,445,121
    parameters (the BiLSTM's 1,378,945, the query's 128 and the projections' 66,048).
    ``maxlen`` None takes any length; an integer is checked against the tokens'.
    """

    vocab_size: int = 10_000
    embed_dim: int = 128
    units: int = 64
    heads: int = 4
    queries: int = 1
    maxlen: int | None = 200
    dropout: float = 0.5
    unroll: int = 1
    remat: int = 0  # as BiLSTMClassifier's

    def __post_init__(self):
        for name in ("vocab_size", "embed_dim", "units", "heads", "queries"):
            argument(name, getattr(self, name), int, minimum=1)
        argument("maxlen", self.maxlen, int, minimum=1, optional=True)
        _check_heads("the BiLSTM's output width 2 * units =", 2 * self.units, self.heads)
        check_rate("dropout", self.dropout)
        check_unroll(self.unroll)
        check_remat(self.remat)

    @property
    def cell(self) -> LSTMCell:
        return LSTMCell(self.units)

    def regularization(self, params: dict) -> jax.Array:
        return jnp.zeros((), jnp.float32)

    @memory.checked_init
    def init(self, key: jax.Array) -> dict:
        k_emb, k_rnn, k_query, k_att, k_out = jax.random.split(key, 5)
        width = 2 * self.units
        return {
            "embedding": init_embedding(k_emb, self.vocab_size, self.embed_dim),
            "bilstm": init_bidirectional(k_rnn, self.cell, self.cell, self.embed_dim),
            "pooling": {
                "queries": initializers.glorot_uniform(k_query, (self.queries, width)),
                "attention": transformer.init_attention(k_att, width),
            },
            "output": layers.init_dense(k_out, self.queries * width, 1),
        }

    def apply(self, params, tokens, *, train=False, key=None, return_weights=False):
        """``tokens <int>[batch, time]`` -> logits ``<float32>[batch]``; with
        ``return_weights``, and the attention weights ``<float32>[batch, time]`` (the
        heads' and queries' mean: 0 on padding, summing to 1 over a review's words)."""
        check_switches(train=train, return_weights=return_weights)
        _check_tokens(tokens, self.maxlen, self.vocab_size)
        mask = tokens != 0
        h, _ = bidirectional(
            self.cell,
            self.cell,
            params["bilstm"],
            tokens,
            embeddings=params["embedding"]["embeddings"],
            mask=mask,
            unroll=self.unroll,
            remat=self.remat,
        )
        h = layers.zero_masked(h, mask)
        pool = params["pooling"]
        queries = jnp.broadcast_to(pool["queries"], (*h.shape[:-2], *pool["queries"].shape))
        pooled, weights = transformer.attention(
            pool["attention"], queries, h, self.heads, mask[..., None, :]
        )
        pooled = _dropout(pooled.reshape(*pooled.shape[:-2], -1), self.dropout, train, key)
        logits = layers.dense(params["output"], pooled)[..., 0]
        return (logits, weights.mean((-3, -2))) if return_weights else logits


@dataclasses.dataclass(frozen=True)
class TransformerClassifier:
    """A small Transformer encoder classifier (Vaswani et al. 2017): Embedding (times
    ``sqrt(embed_dim)``) + sinusoidal positions -> ``layers`` pre-normalized encoder
    layers (``nn.transformer.encoder_layer``: ``heads`` heads, feed-forward width
    ``hidden``) -> layer norm -> mean over the review's words -> Dropout -> Dense(1,
    sigmoid).

    Padding (token 0) is never attended to and left out of the mean, and a word's
    position counts the words before it, not the padding: a review padded longer (Keras
    pads 'pre') gives the same logit. Defaults: document 000's embedding
    (Embedding(10,000, 128), Keras's uniform init) and dropout 0.5 before the output, 2
    layers, 4 heads, hidden 128: 1,479,553 parameters (the BiLSTM: 1,378,945; the
    embedding 1,280,000 of both). ``maxlen`` None takes any length.
    """

    vocab_size: int = 10_000
    embed_dim: int = 128
    heads: int = 4
    layers: int = 2
    hidden: int = 128
    maxlen: int | None = 200
    dropout: float = 0.5

    def __post_init__(self):
        for name in ("vocab_size", "embed_dim", "heads", "layers", "hidden"):
            argument(name, getattr(self, name), int, minimum=1)
        argument("maxlen", self.maxlen, int, minimum=1, optional=True)
        _check_heads("embed_dim", self.embed_dim, self.heads)
        if self.embed_dim % 2:
            raise ValueError(f"embed_dim must be even (sinusoidal positions), got {self.embed_dim}")
        check_rate("dropout", self.dropout)

    def regularization(self, params: dict) -> jax.Array:
        return jnp.zeros((), jnp.float32)

    @memory.checked_init
    def init(self, key: jax.Array) -> dict:
        k_emb, k_enc, k_out = jax.random.split(key, 3)
        return {
            "embedding": init_embedding(k_emb, self.vocab_size, self.embed_dim),
            "encoder": [
                transformer.init_encoder_layer(k, self.embed_dim, self.hidden)
                for k in jax.random.split(k_enc, self.layers)
            ],
            "encoder_norm": transformer.init_layer_norm(self.embed_dim),
            "output": layers.init_dense(k_out, self.embed_dim, 1),
        }

    def embed(self, params: dict, tokens: jax.Array, mask: jax.Array) -> jax.Array:
        """Scaled embeddings plus the sinusoid of each word's position among the words;
        0 at padding (``layers.zero_masked``: whatever the padding row holds, NaN
        included, reaches no output or gradient)."""
        position = jnp.maximum(jnp.cumsum(mask, axis=-1) - 1, 0)
        table = transformer.sinusoidal_positions(tokens.shape[-1], self.embed_dim)
        scale = np.float32(np.sqrt(self.embed_dim))
        return layers.zero_masked(embed(params, tokens) * scale + table[position], mask)

    def apply(self, params, tokens, *, train=False, key=None, return_weights=False):
        """``tokens <int>[batch, time]`` -> logits ``<float32>[batch]``; with
        ``return_weights``, and the last layer's self-attention weights ``<float32>[batch,
        time]`` (the mean over heads and over the review's words as queries: the weight
        each word receives; 0 on padding, summing to 1)."""
        check_switches(train=train, return_weights=return_weights)
        _check_tokens(tokens, self.maxlen, self.vocab_size)
        mask = tokens != 0
        x = self.embed(params, tokens, mask)
        for layer in params["encoder"]:
            x, weights = transformer.encoder_layer(layer, x, mask, self.heads, return_weights=True)
        x = layers.zero_masked(transformer.layer_norm(params["encoder_norm"], x), mask)
        count = jnp.maximum(mask.sum(-1, keepdims=True), 1).astype(x.dtype)
        pooled = _dropout(x.sum(-2) / count, self.dropout, train, key)
        logits = layers.dense(params["output"], pooled)[..., 0]
        if not return_weights:
            return logits
        received = jnp.einsum("bq,bqk->bk", mask.astype(x.dtype), weights.mean(-3))
        return logits, received / count


TextModel = (
    BiLSTMClassifier
    | EmbeddingFlattenClassifier
    | RecurrentClassifier
    | BiLSTMMultiHeadClassifier
    | TransformerClassifier
)


@dataclasses.dataclass(frozen=True, eq=False)
class PretrainedEmbedding:
    """``base`` with its embedding table initialized from ``table`` (e.g. GloVe vectors,
    ``<float32>[vocab_size, embed_dim]``); everything else as ``base``. Freezing is the
    base model's ``freeze_embedding``."""

    base: TextModel
    table: np.ndarray

    def __post_init__(self):
        expected = (self.base.vocab_size, self.base.embed_dim)
        if tuple(np.shape(self.table)) != expected:
            raise ValueError(
                f"pretrained embedding table has shape {np.shape(self.table)}, "
                f"expected (vocab_size, embed_dim) = {expected}"
            )

    @property
    def vocab_size(self) -> int:
        return self.base.vocab_size

    @property
    def maxlen(self) -> int | None:
        return self.base.maxlen

    def init(self, key: jax.Array) -> dict:
        params = self.base.init(key)
        params["embedding"] = {"embeddings": jnp.asarray(self.table, jnp.float32)}
        return params

    def apply(
        self, params: dict, tokens: jax.Array, *, train: bool = False, key: jax.Array | None = None
    ) -> jax.Array:
        return self.base.apply(params, tokens, train=train, key=key)

    def regularization(self, params: dict) -> jax.Array:
        return self.base.regularization(params)


TEXT_MODELS: dict[str, Callable[..., TextModel]] = {
    # document 002 (after Chollet, ch. 6)
    "embedding_flatten": functools.partial(EmbeddingFlattenClassifier),
    "embedding_flatten_dense": functools.partial(
        EmbeddingFlattenClassifier, embed_dim=100, maxlen=100, hidden_units=32
    ),
    "simple_rnn": functools.partial(RecurrentClassifier, cell_kind="simple_rnn"),
    "lstm": functools.partial(RecurrentClassifier, cell_kind="lstm"),
    "gru": functools.partial(RecurrentClassifier, cell_kind="gru"),
    # The lecture's reversed-sequence model embeds into 128 dimensions, not 32.
    "lstm_reversed": functools.partial(
        RecurrentClassifier, cell_kind="lstm", embed_dim=128, reverse=True
    ),
    "bidirectional_lstm": functools.partial(
        RecurrentClassifier, cell_kind="lstm", bidirectional=True
    ),
    # document 003: LSTM(64) as in its code (the Keras example it adapts has 128)
    "lstm_regularized": functools.partial(
        RecurrentClassifier,
        cell_kind="lstm",
        vocab_size=20_000,
        embed_dim=128,
        units=64,
        dropout=0.2,
        bias_l1=0.01,
        bias_l2=0.01,
    ),
    # document 003's ablation: the same LSTM without the bias penalty
    "lstm_unpenalized": functools.partial(
        RecurrentClassifier,
        cell_kind="lstm",
        vocab_size=20_000,
        embed_dim=128,
        units=64,
        dropout=0.2,
    ),
    # document 000
    "bilstm": functools.partial(BiLSTMClassifier, pooling="last"),
    "bilstm_attention": functools.partial(BiLSTMClassifier, pooling="attention"),
    "bilstm_masked_attention": functools.partial(BiLSTMClassifier, pooling="masked_attention"),
    # issue 32: self-attention beside document 000's models (its sizes and dropout)
    "bilstm_mha": functools.partial(BiLSTMMultiHeadClassifier),
    "transformer_encoder": functools.partial(TransformerClassifier),
}


def make_text_model(name: str, **overrides: Any) -> TextModel:
    """The registered model ``name`` with its document defaults, ``overrides`` replacing
    fields (e.g. ``vocab_size=``, ``maxlen=``). One ValueError for an unknown name, an
    unknown field or a bad value."""
    try:
        factory = TEXT_MODELS[name]
    except KeyError:
        raise ValueError(
            f"unknown text model {name!r}; expected one of {sorted(TEXT_MODELS)}"
        ) from None
    fields = [f.name for f in dataclasses.fields(factory.func)]
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise ValueError(
            f"text model {name!r} has no option {', '.join(map(repr, unknown))}; "
            f"its options are {fields}"
        )
    try:
        return factory(**overrides)
    except (TypeError, ValueError) as e:
        raise ValueError(f"text model {name!r}: {e}") from None
