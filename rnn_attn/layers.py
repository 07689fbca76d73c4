"""Small feed-forward layers used around the recurrent ones (Keras-initialized)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rnn_attn import initializers


def init_dense(key: jax.Array, input_dim: int, units: int) -> dict[str, jax.Array]:
    """Keras Dense: glorot-uniform kernel ``[input_dim, units]``, zero bias."""
    return {
        "kernel": initializers.glorot_uniform(key, (input_dim, units)),
        "bias": jnp.zeros((units,), jnp.float32),
    }


def dense(params: dict[str, jax.Array], x: jax.Array) -> jax.Array:
    return x @ params["kernel"] + params["bias"]
