"""A small Transformer encoder-decoder (Vaswani et al. 2017), the self-attention baseline
beside the recurrent encoder-decoders of ``models.teacher_forcing``, in the same
convention and with the same packed inputs (``inputs <int>[batch, S + T]``: the source,
then the ``T = target_length`` decoder inputs).

Token embeddings (shared by source and target, times ``sqrt(dim)``) plus sinusoidal
positions (``nn.transformer.sinusoidal_positions``: they extend past the training
lengths), ``layers`` pre-normalized encoder and decoder layers, a final layer norm on
each side and a Dense layer to the logits. The source's padding is never attended to;
the decoder's self-attention is causal. No dropout. ``return_weights`` gives the last
decoder layer's attention over the source, averaged over the heads ``<float>[batch, T,
S]``.

Decoding (``models.decoding``): ``encode`` runs the encoder once; the state is the
buffer of tokens decoded so far and ``step`` runs the decoder over it, reading the
position ``t`` (a causal decoder's output at ``t`` depends on the tokens up to ``t``
only, so this equals ``apply``'s position ``t``).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from rnn_attn.checks import argument
from rnn_attn.models.decoding import split_inputs
from rnn_attn.nn import layers, transformer
from rnn_attn.nn.recurrent import check_switches


@dataclasses.dataclass(frozen=True)
class TransformerSeq2Seq:
    vocab_size: int
    target_length: int
    dim: int = 64
    heads: int = 4
    layers: int = 2
    hidden: int = 128
    pad_id: int = 0

    def __post_init__(self):
        argument("vocab_size", self.vocab_size, int, minimum=2)
        argument("target_length", self.target_length, int, minimum=1)
        for name in ("dim", "heads", "layers", "hidden"):
            argument(name, getattr(self, name), int, minimum=1)
        argument("pad_id", self.pad_id, int, minimum=0, maximum=self.vocab_size - 1)
        if self.dim % self.heads or self.dim % 2:
            raise ValueError(f"dim {self.dim} must be even and divisible by heads {self.heads}")

    def init(self, key: jax.Array) -> dict:
        k_emb, k_enc, k_dec, k_out = jax.random.split(key, 4)
        scale = 1.0 / np.sqrt(self.dim)
        return {
            "embed": jax.random.normal(k_emb, (self.vocab_size, self.dim)) * scale,
            "encoder": [
                transformer.init_encoder_layer(k, self.dim, self.hidden)
                for k in jax.random.split(k_enc, self.layers)
            ],
            "encoder_norm": transformer.init_layer_norm(self.dim),
            "decoder": [
                transformer.init_decoder_layer(k, self.dim, self.hidden)
                for k in jax.random.split(k_dec, self.layers)
            ],
            "decoder_norm": transformer.init_layer_norm(self.dim),
            "output": layers.init_dense(k_out, self.dim, self.vocab_size),
        }

    def embed(self, params, tokens: jax.Array) -> jax.Array:
        positions = transformer.sinusoidal_positions(tokens.shape[-1], self.dim)
        return params["embed"][tokens] * np.sqrt(self.dim).astype(np.float32) + positions

    def encode(self, params, source: jax.Array):
        """``(memory <float>[batch, S, dim], mask <bool>[batch, S])``."""
        mask = source != self.pad_id
        x = self.embed(params, source)
        for layer in params["encoder"]:
            x = transformer.encoder_layer(layer, x, mask, self.heads)
        return transformer.layer_norm(params["encoder_norm"], x), mask

    def decode(self, params, memory, decoder_inputs: jax.Array):
        """Logits ``[batch, T, vocab]`` and the last layer's weights ``[batch, heads, T,
        S]``."""
        encoded, mask = memory
        y = self.embed(params, decoder_inputs)
        for layer in params["decoder"]:
            y, weights = transformer.decoder_layer(layer, y, encoded, mask, self.heads)
        y = transformer.layer_norm(params["decoder_norm"], y)
        return layers.dense(params["output"], y), weights

    def start(self, params, memory) -> jax.Array:
        return jnp.full((memory[0].shape[0], self.target_length), self.pad_id, jnp.int32)

    def step(self, params, memory, state: jax.Array, token: jax.Array, t):
        """``(logits [batch, vocab], state, weights [batch, S])`` of position ``t``."""
        state = state.at[:, t].set(token.astype(jnp.int32))
        logits, weights = self.decode(params, memory, state)
        pick = jax.lax.dynamic_index_in_dim
        return (
            pick(logits, t, axis=1, keepdims=False),
            state,
            pick(weights.mean(1), t, axis=1, keepdims=False),
        )

    def apply(
        self,
        params: dict,
        inputs: jax.Array,
        *,
        train: bool = False,
        key: jax.Array | None = None,
        return_weights: bool = False,
    ):
        """Teacher-forced logits ``[batch, T, vocab]`` (with ``return_weights``, and the
        weights ``[batch, T, S]``)."""
        check_switches(train=train, return_weights=return_weights)
        layers.check_token_ids(inputs, self.vocab_size, "tokens")
        source, decoder_inputs = split_inputs(inputs, self.target_length)
        logits, weights = self.decode(params, self.encode(params, source), decoder_inputs)
        return (logits, weights.mean(1)) if return_weights else logits
