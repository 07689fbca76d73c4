"""Small feed-forward layers used around the recurrent ones (Keras-initialized)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rnn_attn.checks import argument
from rnn_attn.errors import ConfigError
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


def _place(index: tuple[int, ...]) -> str:
    """Where an entry of an id array is: ``row r, position p`` for ``[batch, time]``."""
    if len(index) == 2:
        return f"row {index[0]}, position {index[1]}"
    if len(index) == 1:
        return f"position {index[0]}"
    return f"index {tuple(int(i) for i in index)}"


def check_token_ids(ids, vocab_size: int, what: str = "token ids") -> None:
    """One ConfigError (a ValueError) naming the first id of ``ids`` outside
    ``[0, vocab_size)``, where it is and the vocabulary size; nothing when every id fits.

    Only concrete values are checked (numpy arrays, lists, arrays outside ``jit``). Traced
    ids (inside ``jit``, ``vmap`` or ``grad``) have no values yet and are let through:
    there an embedding gather reads an id past the table as its last row and a negative
    one from the end (``-1``: the last row), and ``jax.nn.one_hot`` gives it a zero
    vector, without a word. The training engine therefore checks every split's ids on the
    host before the compiled programs see them (``engine.prepare``, ``FitResult.evaluate``).
    """
    if isinstance(ids, jax.core.Tracer):
        return
    values = np.asarray(ids)
    if not np.issubdtype(values.dtype, np.integer):
        return
    bad = (values < 0) | (values >= vocab_size)
    if not bad.any():
        return
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    count = int(bad.sum())
    raise ConfigError(
        f"{what}: the id {int(values[first])} at {_place(first)} is outside the vocabulary "
        f"of {vocab_size} ids (0 .. {vocab_size - 1})"
        + (f" ({count} of its {values.size} ids are)" if count > 1 else "")
        + f"; expected every id in [0, {vocab_size}) (a tokenizer or num_words larger than "
        f"the model's vocab_size?)"
    )


def zero_masked(values: jax.Array, mask: jax.Array | None) -> jax.Array:
    """``values <float>[batch, time, d]`` with the steps ``mask <bool>[batch, time]``
    leaves out set to 0 (unchanged without a mask), before any arithmetic reads them: the
    gradient reaching a zeroed step is 0, and nothing it held (NaN included) reaches an
    output or a gradient, as it would through a ``where`` that only discards its result
    (``0 * NaN = NaN`` on the way back)."""
    if mask is None:
        return values
    mask = jnp.asarray(mask, bool)
    try:
        fits = jnp.broadcast_shapes(mask.shape, jnp.shape(values)[:-1]) == jnp.shape(values)[:-1]
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not fit values of shape "
            f"{tuple(jnp.shape(values))}; expected <bool>[batch, time] = "
            f"{tuple(jnp.shape(values)[:-1])}"
        )
    return jnp.where(mask[..., None], values, jnp.zeros((), values.dtype))
