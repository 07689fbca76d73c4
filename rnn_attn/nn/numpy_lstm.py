"""An LSTM in plain numpy, forward and backward (reference document 003).

Written from the equations with no JAX, so it doubles as a readable account of
backpropagation through time. Parameters have the same names, shapes and Keras gate
order as ``rnn_attn.nn.cells.LSTMCell`` (``i, f, c, o``), so one set of weights feeds both:

* ``kernel <float>[input_dim, 4*units]`` (``W``), ``recurrent_kernel <float>[units,
  4*units]`` (``U``), ``bias <float>[4*units]`` (``b``).

Forward, one step (``x_t [batch, input_dim]``, ``h, c [batch, units]``)::

    z = x_t W + h_{t-1} U + b                     # [batch, 4*units], split into zi zf zc zo
    i, f, g, o = sig(zi), sig(zf), tanh(zc), sig(zo)
    c_new = f * c_{t-1} + i * g
    h_new = o * tanh(c_new)

With a mask (Keras semantics) a step where ``m[b, t]`` is False keeps the carry
(``h_t = h_{t-1}``, ``c_t = c_{t-1}``) and outputs zeros; otherwise ``h_t = y_t = h_new``.

Backward: the loop over time runs from ``T-1`` down to 0 carrying ``(dh, dc)``, the
gradients of the loss with respect to the carry ``(h_t, c_t)``; the weight gradients are
sums over steps, done as one contraction after the loop.

Also here: gradient clipping, SGD and Adam, and a tiny trainer (an LSTM with a dense
softmax readout on the "remember the first symbol" task).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from rnn_attn import memory

Params = dict[str, np.ndarray]
Grads = dict[str, np.ndarray]
Cache = dict[str, Any]

PARAM_KEYS = ("kernel", "recurrent_kernel", "bias")


# -- initialization ---------------------------------------------------------------------
def glorot_uniform(rng: np.random.Generator, shape: tuple[int, int], dtype=np.float64):
    """``U(-l, l)``, ``l = sqrt(6 / (fan_in + fan_out))`` (Keras's default kernel init)."""
    limit = np.sqrt(6.0 / (shape[0] + shape[1]))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def orthogonal(rng: np.random.Generator, shape: tuple[int, int], dtype=np.float64):
    """A (semi-)orthogonal ``<float>[rows, cols]`` matrix, Keras's recurrent init.

    QR of a tall normal matrix, with the signs of ``diag(R)`` folded into ``Q`` (without
    the fix ``Q`` is not uniformly distributed over orthogonal matrices; Mezzadri 2007).
    A wide shape (``units x 4*units``) gets orthonormal rows.
    """
    rows, cols = shape
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diagonal(r))[None, :]
    if rows < cols:
        q = q.T
    return q.astype(dtype)


def init_params(
    rng: np.random.Generator, input_dim: int, units: int, *, dtype=np.float64
) -> Params:
    """Keras-initialized LSTM parameters, same keys and shapes as ``LSTMCell(units).init``.

    Returns ``{"kernel": [input_dim, 4u], "recurrent_kernel": [u, 4u], "bias": [4u]}``:
    glorot-uniform kernel, orthogonal recurrent kernel, zero bias except the forget
    gate's, which is 1 (Keras's ``unit_forget_bias``: the cell starts out remembering).
    Parameters past half the free memory are refused first (``rnn_attn.memory``).
    """
    if units < 1 or input_dim < 1:
        raise ValueError(f"input_dim and units must be positive, got {input_dim}, {units}")
    memory.check_fits(
        f"LSTM parameters for input_dim {input_dim} and units {units}",
        (input_dim + units + 1) * 4 * units * np.dtype(dtype).itemsize,
        "a smaller input_dim or fewer units",
        dtype=np.dtype(dtype),
    )
    bias = np.zeros(4 * units, dtype)
    bias[units : 2 * units] = 1.0
    return {
        "kernel": glorot_uniform(rng, (input_dim, 4 * units), dtype),
        "recurrent_kernel": orthogonal(rng, (units, 4 * units), dtype),
        "bias": bias,
    }


# -- forward ----------------------------------------------------------------------------
def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, written to not overflow ``exp`` for large ``|x|``."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _split_gates(z: np.ndarray) -> tuple[np.ndarray, ...]:
    """``[..., 4u]`` -> the four ``[..., u]`` blocks in Keras order ``i, f, c, o``."""
    return tuple(np.split(z, 4, axis=-1))


def forward(
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    h0: np.ndarray | None = None,
    c0: np.ndarray | None = None,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], Cache]:
    """Runs the Keras LSTM over a batch of sequences.

    Args:
      params: ``kernel <float>[input_dim, 4u]``, ``recurrent_kernel <float>[u, 4u]``,
        ``bias <float>[4u]``.
      x: ``<float>[batch, time, input_dim]``.
      h0, c0: initial carry ``<float>[batch, u]``; zeros by default.
      mask: ``<bool>[batch, time]``; False steps keep the carry and output zeros.

    Returns:
      ``(outputs <float>[batch, time, u], (h_T, c_T), cache)``; ``cache`` holds what
      ``backward`` needs (time-major activations).
    """
    w, u_rec, b = params["kernel"], params["recurrent_kernel"], params["bias"]
    dtype = w.dtype
    x = np.asarray(x, dtype)
    if x.ndim != 3:
        raise ValueError(f"x must be [batch, time, input_dim], got shape {x.shape}")
    batch, steps, _ = x.shape
    units = u_rec.shape[0]
    h, c = (
        np.zeros((batch, units), dtype) if v is None else np.asarray(v, dtype) for v in (h0, c0)
    )
    keep = np.ones((batch, steps), bool) if mask is None else np.asarray(mask, bool)
    keep = keep.reshape(batch, steps)

    # The input half of every gate for all steps at once: one matmul outside the loop.
    x_proj = x @ w + b  # [batch, time, 4u]
    h_prev = np.empty((steps, batch, units), dtype)
    c_prev = np.empty((steps, batch, units), dtype)
    gates = np.empty((steps, batch, 4 * units), dtype)  # i, f, g, o after activation
    tanh_c = np.empty((steps, batch, units), dtype)
    outputs = np.zeros((batch, steps, units), dtype)
    for t in range(steps):
        h_prev[t], c_prev[t] = h, c
        zi, zf, zc, zo = _split_gates(x_proj[:, t] + h @ u_rec)
        i, f, g, o = sigmoid(zi), sigmoid(zf), np.tanh(zc), sigmoid(zo)
        c_new = f * c + i * g
        tanh_c[t] = np.tanh(c_new)
        h_new = o * tanh_c[t]
        gates[t] = np.concatenate([i, f, g, o], axis=-1)
        m = keep[:, t, None]
        h = np.where(m, h_new, h)
        c = np.where(m, c_new, c)
        outputs[:, t] = np.where(m, h_new, 0.0)
    cache = dict(x=x, keep=keep, h_prev=h_prev, c_prev=c_prev, gates=gates, tanh_c=tanh_c)
    return outputs, (h, c), cache


# -- backward ---------------------------------------------------------------------------
def backward(
    params: Mapping[str, np.ndarray],
    cache: Cache,
    d_outputs: np.ndarray,
    d_h_T: np.ndarray | None = None,
    d_c_T: np.ndarray | None = None,
) -> Grads:
    """Backpropagation through time for ``forward``.

    Args:
      params: the parameters given to ``forward``.
      cache: ``forward``'s cache.
      d_outputs: ``<float>[batch, time, u]``, dLoss/d outputs.
      d_h_T, d_c_T: ``<float>[batch, u]``, dLoss/d final carry; zeros by default.

    Returns:
      ``{"kernel": [input_dim, 4u], "recurrent_kernel": [u, 4u], "bias": [4u],
      "x": [batch, time, input_dim], "h0": [batch, u], "c0": [batch, u]}``: the loss's
      gradients with respect to the parameters, the inputs and the initial carry.
    """
    w, u_rec = params["kernel"], params["recurrent_kernel"]
    x, keep = cache["x"], cache["keep"]
    h_prev, c_prev, gates, tanh_c = (cache[k] for k in ("h_prev", "c_prev", "gates", "tanh_c"))
    steps, batch, units = h_prev.shape
    d_outputs = np.asarray(d_outputs, w.dtype)
    # dh, dc: the gradient with respect to the carry (h_t, c_t) leaving step t, which
    # collects everything downstream of it: later steps and the final-state terms.
    dh = np.zeros((batch, units), w.dtype) if d_h_T is None else np.array(d_h_T, w.dtype)
    dc = np.zeros((batch, units), w.dtype) if d_c_T is None else np.array(d_c_T, w.dtype)
    dz_all = np.empty((steps, batch, 4 * units), w.dtype)
    for t in range(steps - 1, -1, -1):
        m = keep[:, t, None]
        i, f, g, o = _split_gates(gates[t])
        # h_new feeds both the output y_t and (if unmasked) the carry h_t; c_new feeds c_t.
        dh_new = np.where(m, d_outputs[:, t] + dh, 0.0)
        dc_new = np.where(m, dc, 0.0)
        # h_new = o * tanh(c_new): through o, and through c_new (tanh' = 1 - tanh^2).
        do = dh_new * tanh_c[t]
        dc_new = dc_new + dh_new * o * (1.0 - tanh_c[t] ** 2)
        # c_new = f * c_prev + i * g.
        di, df, dg = dc_new * g, dc_new * c_prev[t], dc_new * i
        # Back through the activations: sig' = s (1 - s), tanh' = 1 - tanh^2.
        dz = np.concatenate(
            [di * i * (1.0 - i), df * f * (1.0 - f), dg * (1.0 - g * g), do * o * (1.0 - o)],
            axis=-1,
        )
        dz_all[t] = dz
        # A masked step passed the carry through unchanged, so its gradient does too.
        dh = dz @ u_rec.T + np.where(m, 0.0, dh)
        dc = dc_new * f + np.where(m, 0.0, dc)
    # z_t = x_t W + h_{t-1} U + b for every t: the weight gradients sum over time and batch.
    d_kernel = np.einsum("bti,tbg->ig", x, dz_all)
    d_recurrent = np.einsum("tbu,tbg->ug", h_prev, dz_all)
    d_bias = dz_all.sum(axis=(0, 1))
    d_x = np.einsum("tbg,ig->bti", dz_all, w)
    return dict(kernel=d_kernel, recurrent_kernel=d_recurrent, bias=d_bias, x=d_x, h0=dh, c0=dc)


# -- clipping ---------------------------------------------------------------------------
def global_norm(grads: Mapping[str, np.ndarray]) -> float:
    """``sqrt(sum of squares)`` over every array in ``grads``."""
    return float(np.sqrt(sum(float(np.sum(np.square(g))) for g in grads.values())))


def clip_by_global_norm(grads: Mapping[str, np.ndarray], max_norm: float) -> tuple[Grads, float]:
    """Rescales all of ``grads`` together so that their global norm is at most ``max_norm``.

    Returns ``(clipped, norm)`` with ``norm`` the global norm before clipping. Scaling all
    arrays by one factor keeps the update's direction (unlike per-value clipping).
    """
    if max_norm <= 0:
        raise ValueError(f"max_norm must be positive, got {max_norm}")
    norm = global_norm(grads)
    scale = max_norm / norm if norm > max_norm else 1.0
    return {k: g * scale for k, g in grads.items()}, norm


def clip_by_value(grads: Mapping[str, np.ndarray], limit: float) -> Grads:
    """Clips every entry of ``grads`` to ``[-limit, limit]`` (Keras's ``clipvalue``)."""
    if limit <= 0:
        raise ValueError(f"limit must be positive, got {limit}")
    return {k: np.clip(g, -limit, limit) for k, g in grads.items()}


# -- optimizers -------------------------------------------------------------------------
def sgd_update(params: Params, grads: Mapping[str, np.ndarray], learning_rate: float) -> Params:
    """``p - lr * g`` for every parameter."""
    return {k: p - learning_rate * grads[k] for k, p in params.items()}


def adam_init(params: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Adam's state: step count and zero first/second moments."""
    return {
        "step": 0,
        "m": {k: np.zeros_like(p) for k, p in params.items()},
        "v": {k: np.zeros_like(p) for k, p in params.items()},
    }


def adam_update(
    params: Params,
    grads: Mapping[str, np.ndarray],
    state: dict[str, Any],
    *,
    learning_rate: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-7,
) -> tuple[Params, dict[str, Any]]:
    """One Adam step (Keras's defaults; bias-corrected moments). Pure: returns new copies."""
    step = state["step"] + 1
    m = {k: beta1 * state["m"][k] + (1 - beta1) * grads[k] for k in params}
    v = {k: beta2 * state["v"][k] + (1 - beta2) * grads[k] ** 2 for k in params}
    lr_t = learning_rate * np.sqrt(1 - beta2**step) / (1 - beta1**step)
    new = {k: p - lr_t * m[k] / (np.sqrt(v[k]) + eps) for k, p in params.items()}
    return new, {"step": step, "m": m, "v": v}


# -- a tiny model and task --------------------------------------------------------------
def first_symbol_batch(
    rng: np.random.Generator, batch: int, steps: int, num_symbols: int
) -> tuple[np.ndarray, np.ndarray]:
    """The "remember the first symbol" task.

    Returns ``(x <float64>[batch, steps, num_symbols], labels <int>[batch])``: each row is
    a sequence of random one-hot symbols and its label is the first one, which the LSTM
    has to carry through ``steps - 1`` distractors to its final state.
    """
    symbols = rng.integers(0, num_symbols, size=(batch, steps))
    return np.eye(num_symbols)[symbols], symbols[:, 0]


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of ``logits <float>[batch, classes]`` against integer labels.

    Returns ``(loss, d_logits)``; ``d_logits = (softmax - onehot) / batch``.
    """
    shifted = logits - logits.max(axis=-1, keepdims=True)  # for a stable exp
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    rows = np.arange(len(labels))
    loss = -float(log_probs[rows, labels].mean())
    d_logits = np.exp(log_probs)
    d_logits[rows, labels] -= 1.0
    return loss, d_logits / len(labels)


def init_classifier(
    rng: np.random.Generator, input_dim: int, units: int, num_classes: int
) -> Params:
    """LSTM parameters plus a dense readout ``dense_kernel [u, classes]``, ``dense_bias``."""
    params = init_params(rng, input_dim, units)
    params["dense_kernel"] = glorot_uniform(rng, (units, num_classes))
    params["dense_bias"] = np.zeros(num_classes)
    return params


def classifier_logits(params: Params, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """``<float>[batch, classes]``: the dense readout of the LSTM's final ``h``."""
    _, (h_T, _), _ = forward(params, x, mask=mask)
    return h_T @ params["dense_kernel"] + params["dense_bias"]


def classifier_loss_and_grads(
    params: Params, x: np.ndarray, labels: np.ndarray, mask: np.ndarray | None = None
) -> tuple[float, Grads, np.ndarray]:
    """Loss, parameter gradients and logits of LSTM -> last state -> dense softmax.

    ``x <float>[batch, time, in]``, ``labels <int>[batch]``; returns ``(loss, grads,
    logits <float>[batch, classes])``.
    """
    outputs, (h_T, _), cache = forward(params, x, mask=mask)
    logits = h_T @ params["dense_kernel"] + params["dense_bias"]
    loss, d_logits = softmax_cross_entropy(logits, labels)
    # The readout reads only the final h, so the outputs' gradient is zero.
    lstm_grads = backward(
        params, cache, np.zeros_like(outputs), d_h_T=d_logits @ params["dense_kernel"].T
    )
    grads = {k: lstm_grads[k] for k in PARAM_KEYS}
    grads["dense_kernel"] = h_T.T @ d_logits
    grads["dense_bias"] = d_logits.sum(axis=0)
    return loss, grads, logits


def train_numpy_lstm(
    *,
    seed: int = 0,
    steps: int = 300,
    batch: int = 32,
    seq_len: int = 8,
    num_symbols: int = 4,
    units: int = 16,
    optimizer: str = "adam",
    learning_rate: float = 1e-2,
    clip_norm: float | None = 1.0,
    clip_value: float | None = None,
    test_size: int = 512,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Trains an LSTM + dense softmax readout on "remember the first symbol".

    Each step draws a fresh batch; ``optimizer`` is ``"adam"`` or ``"sgd"``; gradients are
    clipped by global norm (``clip_norm``) and/or per value (``clip_value``) first.

    Returns ``{"losses": <float64>[steps] (training loss per step), "grad_norms":
    <float64>[steps] (before clipping), "test_accuracy": float (on ``test_size`` fresh
    sequences), "params": ..., "seconds": float}``.
    """
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    rng = np.random.default_rng(seed)
    params = init_classifier(rng, num_symbols, units, num_symbols)
    opt_state = adam_init(params)
    losses, norms = np.empty(steps), np.empty(steps)
    start = time.perf_counter()
    for step in range(steps):
        x, labels = first_symbol_batch(rng, batch, seq_len, num_symbols)
        losses[step], grads, _ = classifier_loss_and_grads(params, x, labels)
        norms[step] = global_norm(grads)
        if clip_norm is not None:
            grads, _ = clip_by_global_norm(grads, clip_norm)
        if clip_value is not None:
            grads = clip_by_value(grads, clip_value)
        if optimizer == "adam":
            params, opt_state = adam_update(params, grads, opt_state, learning_rate=learning_rate)
        else:
            params = sgd_update(params, grads, learning_rate)
        if log is not None and (step % 50 == 0 or step == steps - 1):
            log(f"step {step}: loss {losses[step]:.4f}, grad norm {norms[step]:.3f}")
    x, labels = first_symbol_batch(rng, test_size, seq_len, num_symbols)
    logits = classifier_logits(params, x)
    accuracy = float((logits.argmax(axis=-1) == labels).mean())
    return {
        "losses": losses,
        "grad_norms": norms,
        "test_accuracy": accuracy,
        "params": params,
        "seconds": time.perf_counter() - start,
    }
