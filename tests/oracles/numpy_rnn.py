"""Recurrent cells in plain numpy: a readable reference, and the tests' oracle.

Written from the equations, one time step at a time, with no JAX. Parameters use the
same names, shapes and Keras gate order as ``rnn_attn.nn.cells`` (LSTM ``i, f, c, o``;
GRU ``z, r, h``), so the same weights can be fed to both.
"""

from __future__ import annotations

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def simple_rnn_step(params: dict, h: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``h_t = tanh(x W + h U + b)``; ``x [batch, in]``, ``h [batch, units]``."""
    return np.tanh(x @ params["kernel"] + h @ params["recurrent_kernel"] + params["bias"])


def lstm_step(params: dict, h: np.ndarray, c: np.ndarray, x: np.ndarray):
    """One LSTM step; returns ``(h, c)``."""
    units = h.shape[-1]
    z = x @ params["kernel"] + h @ params["recurrent_kernel"] + params["bias"]
    i = sigmoid(z[:, :units])
    f = sigmoid(z[:, units : 2 * units])
    g = np.tanh(z[:, 2 * units : 3 * units])
    o = sigmoid(z[:, 3 * units :])
    c = f * c + i * g
    return o * np.tanh(c), c


def gru_step(params: dict, h: np.ndarray, x: np.ndarray, *, reset_after: bool = True):
    """One GRU step (Keras: ``h = z h_prev + (1 - z) candidate``)."""
    u = h.shape[-1]
    w, rec, bias = params["kernel"], params["recurrent_kernel"], params["bias"]
    b_in, b_rec = (bias[0], bias[1]) if reset_after else (bias, np.zeros_like(bias))
    x_z, x_r, x_h = (x @ w[:, k * u : (k + 1) * u] + b_in[k * u : (k + 1) * u] for k in range(3))
    h_z = h @ rec[:, :u] + b_rec[:u]
    h_r = h @ rec[:, u : 2 * u] + b_rec[u : 2 * u]
    z = sigmoid(x_z + h_z)
    r = sigmoid(x_r + h_r)
    if reset_after:
        candidate = np.tanh(x_h + r * (h @ rec[:, 2 * u :] + b_rec[2 * u :]))
    else:
        candidate = np.tanh(x_h + (r * h) @ rec[:, 2 * u :])
    return z * h + (1.0 - z) * candidate


def run(
    kind: str,
    params: dict,
    inputs: np.ndarray,
    *,
    lengths=None,
    reverse: bool = False,
    reset_after: bool = True,
):
    """Runs a cell over ``inputs [batch, time, in]`` with Keras masking semantics.

    Returns ``(outputs [batch, time, units], final_h, final_c_or_None)``; outputs are in
    processing order (reversed when ``reverse``), zero at masked steps.
    """
    inputs = np.asarray(inputs, np.float64)
    batch, steps, _ = inputs.shape
    units = params["recurrent_kernel"].shape[0]
    h = np.zeros((batch, units))
    c = np.zeros((batch, units))
    lengths = np.full(batch, steps) if lengths is None else np.asarray(lengths)
    order = range(steps - 1, -1, -1) if reverse else range(steps)
    outputs = np.zeros((batch, steps, units))
    for k, t in enumerate(order):
        x = inputs[:, t]
        if kind == "simple_rnn":
            new_h, new_c = simple_rnn_step(params, h, x), c
        elif kind == "lstm":
            new_h, new_c = lstm_step(params, h, c, x)
        elif kind == "gru":
            new_h, new_c = gru_step(params, h, x, reset_after=reset_after), c
        else:
            raise ValueError(f"unknown cell kind {kind!r}")
        valid = (t < lengths)[:, None]
        h = np.where(valid, new_h, h)
        c = np.where(valid, new_c, c)
        outputs[:, k] = np.where(valid, new_h, 0.0)
    return outputs, h, (c if kind == "lstm" else None)
