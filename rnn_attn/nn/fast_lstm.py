"""Fused LSTM kernels: LSTM scans with hand-written backward passes (``jax.custom_vjp``).

Which layer runs on which kernel is decided in ONE place,
``rnn_attn.nn.recurrent.fused_kernel_for``; the layers (``recurrent.scan_projected``,
``recurrent.bidirectional``) call the kernel it returns, or the generic ``lax.scan``.

* ``lstm_scan``: one direction on pre-projected inputs ``x_proj [T, B, 4u]``.
* ``bilstm_scan`` (``bidirectional_lstm``): both directions of a Bidirectional LSTM in ONE
  scan; step ``s`` advances the forward direction at time ``s`` and the backward one at
  time ``T-1-s`` (its inputs and masks are time-reversed), one batched matmul
  ``[2, B, u] x [2, u, 4u]`` a step.
* ``bilstm_scan_embedded`` (``embedded_bidirectional_lstm``): ``bilstm_scan`` on token ids;
  each step gathers its rows of the projected embedding tables ``P_d = E W_d + b_d``.

Shapes: ``T`` time, ``B`` batch, ``F`` input features, ``u`` units, ``V`` vocabulary;
``W [F, 4u]``, ``U [u, 4u]``, ``b [4u]``, ``E [V, F]``; ``*`` is elementwise.

Forward (per direction; Keras gate order i, f, c, o; ``sigma`` the logistic sigmoid)::

    z_t = x_t W + b + h_{t-1} U                      [B, 4u] = [z_i | z_f | z_g | z_o]
    i = sigma(z_i)  f = sigma(z_f)  g = tanh(z_g)  o = sigma(z_o)              [B, u]
    c~_t = f * c_{t-1} + i * g        h~_t = o * tanh(c~_t)                    [B, u]
    masking, m_t [B] in {0, 1} (Keras: a masked step keeps the carry, emits zeros):
    c_t = m_t ? c~_t : c_{t-1}     h_t = m_t ? h~_t : h_{t-1}     y_t = m_t ? h~_t : 0

``lstm_scan`` emits ``y_t``; the bidirectional kernels emit the carried ``h_t`` (``hs``)
and ``y_t = where(m_t, h_t, 0)`` is formed after the scan. The bidirectional kernels
compute the four gates with one ``tanh``: ``sigma(x) = 0.5 tanh(x / 2) + 0.5``.

A masked step's inputs are zeroed before any arithmetic (``lstm_scan`` zeroes its masked
``x_proj``, ``bidirectional_lstm`` the masked features before projecting them, and the
embedded kernel, under differentiation, the embedding rows that only masked steps
read), so whatever padding holds, NaN included, reaches no gradient: the
``m_t`` factors below would give it ``0 * NaN = NaN``.

Saved by the forward pass so that the backward pass does no transcendental math::

    a_i = g * i (1 - i)    a_f = c_{t-1} * f (1 - f)    a_g = i * (1 - g^2)
    a_o = tanh(c~_t) * o (1 - o)        a = [a_i | a_f | a_g | a_o]           [B, 4u]
    o_dtanh = o * (1 - tanh(c~_t)^2)    f                                     [B, u]

(``lstm_scan`` keeps ``a`` as ``[B, 4, u]``.)

Backward, from the last step to the first (in processing order). The carry
``(d_h, d_c)`` is the gradient reaching ``(h_t, c_t)`` from the later steps, starting at
the cotangents of ``(h_T, c_T)``; ``dy_t`` is the cotangent of step ``t``'s emitted
output::

    d_h~ = m_t * (d_h + dy_t)                          gradient reaching h~_t  [B, u]
    d_c~ = m_t * d_c + d_h~ * o_dtanh                  gradient reaching c~_t  [B, u]
    d_z  = [d_c~ * a_i | d_c~ * a_f | d_c~ * a_g | d_h~ * a_o]                [B, 4u]
    d_h <- d_z U^T + (1 - m_t) * (d_h + dy_t)     (lstm_scan: (1 - m_t) * d_h,
                                                   its y_t is 0 at a masked step)
    d_c <- d_c~ * f + (1 - m_t) * d_c
    d_x_proj_t = d_z   (the gradient of x_t W + b)

after step 1 the carry is ``(d_h_0, d_c_0)``. The recurrent kernel's gradient is
``d_U = sum_t h_{t-1}^T d_z_t`` ``[u, 4u]`` (``h_{t-1}`` the carried ``h`` entering step
``t``): ``lstm_scan`` forms it after the loop, one matmul over all steps; the
bidirectional kernels sum it inside the loop, one ``[u, B] x [B, 4u]`` matmul a step and
direction. For ``lstm_scan`` and ``bilstm_scan`` the gradients of ``W`` and ``b`` are
autodiff's of ``x W + b``, outside the kernel.

The embedded kernel never forms ``d_x_proj [T, B, 4u]``: each backward step scatter-adds
``d_z`` into the rows of its tokens, ``d_P_d[k] += sum_{b: token_{t, b} = k} d_z_{d, t, b}``,
inside the loop. Under differentiation only the batch's distinct words are projected
(found with ``jnp.unique``: ``R`` rows ``r``, a multiple of ``ROW_CHUNK``, so ``d_P_d`` is
``[R, 4u]``; evaluation projects the whole table), and after the loop, ``ROW_CHUNK`` rows
at a time::

    d_W_d = sum_r E[r]^T d_P_d[r]        [F, 4u]
    d_b_d = sum_r d_P_d[r]               [4u]
    d_E[r] = sum_d d_P_d[r] W_d^T        [F]   (zero for the words the batch lacks)

Rematerialisation (``remat``, ``rnn_attn.nn.recurrent``) does not reach these kernels:
each keeps its gate factors for every step, so a layer asking for it runs on the generic
scan instead (``fused_kernel_for``; memory and time: docs/performance.md, "Memory and
rematerialisation").

The tests check every kernel against autodiff of the generic scan. Measured effects of
these choices: docs/performance.md ("What the fused BiLSTM kernel does and what it
measured").
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
        if m is not None:  # a masked step's inputs never reach the arithmetic
            xp = jnp.where(m[..., None], xp, jnp.zeros((), xp.dtype))
        zi, zf, zc, zo = jnp.split(xp + h @ recurrent_kernel, 4, axis=-1)
        i, f, g, o = jax.nn.sigmoid(zi), jax.nn.sigmoid(zf), jnp.tanh(zc), jax.nn.sigmoid(zo)
        c_new = f * c + i * g
        tanh_c = jnp.tanh(c_new)
        h_new = o * tanh_c
        slopes = jnp.stack(
            [g * i * (1.0 - i), c * f * (1.0 - f), i * (1.0 - g * g), tanh_c * o * (1.0 - o)],
            axis=-2,
        )
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
    ys, h_t, c_t, h_prev, saved = _forward(recurrent_kernel, x_proj, h0, c0, mask, reverse, unroll)
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


# -- Both directions of a Bidirectional LSTM in one scan ------------------------------------
#
# Step ``s`` advances the forward direction at time ``s`` and the backward one at time
# ``T-1-s``: the loop runs T times instead of 2T, and each step is one batched matmul
# ``[2, B, u] x [2, u, 4u]`` plus one elementwise pass over both directions.


def _gate_scale(units: int, dtype) -> jax.Array:
    """``<dtype>[4*units]``: 0.5 for the sigmoid gates (i, f, o), 1 for the candidate."""
    half = jnp.full((units,), 0.5, dtype)
    return jnp.concatenate([half, half, jnp.ones((units,), dtype), half])


def _activations(z: jax.Array, scale: jax.Array) -> jax.Array:
    """All four gates with a single ``tanh`` over ``z <float>[..., 4*units]``.

    ``sigmoid(x) = 0.5 * tanh(x / 2) + 0.5``, so one transcendental pass covers i, f, c, o.
    """
    t = jnp.tanh(z * scale)
    return t * scale + (1.0 - scale)  # sigmoid gates: 0.5 t + 0.5; candidate: t


def _split_gates(acts: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    units = acts.shape[-1] // 4
    return tuple(acts[..., k * units : (k + 1) * units] for k in range(4))


def _bi_forward(kernels, xs_f, xs_b, h0, c0, masks, unroll, save, tables=None):
    """Fused scan. ``kernels [2, u, 4u]``; ``xs_f, xs_b [T, B, 4u]`` in processing order
    (``xs_b`` already time-reversed); ``h0, c0 [2, B, u]``; ``masks [T, 2, B]`` or None.

    With ``tables = (table_f, table_b)`` (``[vocab, 4u]`` each), ``xs_f, xs_b`` are token
    ids ``<int>[T, B]`` and each step gathers its rows: the ``[T, B, 4u]`` inputs are never
    written to memory.

    Emits the carried ``h`` of every step (``hs [T, 2, B, u]``) and, with ``save``, what
    the backward pass needs so that it does no transcendental math (``_gate_factors``).
    """
    scale = _gate_scale(kernels.shape[1], h0.dtype)

    def step(carry, inputs):
        h, c = carry
        x_f, x_b, m = inputs
        if tables is not None:
            x_f, x_b = tables[0][x_f], tables[1][x_b]
        z = jnp.stack([x_f, x_b]) + jnp.einsum("dbu,duk->dbk", h, kernels)
        acts = _activations(z, scale)
        i, f, g, o = _split_gates(acts)
        c_new = f * c + i * g
        tanh_c = jnp.tanh(c_new)
        h_new = o * tanh_c
        # With the step's input h as [2, u, B]: the left operand of the kernels' gradient.
        saved = _gate_factors(acts, c, tanh_c) + (jnp.swapaxes(h, -1, -2),) if save else None
        if m is not None:  # Keras masking: a masked step keeps the carry
            keep = m[..., None]
            h_new = jnp.where(keep, h_new, h)
            c_new = jnp.where(keep, c_new, c)
        return (h_new, c_new), (h_new, saved) if save else h_new

    (h_t, c_t), out = jax.lax.scan(step, (h0, c0), (xs_f, xs_b, masks), unroll=unroll)
    return h_t, c_t, out


def _gate_factors(acts, c_prev, tanh_c):
    """What the backward step needs from a forward step, all ``[2, B, ...]``:

    ``factors [.., 4u]``: each gate's ``d c_new / d z`` (i, f, c) or ``d h_new / d z`` (o),
    i.e. partner value times activation slope (sigmoid' = a (1 - a), tanh' = 1 - a^2);
    ``o_dtanh [.., u]`` = ``o (1 - tanh(c_new)^2)``, and the forget gate ``f [.., u]``.
    Computing them here, where the activations are at hand, leaves the backward loop one
    multiply per gate element. Each gate's block is computed apart and the four joined
    once along the last axis.
    """
    i, f, g, o = _split_gates(acts)
    factors = jnp.concatenate(
        [
            g * (i * (1.0 - i)),
            c_prev * (f * (1.0 - f)),
            i * (1.0 - g * g),
            tanh_c * (o * (1.0 - o)),
        ],
        axis=-1,
    )
    return factors, o * (1.0 - tanh_c * tanh_c), f


@functools.partial(jax.custom_vjp, nondiff_argnums=(6,))
def bilstm_scan(kernels, xs_f, xs_b, h0, c0, masks, unroll=1):
    """Both directions of a bidirectional LSTM in one time-major scan.

    Args:
      kernels: ``<float>[2, units, 4*units]``, the two recurrent kernels (forward, backward).
      xs_f: ``<float>[time, batch, 4*units]``, the forward direction's projected inputs.
      xs_b: ``<float>[time, batch, 4*units]``, the backward direction's, time-reversed (row
        ``s`` is time ``T-1-s``).
      h0, c0: ``<float>[2, batch, units]``.
      masks: ``<bool>[time, 2, batch]`` in processing order, or None.
      unroll: passed to ``lax.scan``.

    Returns:
      ``(hs <float>[time, 2, batch, units], (h_T, c_T))``: ``hs`` is the carried ``h`` after
      each step in processing order (at a masked step, the previous one); the Keras outputs
      are ``where(mask, hs, 0)``.
    """
    h_t, c_t, hs = _bi_forward(kernels, xs_f, xs_b, h0, c0, masks, unroll, save=False)
    return hs, (h_t, c_t)


def _bi_fwd(kernels, xs_f, xs_b, h0, c0, masks, unroll):
    h_t, c_t, (hs, saved) = _bi_forward(kernels, xs_f, xs_b, h0, c0, masks, unroll, save=True)
    return (hs, (h_t, c_t)), (kernels, masks, saved)


def _bi_bwd(unroll, residuals, cotangents):
    kernels, masks, saved = residuals
    return _bi_backward(kernels, masks, saved, cotangents, unroll) + (None,)


def _bi_backward(kernels, masks, saved, cotangents, unroll, tokens=None, table=None):
    """The backward loop: ``(d_kernels, d_xs_f, d_xs_b, d_h0, d_c0)`` from the forward's
    ``saved`` and the cotangents of ``(hs, (h_T, c_T))``, ``d_xs_*`` in processing order.

    The kernels' gradient is summed inside the loop, one ``[u, B] x [B, 4u]`` matmul a
    step. With ``tokens = (tokens_f, tokens_b)`` the inputs
    were rows of two tables shaped like ``table``: each step scatter-adds its ``d_xs`` rows into
    their gradients, returned in place of ``d_xs_f, d_xs_b``, so no ``[T, B, 4u]``
    gradient is written to memory.
    """
    d_hs, (d_h_t, d_c_t) = cotangents

    def step(carry, inputs):
        d_h, d_c, d_kernels, d_tables = carry  # d_h, d_c: reaching the carry after this step
        d_out, (factors, o_dtanh, f, h_in), m, ids = inputs
        d_h = d_h + d_out
        d_hn, d_cn = d_h, d_c
        if m is not None:
            keep = m[..., None]
            d_hn = jnp.where(keep, d_h, 0.0)
            d_cn = jnp.where(keep, d_c, 0.0)
        d_cn = d_cn + d_hn * o_dtanh
        # i, f and c reach the output through the cell (d_cn), o directly (d_hn).
        d_z = factors * jnp.concatenate([d_cn, d_cn, d_cn, d_hn], axis=-1)
        d_h_before = jnp.einsum("dbk,duk->dbu", d_z, kernels)
        d_c_before = d_cn * f
        if m is not None:  # a masked step passed the carry through unchanged
            d_h_before = d_h_before + jnp.where(keep, 0.0, d_h)
            d_c_before = d_c_before + jnp.where(keep, 0.0, d_c)
        d_kernels = d_kernels + jnp.einsum("dub,dbk->duk", h_in, d_z)
        if ids is None:
            return (d_h_before, d_c_before, d_kernels, d_tables), (d_z[0], d_z[1])
        d_tables = (d_tables[0].at[ids[0]].add(d_z[0]), d_tables[1].at[ids[1]].add(d_z[1]))
        return (d_h_before, d_c_before, d_kernels, d_tables), None

    d_tables = None
    if tokens is not None:
        d_tables = (jnp.zeros_like(table), jnp.zeros_like(table))
    (d_h0, d_c0, d_kernels, d_tables), d_xs = jax.lax.scan(
        step,
        (d_h_t, d_c_t, jnp.zeros_like(kernels), d_tables),
        (d_hs, saved, masks, tokens),
        reverse=True,
        unroll=unroll,
    )
    d_xs_f, d_xs_b = d_xs if tokens is None else d_tables
    return d_kernels, d_xs_f, d_xs_b, d_h0, d_c0


bilstm_scan.defvjp(_bi_fwd, _bi_bwd)


# -- The embedded BiLSTM: the projected embedding table gathered inside the scan ---------
#
# ``embeddings[tokens] @ W + b == (embeddings @ W + b)[tokens]``. Evaluation projects the
# whole table; training projects only the rows its batch uses, ``ROW_CHUNK`` rows at a
# time, and the backward pass does the same for the gradients of ``embeddings`` and ``W``.

ROW_CHUNK = 512  # rows projected per matmul when only a batch's words are projected


@functools.partial(jax.custom_vjp, nondiff_argnums=(7,))
def bilstm_scan_embedded(embeddings, projections, kernels, tokens, h0, c0, masks, unroll=1):
    """``bilstm_scan`` on ``embeddings[tokens] @ W_d + b_d`` for both directions ``d``.

    Args:
      embeddings: ``<float>[vocab, features]``.
      projections: ``((W_f, b_f), (W_b, b_b))``, input kernels ``[features, 4u]`` and
        biases ``[4u]``.
      kernels: ``<float>[2, u, 4u]``, the recurrent kernels.
      tokens: ``<int>[time, batch]`` in forward time order.
      h0, c0, masks, unroll: as ``bilstm_scan``.

    Each step gathers its rows of the projected tables, so the ``[T, B, 4u]`` inputs are
    never written to memory.
    """
    tables = tuple(embeddings @ w + b for w, b in projections)
    h_t, c_t, hs = _bi_forward(
        kernels, tokens, tokens[::-1], h0, c0, masks, unroll, save=False, tables=tables
    )
    return hs, (h_t, c_t)


def _embedded_fwd(embeddings, projections, kernels, tokens, h0, c0, masks, unroll):
    rows, compact, count = _batch_vocabulary(tokens, embeddings.shape[0])
    # The rows some unmasked step reads. The others (padding, the fill of ``rows``) are
    # read as zero embeddings, here and in ``d_W``: their gradient is 0, and 0 * NaN = NaN.
    valid = jnp.ones(compact.shape, jnp.int32) if masks is None else masks[:, 0].astype(jnp.int32)
    used = jnp.zeros(rows.shape, jnp.int32).at[compact].max(valid) > 0
    tables = _project_rows(embeddings, projections, rows, count, used)
    h_t, c_t, (hs, saved) = _bi_forward(
        kernels, compact, compact[::-1], h0, c0, masks, unroll, save=True, tables=tables
    )
    residuals = (embeddings, projections, kernels, masks, saved, compact, rows, count, tables[0])
    return (hs, (h_t, c_t)), residuals + (used,)


def _embedded_bwd(unroll, residuals, cotangents):
    embeddings, projections, kernels, masks, saved, compact, rows, count, table, used = residuals
    d_kernels, d_table_f, d_table_b, d_h0, d_c0 = _bi_backward(
        kernels, masks, saved, cotangents, unroll, (compact, compact[::-1]), table
    )
    d_embeddings, d_projections = _project_rows_grad(
        embeddings, projections, rows, count, (d_table_f, d_table_b), used
    )
    return d_embeddings, d_projections, d_kernels, None, d_h0, d_c0, None


bilstm_scan_embedded.defvjp(_embedded_fwd, _embedded_bwd)


def _batch_vocabulary(tokens: jax.Array, vocab: int):
    """``(rows, compact, count)``: the distinct ``tokens`` ascending in ``rows <int>[R]``
    (``R`` a multiple of ``ROW_CHUNK``, padded with 0), each token's index into ``rows``
    (``compact``, shaped like ``tokens``) and how many are distinct (``count``)."""
    size = -(-min(vocab, tokens.size) // ROW_CHUNK) * ROW_CHUNK
    rows, compact = jnp.unique(tokens.reshape(-1), size=size, fill_value=0, return_inverse=True)
    compact = compact.reshape(tokens.shape)
    return rows, compact, jnp.max(compact) + 1


def _chunk(array: jax.Array, j: jax.Array) -> jax.Array:
    return jax.lax.dynamic_slice_in_dim(array, j * ROW_CHUNK, ROW_CHUNK)


def _used_rows(embeddings, rows, used, j):
    """Chunk ``j`` of ``embeddings[rows]``, zero where ``used <bool>[R]`` is False."""
    e = embeddings[_chunk(rows, j)]
    return jnp.where(_chunk(used, j)[:, None], e, jnp.zeros((), e.dtype))


def _project_rows(embeddings, projections, rows, count, used):
    """Both directions' ``embeddings[rows] @ W + b`` for the first ``count`` rows (the
    chunks holding them; the rest of each ``[R, 4u]`` table stays zero), a row that no
    unmasked step reads (``used`` False) from a zero embedding."""

    def project(j, tables):
        e = _used_rows(embeddings, rows, used, j)
        return tuple(
            jax.lax.dynamic_update_slice_in_dim(t, e @ w + b, j * ROW_CHUNK, 0)
            for t, (w, b) in zip(tables, projections, strict=True)
        )

    dtype = jnp.result_type(embeddings, *jax.tree.leaves(projections))
    zeros = tuple(jnp.zeros((rows.shape[0], w.shape[1]), dtype) for w, _ in projections)
    return jax.lax.fori_loop(0, -(-count // ROW_CHUNK), project, zeros)


def _project_rows_grad(embeddings, projections, rows, count, d_tables, used):
    """The gradients of ``embeddings`` and ``projections`` from the projected rows'
    (``used <bool>[R]``: the rows an unmasked step reads; the others' gradient rows are 0
    and their values are read as 0)."""

    def accumulate(j, grads):
        d_embeddings, d_kernels = grads
        r = _chunk(rows, j)
        e = _used_rows(embeddings, rows, used, j)
        d_rows = [_chunk(d, j) for d in d_tables]
        d_kernels = tuple(dk + e.T @ d for dk, d in zip(d_kernels, d_rows, strict=True))
        d_e = sum(d @ w.T for d, (w, _) in zip(d_rows, projections, strict=True))
        return d_embeddings.at[r].add(d_e.astype(d_embeddings.dtype)), d_kernels

    zeros = (jnp.zeros_like(embeddings), tuple(jnp.zeros_like(w) for w, _ in projections))
    d_embeddings, d_kernels = jax.lax.fori_loop(0, -(-count // ROW_CHUNK), accumulate, zeros)
    d_projections = tuple(
        (dk.astype(w.dtype), d.sum(0).astype(b.dtype))
        for dk, d, (w, b) in zip(d_kernels, d_tables, projections, strict=True)
    )
    return d_embeddings, d_projections


def bidirectional_lstm(
    forward_params: dict[str, jax.Array],
    backward_params: dict[str, jax.Array],
    inputs: jax.Array,
    mask: jax.Array | None = None,
    unroll: int | bool = 1,
) -> tuple[tuple[jax.Array, jax.Array], tuple[tuple[jax.Array, jax.Array], ...]]:
    """Keras ``Bidirectional(LSTM(u, return_sequences=True, return_state=True))`` on
    ``inputs <float>[batch, time, features]`` with zero initial states.

    Args:
      forward_params, backward_params: ``cells.LSTMCell`` parameters (``kernel
        [features, 4u]``, ``recurrent_kernel [u, 4u]``, ``bias [4u]``).
      mask: optional ``<bool>[batch, time]``; a masked step keeps the carry and emits 0,
        and its inputs are zeroed first (nothing they hold reaches a gradient).

    Returns:
      ``((y_f, y_b), ((h_f, c_f), (h_b, c_b)))`` with ``y_f, y_b <float>[batch, time, u]``
      both aligned to the input's time index, and final carries ``<float>[batch, u]``.
      Unused outputs cost nothing under ``jit`` (the sequences are formed after the scan).
    """
    if mask is not None:  # masked steps zeroed before the projection (see the module doc)
        inputs = jnp.where(jnp.asarray(mask, bool)[..., None], inputs, jnp.zeros((), inputs.dtype))
    x_tm = jnp.moveaxis(inputs, -2, 0)  # [T, B, F]
    xs_f = x_tm @ forward_params["kernel"] + forward_params["bias"]
    xs_b = x_tm[::-1] @ backward_params["kernel"] + backward_params["bias"]
    return _bidirectional_projected(forward_params, backward_params, xs_f, xs_b, mask, unroll)


def embedded_bidirectional_lstm(
    embeddings: jax.Array,
    forward_params: dict[str, jax.Array],
    backward_params: dict[str, jax.Array],
    tokens: jax.Array,
    mask: jax.Array | None = None,
    unroll: int | bool = 1,
) -> tuple[tuple[jax.Array, jax.Array], tuple[tuple[jax.Array, jax.Array], ...]]:
    """``bidirectional_lstm(params, embeddings[tokens])``, computed by projecting the
    embedding table instead of the embedded tokens.

    ``embeddings[tokens] @ W + b == (embeddings @ W + b)[tokens]``: when the batch holds
    more tokens than distinct words, projecting the words costs fewer FLOPs, forward and
    backward; see ``bilstm_scan_embedded``. Same values.

    Args:
      embeddings: ``<float>[vocab, features]``.
      tokens: ``<int>[batch, time]``.
      Others as ``bidirectional_lstm``.
    """
    projections = tuple((p["kernel"], p["bias"]) for p in (forward_params, backward_params))
    t_tm = jnp.moveaxis(tokens, -1, 0)  # [T, B]
    dtype = jnp.result_type(embeddings, *jax.tree.leaves(projections))
    kernels, zeros, masks = _scan_setup(forward_params, backward_params, t_tm.shape[1], dtype, mask)
    hs, (h_t, c_t) = bilstm_scan_embedded(
        embeddings, projections, kernels, t_tm, zeros, zeros, masks, unroll
    )
    return _keras_outputs(hs, h_t, c_t, masks)


def _scan_setup(forward_params, backward_params, batch, dtype, mask):
    """The stacked recurrent kernels, zero initial states and processing-order masks."""
    kernels = jnp.stack([forward_params["recurrent_kernel"], backward_params["recurrent_kernel"]])
    zeros = jnp.zeros((2, batch, kernels.shape[1]), dtype)
    masks = None
    if mask is not None:
        m_tm = jnp.moveaxis(jnp.asarray(mask, bool), -1, 0)  # [T, B]
        masks = jnp.stack([m_tm, m_tm[::-1]], axis=1)  # [T, 2, B]
    return kernels, zeros, masks


def _keras_outputs(hs, h_t, c_t, masks):
    """``((y_f, y_b), ((h_f, c_f), (h_b, c_b)))`` from the fused scan's results."""
    if masks is not None:
        hs = jnp.where(masks[..., None], hs, 0.0)
    y_f = jnp.moveaxis(hs[:, 0], 0, 1)
    y_b = jnp.moveaxis(hs[::-1, 1], 0, 1)
    return (y_f, y_b), ((h_t[0], c_t[0]), (h_t[1], c_t[1]))


def _bidirectional_projected(forward_params, backward_params, xs_f, xs_b, mask, unroll):
    """The fused scan on time-major projected inputs (``xs_b`` already time-reversed)."""
    kernels, zeros, masks = _scan_setup(
        forward_params, backward_params, xs_f.shape[1], xs_f.dtype, mask
    )
    hs, (h_t, c_t) = bilstm_scan(kernels, xs_f, xs_b, zeros, zeros, masks, unroll)
    return _keras_outputs(hs, h_t, c_t, masks)
