"""Keras-compatible weight initializers as pure functions of a PRNG key.

Each refuses, before anything is allocated, an array that would take more than half
the default device's free memory (``rnn_attn.memory.check_array``: one ValueError naming
the shape; nothing is checked under ``jit``, where nothing is allocated yet).

Keras's defaults matter for reproducing the reference documents (the copy-task baseline
reaches ~3% with PyTorch's default init and 19-32% with Keras's), so these follow
``tf.keras.initializers`` exactly in their distributions and fan computations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from rnn_attn import memory

Initializer = Callable[[jax.Array, Sequence[int], jnp.dtype], jax.Array]


def _fans(shape: Sequence[int]) -> tuple[float, float]:
    """Keras's fan-in / fan-out: rows and columns for matrices, receptive field for kernels."""
    if len(shape) < 1:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    if len(shape) == 2:
        return float(shape[0]), float(shape[1])
    receptive = 1
    for dim in shape[:-2]:
        receptive *= dim
    return float(shape[-2] * receptive), float(shape[-1] * receptive)


def glorot_uniform(key: jax.Array, shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
    """U(-l, l) with l = sqrt(6 / (fan_in + fan_out)) (Keras's default kernel init)."""
    memory.check_array("glorot_uniform weights", shape, dtype, key)
    fan_in, fan_out = _fans(shape)
    limit = (6.0 / (fan_in + fan_out)) ** 0.5
    return jax.random.uniform(key, tuple(shape), dtype, -limit, limit)


def _sign_fixed_qr(a: np.ndarray) -> np.ndarray:
    """Q of ``a = QR`` with the signs of ``diag(R)`` folded in, which makes Q uniform over
    orthogonal matrices (Mezzadri 2007)."""
    q, r = np.linalg.qr(np.asarray(a, np.float64))
    return (q * np.sign(np.diagonal(r))[None, :]).astype(np.float32)


def orthogonal(key: jax.Array, shape: Sequence[int], dtype=jnp.float32, gain: float = 1.0):
    """A (semi-)orthogonal matrix from the QR decomposition of a normal matrix (Keras's
    default recurrent init). Non-square shapes get orthonormal rows or columns, whichever
    is fewer.

    Called eagerly, the QR runs in numpy on the host; traced (inside ``jit``), it is XLA's.
    On 2-core CPUs, XLA's QR vmapped inside jit has deadlocked (and so have host callbacks,
    which hold the CPU thread pool), so initialize batches of seeds eagerly, one seed at a
    time (``rnn_attn.train.steps.init_states`` does).
    """
    if len(shape) < 2:
        raise ValueError(f"orthogonal init needs a shape of rank >= 2, got {tuple(shape)}")
    memory.check_array("orthogonal weights", shape, jnp.float32, key)
    num_rows = 1
    for dim in shape[:-1]:
        num_rows *= dim
    num_cols = shape[-1]
    flat = (max(num_rows, num_cols), min(num_rows, num_cols))
    a = jax.random.normal(key, flat, jnp.float32)
    if isinstance(a, jax.core.Tracer):
        q, r = jnp.linalg.qr(a)
        q = q * jnp.sign(jnp.diagonal(r))
    else:
        q = jnp.asarray(_sign_fixed_qr(np.asarray(a)))
    if num_rows < num_cols:
        q = q.T
    return (gain * q.reshape(tuple(shape))).astype(dtype)


def random_normal(key: jax.Array, shape: Sequence[int], dtype=jnp.float32, stddev: float = 0.05):
    """N(0, stddev^2) (Keras's RandomNormal default stddev is 0.05)."""
    memory.check_array("random_normal weights", shape, dtype, key)
    return stddev * jax.random.normal(key, tuple(shape), dtype)


def zeros(key: jax.Array, shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
    memory.check_array("zero-initialized weights", shape, dtype, key)
    return jnp.zeros(tuple(shape), dtype)


INITIALIZERS: dict[str, Initializer] = {
    "glorot_uniform": glorot_uniform,
    "orthogonal": orthogonal,
    "random_normal": random_normal,
    "zeros": zeros,
}


def get(name: str) -> Initializer:
    """Looks an initializer up by its Keras name."""
    if not isinstance(name, str) or name not in INITIALIZERS:
        raise ValueError(f"unknown initializer {name!r}; expected one of {sorted(INITIALIZERS)}")
    return INITIALIZERS[name]
