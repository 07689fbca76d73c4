"""Small feed-forward layers used around the recurrent ones (Keras-initialized)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rnn_attn.checks import argument
from rnn_attn.nn import initializers


def init_dense(key: jax.Array, input_dim: int, units: int) -> dict[str, jax.Array]:
    """Keras Dense: glorot-uniform kernel ``[input_dim, units]``, zero bias."""
    input_dim = argument("init_dense: input_dim", input_dim, int, minimum=1)
    units = argument("init_dense: units", units, int, minimum=1)
    return {
        "kernel": initializers.glorot_uniform(key, (input_dim, units)),
        "bias": jnp.zeros((units,), jnp.float32),
    }


def dense(params: dict[str, jax.Array], x: jax.Array) -> jax.Array:
    """``x @ kernel + bias`` for ``x <float>[..., input_dim]``."""
    expected = jnp.shape(params["kernel"])[0]
    if jnp.shape(x)[-1:] != (expected,):
        raise ValueError(
            f"dense got inputs of shape {tuple(jnp.shape(x))}; expected "
            f"<float>[..., {expected}] (the input_dim of its kernel)"
        )
    return x @ params["kernel"] + params["bias"]
