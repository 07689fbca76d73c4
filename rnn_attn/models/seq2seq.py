"""Encoder-decoder models of reference document 001 (copy task).

``EncoderDecoder``: RNN encoder -> last state repeated ``T`` times -> RNN decoder ->
time-distributed Dense softmax (the tutorial's baseline).
``AttentionEncoderDecoder``: RNN encoder returning sequences -> Bahdanau attention
decoder (the tutorial's attention model).

Both follow the models' one convention, ``init(key)`` and ``apply(params, inputs, *,
train=False, key=None, return_weights=False)``: one-hot inputs ``<float>[batch, time,
vocab]`` to logits ``<float>[batch, time, vocab]`` (``softmax(logits)`` is the output);
``return_weights=True`` gives ``(logits, attention weights <float>[batch, out_steps,
in_steps])``, the weights ``None`` for the baseline, which has no attention. Neither model
has dropout, so ``train`` and ``key`` change nothing.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from rnn_attn import memory
from rnn_attn.checks import argument
from rnn_attn.nn import layers
from rnn_attn.nn.attention import AttentionDecoder
from rnn_attn.nn.cells import Cell, make_cell
from rnn_attn.nn.recurrent import check_switches, check_unroll, rnn, scan_projected

MODEL_KINDS = ("baseline", "attention")


@dataclasses.dataclass(frozen=True)
class EncoderDecoder:
    vocab_size: int
    units: int = 150
    cell: str = "lstm"
    unroll: int | bool = True

    @property
    def encoder(self) -> Cell:
        return make_cell(self.cell, self.units)

    @property
    def decoder(self) -> Cell:
        return make_cell(self.cell, self.units)

    def __post_init__(self):
        argument("vocab_size", self.vocab_size, int, minimum=1)
        make_cell(self.cell, self.units)  # validates kind and units
        check_unroll(self.unroll)

    @memory.checked_init
    def init(self, key: jax.Array) -> dict:
        k_enc, k_dec, k_out = jax.random.split(key, 3)
        return {
            "encoder": self.encoder.init(k_enc, self.vocab_size),
            "decoder": self.decoder.init(k_dec, self.units),
            "output": layers.init_dense(k_out, self.units, self.vocab_size),
        }

    def apply(
        self,
        params: dict,
        inputs: jax.Array,
        *,
        train: bool = False,
        key: jax.Array | None = None,
        return_weights: bool = False,
    ):
        """Logits ``<float>[batch, time, vocab]`` (with ``return_weights``: ``(logits,
        None)``)."""
        check_switches(train=train, return_weights=return_weights)
        steps = inputs.shape[-2]
        summary, _ = rnn(
            self.encoder, params["encoder"], inputs, return_sequences=False, unroll=self.unroll
        )
        # RepeatVector: every decoder step sees the same input, so project it once.
        x_proj = self.decoder.project(params["decoder"], summary)
        x_proj = jnp.broadcast_to(
            x_proj[..., None, :], (*x_proj.shape[:-1], steps, x_proj.shape[-1])
        )
        decoded, _ = scan_projected(self.decoder, params["decoder"], x_proj, unroll=self.unroll)
        logits = layers.dense(params["output"], decoded)
        return (logits, None) if return_weights else logits


@dataclasses.dataclass(frozen=True)
class AttentionEncoderDecoder:
    vocab_size: int
    units: int = 150
    cell: str = "lstm"
    attention: str = "bahdanau"
    unroll: int | bool = True
    # The decoder's loop stays rolled: measured as fast to run and faster to compile.
    decoder_unroll: int | bool = 1

    @property
    def encoder(self) -> Cell:
        return make_cell(self.cell, self.units)

    @property
    def decoder(self) -> AttentionDecoder:
        return AttentionDecoder(self.units, self.vocab_size, attention=self.attention)

    def __post_init__(self):
        argument("vocab_size", self.vocab_size, int, minimum=1)
        make_cell(self.cell, self.units)
        AttentionDecoder(self.units, self.vocab_size, attention=self.attention)
        check_unroll(self.unroll)
        check_unroll(self.decoder_unroll, "decoder_unroll")

    @memory.checked_init
    def init(self, key: jax.Array) -> dict:
        k_enc, k_dec = jax.random.split(key)
        return {
            "encoder": self.encoder.init(k_enc, self.vocab_size),
            "decoder": self.decoder.init(k_dec, self.units),
        }

    def apply(
        self,
        params: dict,
        inputs: jax.Array,
        *,
        train: bool = False,
        key: jax.Array | None = None,
        return_weights: bool = False,
    ):
        """Logits ``<float>[batch, time, vocab]``; with ``return_weights``, ``(logits,
        attention weights <float>[batch, out_steps, in_steps])``."""
        check_switches(train=train)
        encoded, _ = rnn(self.encoder, params["encoder"], inputs, unroll=self.unroll)
        return self.decoder.apply(
            params["decoder"], encoded, unroll=self.decoder_unroll, return_weights=return_weights
        )


def make_model(
    kind: str,
    vocab_size: int,
    *,
    units: int = 150,
    cell: str = "lstm",
    attention: str = "bahdanau",
    unroll: int | bool = True,
):
    """``baseline`` or ``attention`` encoder-decoder."""
    if not isinstance(kind, str):
        raise ValueError(f"unknown model {kind!r}; expected one of {MODEL_KINDS}")
    if kind == "baseline":
        return EncoderDecoder(vocab_size, units, cell, unroll)
    if kind == "attention":
        return AttentionEncoderDecoder(vocab_size, units, cell, attention, unroll=unroll)
    raise ValueError(f"unknown model {kind!r}; expected one of {MODEL_KINDS}")


@dataclasses.dataclass(frozen=True)
class TokenInputs:
    """``model`` (one-hot inputs) taking integer tokens ``<int>[batch, time]`` instead; the
    one-hot inputs take the parameters' dtype (bf16 under ``ComputeDtype``)."""

    model: Any
    vocab_size: int

    def __post_init__(self):
        argument("vocab_size", self.vocab_size, int, minimum=1)

    def init(self, key: jax.Array) -> dict:
        return self.model.init(key)

    def apply(
        self,
        params,
        inputs: jax.Array,
        *,
        train: bool = False,
        key: jax.Array | None = None,
        return_weights: bool = False,
    ):
        """As ``model.apply``, from tokens. Concrete tokens outside ``[0, vocab_size)`` get
        one ValueError; traced ones (under ``jit``) cannot be checked and would one-hot to
        zeros (``layers.check_token_ids``)."""
        layers.check_token_ids(inputs, self.vocab_size, "tokens")
        one_hot = jax.nn.one_hot(inputs, self.vocab_size, dtype=jax.tree.leaves(params)[0].dtype)
        return self.model.apply(
            params, one_hot, train=train, key=key, return_weights=return_weights
        )
