"""An LSTM scan with a hand-written backward pass.

Autodiff of ``lax.scan`` differentiates every small op of the cell and accumulates the
recurrent kernel's gradient inside the backward loop, one outer product per step. Here
the backward loop carries only ``(dh, dc)``: per step it is one fused elementwise block
and one matmul (``dz @ U^T``), and the kernel's gradient is a single matmul over all
steps after the loop. Same math as ``cells.LSTMCell`` with sigmoid/tanh activations and
Keras masking (a masked step keeps the carry and emits zeros); the tests check it against
autodiff of the generic scan.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp


def _forward(recurrent_kernel, x_proj, h0, c0, mask, reverse, unroll):
    """Time-major forward. ``x_proj [T, B, 4u]``, ``mask [T, B]`` (bool) or None.

    Besides the outputs, returns per step what the backward pass needs so that it does
    no transcendental math: ``slopes [T, B, 4, u]`` (each gate's d(gate input) factor:
    partner value times activation slope), ``o_dtanh`` (``o * (1 - tanh(c)^2)``) and ``f``.
    """
    def step(carry, inputs):
        h, c = carry
        xp, m = inputs
        zi, zf, zc, zo = jnp.split(xp + h @ recurrent_kernel, 4, axis=-1)
        i, f, g, o = jax.nn.sigmoid(zi), jax.nn.sigmoid(zf), jnp.tanh(zc), jax.nn.sigmoid(zo)
        c_new = f * c + i * g
        tanh_c = jnp.tanh(c_new)
        h_new = o * tanh_c
        slopes = jnp.stack([g * i * (1.0 - i), c * f * (1.0 - f), i * (1.0 - g * g),
                            tanh_c * o * (1.0 - o)], axis=-2)
        saved = (slopes, o * (1.0 - tanh_c * tanh_c), f)
        out = h_new
        if m is not None:
            keep = m[..., None]
            out = jnp.where(keep, h_new, 0.0)
            h_new = jnp.where(keep, h_new, h)
            c_new = jnp.where(keep, c_new, c)
        return (h_new, c_new), (out, h, saved)

    (h_t, c_t), (ys, h_prev, saved) = jax.lax.scan(
        step, (h0, c0), (x_proj, mask), reverse=reverse, unroll=unroll
    )
    return ys, h_t, c_t, h_prev, saved


@functools.partial(jax.custom_vjp, nondiff_argnums=(5, 6))
def lstm_scan(recurrent_kernel, x_proj, h0, c0, mask, reverse=False, unroll=1):
    """Runs the LSTM recurrence over time-major pre-projected inputs.

    Args:
      recurrent_kernel: ``<float>[units, 4*units]`` (gates ``i, f, c, o``).
      x_proj: ``<float>[time, batch, 4*units]`` (``x @ kernel + bias``).
      h0, c0: ``<float>[batch, units]``.
      mask: ``<bool>[time, batch]`` or None.
      reverse: scan from the last step to the first (outputs stay at their time index).

    Returns:
      ``(outputs [time, batch, units], (h_T, c_T))``.
    """
    ys, h_t, c_t, _, _ = _forward(recurrent_kernel, x_proj, h0, c0, mask, reverse, unroll)
    return ys, (h_t, c_t)


def _fwd(recurrent_kernel, x_proj, h0, c0, mask, reverse, unroll):
    ys, h_t, c_t, h_prev, saved = _forward(recurrent_kernel, x_proj, h0, c0, mask, reverse,
                                           unroll)
    return (ys, (h_t, c_t)), (recurrent_kernel, mask, h_prev, saved)


def _bwd(reverse, unroll, residuals, cotangents):
    recurrent_kernel, mask, h_prev, saved = residuals
    d_ys, (d_h_t, d_c_t) = cotangents
    kernel_t = recurrent_kernel.T
    is_cell_path = jnp.arange(4)[:, None] < 3  # i, f, c get d_c; o gets d_h

    def step(carry, inputs):
        dh, dc = carry  # gradients reaching the carry after this step
        dy, (slopes, o_dtanh, f), m = inputs
        d_hn, d_cn = dh + dy, dc
        if m is not None:
            keep = m[..., None]
            d_hn = jnp.where(keep, d_hn, 0.0)
            d_cn = jnp.where(keep, d_cn, 0.0)
        d_cn = d_cn + d_hn * o_dtanh
        upstream = jnp.where(is_cell_path, d_cn[..., None, :], d_hn[..., None, :])
        dz = (upstream * slopes).reshape(*slopes.shape[:-2], -1)
        dh_before = dz @ kernel_t
        dc_before = d_cn * f
        if m is not None:  # a masked step passed the carry through unchanged
            dh_before = dh_before + jnp.where(keep, 0.0, dh)
            dc_before = dc_before + jnp.where(keep, 0.0, dc)
        return (dh_before, dc_before), dz

    (d_h0, d_c0), dz = jax.lax.scan(
        step, (d_h_t, d_c_t), (d_ys, saved, mask), reverse=not reverse, unroll=unroll
    )
    d_kernel = jnp.einsum("tbi,tbj->ij", h_prev, dz)
    return d_kernel, dz, d_h0, d_c0, None


lstm_scan.defvjp(_fwd, _bwd)
