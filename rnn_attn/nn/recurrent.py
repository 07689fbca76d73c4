"""The scan layer: a cell run over time with ``jax.lax.scan``, Bidirectional, stacking.

Shapes are batch-major at the interface (``[batch, time, features]``) and time-major
inside the scan. Masked steps: the carry is kept and the output is ZERO, so a padded
sequence gives, for its valid steps and its final state, exactly what it gives alone
(``return_sequences=False`` gives the last valid step's output). Keras 3 outputs zeros
there only inside ``Bidirectional``; its recurrent layer alone repeats the previous
step's output at a masked step (``zero_output_for_mask=False``): the same valid outputs
and final state, other masked outputs. The linen and nnx layers
(``rnn_attn.interop``) run this function and do the same. ``lengths`` masks steps
``t >= lengths[b]`` (right-padded sequences).
Masked inputs are zeroed before any arithmetic (``zero_masked``), so whatever padding holds
(NaN included) reaches neither the outputs nor the gradients: a ``where`` that only picks
the carry would still send ``0 * NaN = NaN`` back through the discarded step.

Dropout follows Keras and Gal & Ghahramani (2016): with ``train=True``, ``dropout`` drops
input features and ``recurrent_dropout`` drops ``h_{t-1}`` where it enters the recurrent
matmul, each with ONE mask per sequence (``[batch, features]`` / ``[batch, units]``)
drawn once before the loop and reused at every time step, scaled by ``1/(1-rate)``. With
``train=False`` (the default) nothing is dropped. Unlike Keras's ``implementation=1``,
which draws a separate mask per gate, the gates share one mask (the fused kernels of
``cells`` take one matmul per step).

Fused kernels: ``fused_kernel_for`` is the one place that decides whether a layer runs on
a kernel of ``rnn_attn.nn.fast_lstm`` (one scan with a hand-written backward pass) or on
the generic ``lax.scan``; ``scan_projected`` and ``bidirectional`` ask it. Tests and
benchmarks override it with ``kernel_choice``.

Rematerialisation (``remat=n``, issue 33): the generic scan runs as an outer ``lax.scan``
over chunks of ``n`` steps whose body is ``jax.checkpoint`` of an inner ``lax.scan`` over
the chunk (``_chunked_scan``). The backward pass then keeps only the carries at the
chunks' boundaries and recomputes each chunk's steps when it reaches them: about
``T/n + n`` steps' residuals instead of ``T`` (least near ``n = sqrt(T)``), for one more
forward pass. A last chunk shorter than ``n`` is padded with masked steps, which keep
the carry, so the values are those of the plain scan up to rounding. The fused kernels
save their own residuals for every step (``jax.custom_vjp``), out of ``jax.checkpoint``'s
reach, so asking for ``remat`` rules them out (``fused_kernel_for``): the layer runs on
the generic scan, rematerialised (docs/performance.md, "Memory and rematerialisation").
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from rnn_attn.checks import argument
from rnn_attn.nn.cells import Carry, Cell, LSTMCell, Params
from rnn_attn.nn.fast_lstm import bidirectional_lstm, embedded_bidirectional_lstm, lstm_scan
from rnn_attn.nn.layers import zero_masked

MergeMode = Literal["concat", "sum", "mul", "ave", "none"]
MERGE_MODES = ("concat", "sum", "mul", "ave", "none")
KernelChoice = Literal["default", "generic", "fused"]
KERNEL_CHOICES = ("default", "generic", "fused")


def is_array(value) -> bool:
    """Whether ``value`` is a JAX array rather than a Python or numpy number: a swept
    hyperparameter (one value per trial, traced inside the compiled program; see
    ``rnn_attn.train.trials``). Its values are checked on the host before it is traced,
    and it never decides the program's structure: a rate given so is applied even where
    it is 0 (a mask of ones, which changes no value), so every value of a grid runs the
    same program."""
    return isinstance(value, jax.Array)


def check_rate(name: str, rate: float) -> float:
    """``rate`` as a float if it is a number in ``[0, 1)``, else one ValueError naming it
    (``checks.argument``). A number decides the program (a rate of 0 adds no mask); an
    array (``is_array``: a swept rate) comes back unchecked, its values checked before."""
    if is_array(rate):
        return rate
    return float(argument(name, rate, float, minimum=0.0, below=1.0))


def check_coefficient(name: str, value: float) -> float:
    """A penalty's coefficient: a number >= 0 (one ValueError naming it otherwise), or
    an array (``is_array``), returned unchecked."""
    if is_array(value):
        return value
    return argument(name, value, float, minimum=0.0)


def check_rates(**rates: float) -> list[float]:
    """``check_rate`` of each named rate, in order."""
    return [check_rate(name, rate) for name, rate in rates.items()]


def check_unroll(unroll: int | bool, name: str = "unroll") -> int | bool:
    """``unroll`` (``lax.scan``'s: time steps per loop iteration, True for all) if it is
    True, False or an integer >= 1, else one ValueError naming it."""
    if isinstance(unroll, bool | np.bool_):
        return bool(unroll)
    return argument(
        name, unroll, int, minimum=1, why="time steps per loop iteration; or True/False"
    )


def check_remat(remat: int | None, name: str = "remat") -> int:
    """``remat`` (time steps per rematerialised chunk of the generic scan) as an integer:
    0 for None or 0 (off), else the chunk length, an integer >= 1; one ValueError naming
    it otherwise (a bool or a float is refused)."""
    why = "time steps per checkpointed chunk of the scan; 0 or None: off"
    return argument(name, remat, int, minimum=0, optional=True, why=why) or 0


def check_switches(**switches: bool) -> None:
    """Each of ``switches`` True or False (a string or a number is refused, naming it)."""
    for name, value in switches.items():
        argument(name, value, bool)


def _check_shape(
    name: str, array: jax.Array, expected: tuple[int, ...], layout: str, inputs: jax.Array
) -> None:
    """A ValueError naming ``array``'s shape when it is not ``expected`` (from inputs)."""
    if tuple(jnp.shape(array)) != tuple(expected):
        raise ValueError(
            f"{name} of shape {tuple(jnp.shape(array))} does not fit inputs of "
            f"shape {tuple(inputs.shape)}; expected {layout} = {tuple(expected)}"
        )


def dropout_active(rate: float, train: bool) -> bool:
    """Whether a dropout of ``rate`` applies (``train`` is a Python bool, not traced): a
    number > 0, or any array (``is_array``: a swept rate, applied even where it is 0)."""
    return bool(train) and (is_array(rate) or rate > 0.0)


def require_key(key: jax.Array | None, **rates: float) -> None:
    """Raises if a rate is active (the caller checked ``train``) and there is no key."""
    active = {
        name: "an array" if is_array(rate) else rate
        for name, rate in rates.items()
        if dropout_active(rate, True)
    }
    if active and key is None:
        named = ", ".join(f"{name}={rate}" for name, rate in active.items())
        raise ValueError(f"train=True with {named} needs a PRNG key (key=...)")


def dropout_mask(
    key: jax.Array, rate: float, shape: tuple[int, ...], dtype=jnp.float32
) -> jax.Array:
    """Inverted-dropout mask ``<dtype>[*shape]``: 0 with probability ``rate``, else
    ``1/(1-rate)``, so the expected value of ``x * mask`` is ``x``."""
    keep = jax.random.bernoulli(key, 1.0 - rate, shape)
    return jnp.where(keep, jnp.asarray(1.0 / (1.0 - rate), dtype), jnp.asarray(0.0, dtype))


def length_mask(lengths: jax.Array, max_len: int) -> jax.Array:
    """``<bool>[batch, max_len]``: True where step ``t < lengths[b]``."""
    return jnp.arange(max_len)[None, :] < jnp.asarray(lengths)[:, None]


# -- The one place that picks a fused kernel (rnn_attn/nn/fast_lstm.py) or the generic scan --

# Process-wide, not a contextvar: the engine traces in worker threads (rnn_attn/train).
_KERNEL_CHOICE = ["default"]


@contextlib.contextmanager
def kernel_choice(choice: KernelChoice) -> Iterator[None]:
    """Overrides ``fused_kernel_for`` while the block runs; for tests and benchmarks that
    compare the fused kernels with the generic scan. Models never use it.

    ``"generic"``: the generic ``lax.scan`` everywhere. ``"fused"``: a fused kernel for
    every layer one computes, also those the default leaves on the generic scan.
    ``"default"``: what models get. The choice is made when a function is traced: jit a
    function inside the block (or give ``jax.jit`` the choice as a static argument and
    enter the block inside the function); one traced before keeps its kernels. It holds
    for the whole process, threads started in the block included.
    """
    if not isinstance(choice, str) or choice not in KERNEL_CHOICES:
        raise ValueError(f"unknown kernel choice {choice!r}; expected one of {KERNEL_CHOICES}")
    previous, _KERNEL_CHOICE[0] = _KERNEL_CHOICE[0], choice
    try:
        yield
    finally:
        _KERNEL_CHOICE[0] = previous


def fused_kernel_for(
    cells: Sequence[Cell],
    *,
    embedded: bool = False,
    batch_ndim: int = 1,
    recurrent_dropout: bool = False,
    remat: bool = False,
) -> Callable | None:
    """The fused kernel that computes a recurrent layer, or None for the generic scan.

    The single dispatch point: ``scan_projected`` (one direction) and ``bidirectional``
    (two) ask it and call what it returns, so a kernel for another cell is added here.

    Args:
      cells: the layer's cells, ``(cell,)`` or ``(forward_cell, backward_cell)``.
      embedded: the layer reads token ids through an embedding table.
      batch_ndim: the number of batch axes (the kernels take one).
      recurrent_dropout: a recurrent dropout mask is active (no kernel has one).
      remat: the layer asks for a rematerialised scan (``remat`` > 0): the kernels save
        their own residuals for every step, which ``jax.checkpoint`` cannot chunk, so it
        gets the generic scan, even under ``kernel_choice("fused")``.

    Masks never rule a kernel out (every kernel takes them). By default the fused kernel
    runs a Bidirectional layer of two plain LSTM cells (``_plain_lstm``) reading token
    ids; a layer on features takes the generic scan (why: docs/performance.md) unless
    ``kernel_choice("fused")``; ``kernel_choice("generic")`` turns every kernel off.

    Returns:
      None, or the kernel with the layer's call convention: one cell,
      ``kernel(params, xs, carry, masks, unroll) -> (ys, final_carry)`` on time-major
      projected inputs and masks in processing order; two cells, ``kernel(params, inputs,
      mask, unroll, embeddings) -> ((y_f, y_b), (carry_f, carry_b))`` with ``params``
      ``{"forward", "backward"}``, batch-major ``inputs`` (token ids when ``embeddings``).
    """
    choice = _KERNEL_CHOICE[0]
    if choice == "generic" or batch_ndim != 1 or recurrent_dropout or remat:
        return None
    if not all(_plain_lstm(cell) for cell in cells):
        return None
    if len(cells) == 2:
        if embedded:
            return _fused_embedded_bilstm
        return _fused_bilstm if choice == "fused" else None
    return _fused_lstm if choice == "fused" and not embedded else None


def _plain_lstm(cell: Cell) -> bool:
    """Whether the fused LSTM kernels compute this cell (sigmoid/tanh, no layer norm)."""
    return (
        isinstance(cell, LSTMCell)
        and cell.activation == "tanh"
        and cell.recurrent_activation == "sigmoid"
        and not cell.layer_norm
    )


def _fused_lstm(params, xs, carry, masks, unroll):
    return lstm_scan(params["recurrent_kernel"], xs, carry[0], carry[1], masks, False, unroll)


def _fused_bilstm(params, inputs, mask, unroll, embeddings):
    return bidirectional_lstm(params["forward"], params["backward"], inputs, mask, unroll)


def _fused_embedded_bilstm(params, tokens, mask, unroll, embeddings):
    return embedded_bidirectional_lstm(
        embeddings, params["forward"], params["backward"], tokens, mask, unroll
    )


def scan_projected(
    cell: Cell,
    params: Params,
    x_proj: jax.Array,
    *,
    mask: jax.Array | None = None,
    initial_carry: Carry | None = None,
    reverse: bool = False,
    unroll: int | bool = 1,
    recurrent_dropout: float = 0.0,
    train: bool = False,
    key: jax.Array | None = None,
    remat: int | None = None,
) -> tuple[jax.Array, Carry]:
    """Runs ``cell.step`` over pre-projected inputs, or the fused kernel that
    ``fused_kernel_for`` picks for the cell (same values up to rounding).

    Args:
      cell: the cell.
      params: its parameters.
      x_proj: ``<float>[batch, time, G*units]``, the output of ``cell.project``.
      mask: optional ``<bool>[batch, time]``; False steps keep the carry and emit zeros
        (their ``x_proj`` is zeroed first, so nothing it holds reaches a gradient).
      initial_carry: defaults to zeros.
      reverse: process ``t = T-1 .. 0`` (Keras's ``go_backwards``); the outputs are then
        returned in processing order, as Keras does.
      unroll: passed to ``lax.scan`` (``True`` unrolls fully; worth it for short sequences).
      recurrent_dropout: rate of the mask ``<float>[batch, units]`` on ``h_{t-1}`` where it
        feeds the recurrent kernel, drawn once from ``key`` and fixed over time. Input
        dropout is not here: the inputs are already projected (``rnn`` applies it).
      train: dropout only when True.
      key: PRNG key for the recurrent mask (needed when it is active).
      remat: None or 0 (off), or the chunk length ``n``: the scan's backward pass keeps
        the carries every ``n`` steps and recomputes the steps between (module docstring);
        runs on the generic scan, never a fused kernel.

    Returns:
      ``(outputs <float>[batch, time, units], final_carry)``.
    """
    check_params(cell, params, "scan_projected")
    return _scan(
        cell,
        params,
        x_proj,
        projected=True,
        mask=mask,
        initial_carry=initial_carry,
        reverse=reverse,
        unroll=unroll,
        recurrent_dropout=recurrent_dropout,
        train=train,
        key=key,
        remat=remat,
    )


def _scan(
    cell,
    params,
    xs,
    *,
    projected,
    mask,
    initial_carry,
    reverse,
    unroll,
    recurrent_dropout,
    train,
    key,
    remat=None,
):
    """``scan_projected``'s body on inputs ``xs <float>[batch, time, F]``: projected
    (``cell.project``'s output) or raw. The fused kernels take projected inputs, so raw
    ones are projected before the loop for them; the generic scan projects raw inputs
    step by step inside the loop (1.4-2x faster training on the CPU than one matmul over
    every step before it: docs/performance.md, "Where the inputs are projected")."""
    recurrent_dropout = check_rate("recurrent_dropout", recurrent_dropout)
    check_switches(reverse=reverse, train=train)
    unroll = check_unroll(unroll)
    remat = check_remat(remat)
    batch = xs.shape[:-2]
    recurrent_mask = None
    if dropout_active(recurrent_dropout, train):
        require_key(key, recurrent_dropout=recurrent_dropout)
        recurrent_mask = dropout_mask(key, recurrent_dropout, (*batch, cell.units), xs.dtype)
    carry = cell.initial_carry(batch, xs.dtype) if initial_carry is None else initial_carry
    kernel = fused_kernel_for(
        (cell,),
        batch_ndim=len(batch),
        recurrent_dropout=recurrent_mask is not None,
        remat=remat > 0,
    )
    if kernel is not None and not projected:
        xs, projected = cell.project(params, xs), True
    steps = jnp.moveaxis(zero_masked(xs, mask), -2, 0)
    ms = None if mask is None else jnp.moveaxis(jnp.asarray(mask, bool), -1, 0)
    if reverse:
        steps = steps[::-1]
        ms = None if ms is None else ms[::-1]
    if kernel is not None:
        ys, final = kernel(params, steps, carry, ms, unroll)
    else:
        project = None if projected else cell.project
        ys, final = _generic_scan(
            cell, params, steps, carry, ms, unroll, recurrent_mask, project, remat
        )
    return jnp.moveaxis(ys, 0, -2), final


def _generic_scan(cell, params, xs, carry, masks, unroll, recurrent_mask, project=None, remat=0):
    """``cell.step`` under ``lax.scan`` (autodiff for the gradient), time-major in
    processing order: ``(ys, final_carry)``, as the one-direction fused kernels. With
    ``project`` (``cell.project``), ``xs`` are raw inputs, each step's projected in the
    loop; with ``remat`` > 0, rematerialised in chunks of that many steps
    (``_chunked_scan``)."""

    def body(carry, inputs):
        x_t, m_t = inputs
        if project is not None:
            x_t = project(params, x_t)
        new_carry, h = cell.step(params, carry, x_t, recurrent_mask)
        if m_t is not None:
            keep = m_t[..., None]
            new_carry = jax.tree.map(lambda n, o: jnp.where(keep, n, o), new_carry, carry)
            h = jnp.where(keep, h, jnp.zeros_like(h))
        return new_carry, h

    if remat:
        return _chunked_scan(body, carry, xs, masks, remat, unroll)
    final, ys = jax.lax.scan(body, carry, (xs, masks), unroll=unroll)
    return ys, final


def _chunked_scan(body, carry, xs, masks, chunk: int, unroll):
    """``lax.scan(body, carry, (xs, masks))`` as ``(ys, final)``, rematerialised: an outer
    scan over chunks of ``chunk`` steps (at most the sequence's length) whose body is
    ``jax.checkpoint`` of the inner scan over the chunk's steps, so the backward pass
    stores the carry at each chunk's start and recomputes the chunk's steps from it.

    ``xs [T, *batch, F]``, ``masks [T, *batch]`` or None. When ``chunk`` does not divide
    ``T`` the last chunk is padded with zero inputs at masked steps (a mask of ones is
    made for the others when there is none): a masked step keeps the carry, so the final
    carry and the valid outputs are the unpadded scan's; the padded outputs are dropped.
    """
    steps = xs.shape[0]
    chunk = max(1, min(chunk, steps))
    chunks = -(-steps // chunk)
    pad = chunks * chunk - steps
    if pad:
        if masks is None:
            masks = jnp.ones(xs.shape[:-1], bool)
        xs = jnp.concatenate([xs, jnp.zeros((pad, *xs.shape[1:]), xs.dtype)])
        masks = jnp.concatenate([masks, jnp.zeros((pad, *masks.shape[1:]), bool)])

    def split(a):
        return None if a is None else a.reshape(chunks, chunk, *a.shape[1:])

    # prevent_cse=False: inside a scan there is nothing for XLA to merge (jax.checkpoint).
    @functools.partial(jax.checkpoint, prevent_cse=False)
    def run_chunk(carry, inputs):
        return jax.lax.scan(body, carry, inputs, unroll=unroll)

    final, ys = jax.lax.scan(run_chunk, carry, (split(xs), split(masks)))
    return ys.reshape(chunks * chunk, *ys.shape[2:])[:steps], final


def _check_length_values(lengths, time: int) -> None:
    """Lengths known now (not traced) lie in [0, time]: a longer one would be read as the
    whole sequence, a negative one as empty, without a word."""
    if isinstance(lengths, jax.core.Tracer):
        return
    values = np.asarray(lengths)
    bad = (values < 0) | (values > time)
    if bad.any():
        raise ValueError(
            f"lengths must lie in [0, {time}] (the time axis), got {values[bad][:3].tolist()}"
        )


def _checked_inputs(inputs, lengths, mask) -> tuple[jax.Array, jax.Array | None]:
    """``inputs`` as an array ``[batch, time, features]``, its masked steps zeroed
    (``zero_masked``), and the mask that ``lengths`` or ``mask`` gives (TypeError /
    ValueError naming what is wrong)."""
    if not hasattr(inputs, "ndim"):
        try:
            inputs = jnp.asarray(inputs)
        except (TypeError, ValueError):
            raise TypeError(
                f"rnn inputs must be an array [batch, time, features], got "
                f"{type(inputs).__name__} {inputs!r:.60}"
            ) from None
    if inputs.ndim < 3:
        raise ValueError(
            f"rnn inputs must be [batch, time, features]; got shape {tuple(inputs.shape)}"
        )
    mask = _checked_mask(inputs, inputs.shape[:-1], lengths, mask)
    return zero_masked(inputs, mask), mask


def _checked_mask(inputs, steps: tuple[int, ...], lengths, mask) -> jax.Array | None:
    """The mask that ``lengths`` or ``mask`` gives for ``inputs`` whose batch and time axes
    are ``steps`` (ValueError naming what is wrong); None for neither."""
    if lengths is not None:
        if mask is not None:
            raise ValueError("give either lengths or mask, not both")
        _check_shape("lengths", lengths, steps[:-1], "<int>[batch]", inputs)
        _check_length_values(lengths, steps[-1])
        mask = length_mask(lengths, steps[-1])
    if mask is not None:
        _check_shape("mask", mask, steps, "<bool>[batch, time]", inputs)
    return mask


def check_params(cell: Cell, params: Params, where: str) -> None:
    """``cell.check_params`` with the entry point and the cell in the message (``rnn
    (LSTMCell of 4 units): no weight 'bias'; ...``): every function of this module that
    takes a cell's params checks them first, so a missing, unknown or misshapen weight
    is one ValueError, not a KeyError from inside a step or an array broadcast."""
    cell.check_params(params, where=f"{where} ({type(cell).__name__} of {cell.units} units)")


def _checked_layer(cell, params, inputs, lengths, mask, initial_carry):
    """``rnn``'s arguments checked: the params (``check_params``), the inputs and the mask
    (``_checked_inputs``: returned), the inputs' width, the initial carry."""
    check_params(cell, params, "rnn")
    inputs, mask = _checked_inputs(inputs, lengths, mask)
    cell.check_inputs(params, inputs)  # here: the loop projects one step at a time
    if initial_carry is not None:
        cell.check_carry(initial_carry, tuple(inputs.shape[:-2]))
    return inputs, mask


def _input_dropout(inputs, dropout, recurrent_dropout, train, key):
    """``rnn``'s ``(inputs, recurrent_key)``: ``key`` split into the input mask's key and
    the recurrent mask's when either rate is active, the inputs dropped when ``dropout``
    is (``_drop_inputs``)."""
    input_key = recurrent_key = None
    if dropout_active(dropout, train) or dropout_active(recurrent_dropout, train):
        require_key(key, dropout=dropout, recurrent_dropout=recurrent_dropout)
        input_key, recurrent_key = jax.random.split(key)
    if dropout_active(dropout, train):
        inputs = _drop_inputs(inputs, dropout, input_key)
    return inputs, recurrent_key


def _drop_inputs(inputs: jax.Array, rate: float, key: jax.Array) -> jax.Array:
    """Input dropout: one mask per sequence, broadcast over time (Keras / Gal), not one
    per step."""
    keep = dropout_mask(key, rate, (*inputs.shape[:-2], inputs.shape[-1]), inputs.dtype)
    return inputs * keep[..., None, :]


def rnn(
    cell: Cell,
    params: Params,
    inputs: jax.Array,
    *,
    lengths: jax.Array | None = None,
    mask: jax.Array | None = None,
    initial_carry: Carry | None = None,
    reverse: bool = False,
    return_sequences: bool = True,
    unroll: int | bool = 1,
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    train: bool = False,
    key: jax.Array | None = None,
    remat: int | None = None,
) -> tuple[jax.Array, Carry]:
    """A Keras-style recurrent layer.

    Args:
      params: the cell's (names and shapes checked first: ``check_params``).
      inputs: ``<float>[batch, time, features]``.
      lengths: optional ``<int>[batch]`` valid lengths (right padding); or give ``mask``.
        Masked steps of ``inputs`` are zeroed before the projection (``zero_masked``).
      return_sequences: all outputs ``[batch, time, units]`` or the last valid one
        ``[batch, units]``.
      dropout: rate of the input mask ``<float>[batch, features]``, the same at every step.
      recurrent_dropout: rate of the mask on ``h_{t-1}`` (see ``scan_projected``).
      train, key: dropout only when ``train`` (default: inference); ``key`` is then split
        into ``(input_key, recurrent_key) = jax.random.split(key)``.
      Others (``remat`` included) as in ``scan_projected``.

    Returns:
      ``(outputs, final_carry)``; the carry is Keras's ``return_state`` (``(h, c)`` for LSTM).
    """
    inputs, mask = _checked_layer(cell, params, inputs, lengths, mask, initial_carry)
    dropout, recurrent_dropout = check_rates(dropout=dropout, recurrent_dropout=recurrent_dropout)
    check_switches(reverse=reverse, return_sequences=return_sequences, train=train)
    inputs, recurrent_key = _input_dropout(inputs, dropout, recurrent_dropout, train, key)
    outputs, final = _scan(
        cell,
        params,
        inputs,
        projected=False,
        mask=mask,
        initial_carry=initial_carry,
        reverse=reverse,
        unroll=unroll,
        recurrent_dropout=recurrent_dropout,
        train=train,
        key=recurrent_key,
        remat=remat,
    )
    if not return_sequences:
        # The carry's h is the output of the last valid step (masked steps keep it).
        return final[0], final
    return outputs, final


def merge(forward: jax.Array, backward: jax.Array, mode: MergeMode):
    """Keras Bidirectional's merge of the two directions' outputs."""
    if mode == "concat":
        return jnp.concatenate([forward, backward], axis=-1)
    if mode == "sum":
        return forward + backward
    if mode == "mul":
        return forward * backward
    if mode == "ave":
        return 0.5 * (forward + backward)
    if mode == "none":
        return forward, backward
    raise ValueError(f"unknown merge mode {mode!r}; expected one of {MERGE_MODES}")


def init_bidirectional(
    key: jax.Array, forward_cell: Cell, backward_cell: Cell, input_dim: int
) -> dict[str, Params]:
    k_f, k_b = jax.random.split(key)
    return {
        "forward": forward_cell.init(k_f, input_dim),
        "backward": backward_cell.init(k_b, input_dim),
    }


def bidirectional(
    forward_cell: Cell,
    backward_cell: Cell,
    params: dict[str, Params],
    inputs: jax.Array,
    *,
    embeddings: jax.Array | None = None,
    lengths: jax.Array | None = None,
    mask: jax.Array | None = None,
    merge_mode: MergeMode = "concat",
    return_sequences: bool = True,
    unroll: int | bool = 1,
    remat: int | None = None,
):
    """Keras's Bidirectional wrapper.

    The backward layer reads the sequence reversed (with the mask, so padding never
    enters its state) and its outputs are flipped back to align with the forward ones.
    Where ``fused_kernel_for`` picks a kernel, both directions run in it, in one scan
    with a hand-written backward pass (same values up to rounding); else as two ``rnn``.

    Args:
      inputs: ``<float>[batch, time, features]``; with ``embeddings``, token ids
        ``<int>[batch, time]``.
      embeddings: optional ``<float>[vocab, features]``: the layer reads
        ``embeddings[inputs]`` (Keras's Embedding before it, the table's gradient included);
        the fused kernel then projects the table's rows instead of every token.
      lengths, mask, return_sequences, unroll: as ``rnn``.
      remat: as ``rnn`` (each direction's scan); it rules the fused kernel out.

    Returns:
      ``(merged_outputs, (forward_carry, backward_carry))``; with ``merge_mode='none'`` the
      outputs are the pair ``(forward, backward)``.
    """
    if not isinstance(merge_mode, str) or merge_mode not in MERGE_MODES:
        raise ValueError(f"unknown merge mode {merge_mode!r}; expected one of {MERGE_MODES}")
    _check_directions(forward_cell, backward_cell, params)
    check_switches(return_sequences=return_sequences)
    unroll, remat = check_unroll(unroll), check_remat(remat)
    embedded = embeddings is not None
    kernel = fused_kernel_for(
        (forward_cell, backward_cell),
        embedded=embedded,
        batch_ndim=jnp.ndim(inputs) - (1 if embedded else 2),
        remat=remat > 0,
    )
    if kernel is not None:
        fused = (kernel, params, inputs, embeddings, lengths, mask, unroll, return_sequences)
        (y_f, y_b), carries = _run_fused(*fused)
        return merge(y_f, y_b, merge_mode), carries
    if embedded:
        inputs = embeddings[inputs]
    common = dict(
        lengths=lengths, mask=mask, return_sequences=return_sequences, unroll=unroll, remat=remat
    )
    y_f, c_f = rnn(forward_cell, params["forward"], inputs, **common)
    y_b, c_b = rnn(backward_cell, params["backward"], inputs, reverse=True, **common)
    if return_sequences:
        y_b = jnp.flip(y_b, axis=-2)
    return merge(y_f, y_b, merge_mode), (c_f, c_b)


def _run_fused(kernel, params, inputs, embeddings, lengths, mask, unroll, return_sequences):
    """``bidirectional`` on its fused ``kernel``: the inputs and mask checked (token ids
    with ``embeddings``), then ``((y_f, y_b), (carry_f, carry_b))``, the outputs the
    last valid ones without ``return_sequences``."""
    if embeddings is not None:
        mask = _checked_mask(inputs, jnp.shape(inputs), lengths, mask)
    else:
        inputs, mask = _checked_inputs(inputs, lengths, mask)
    (y_f, y_b), (c_f, c_b) = kernel(params, inputs, mask, unroll, embeddings)
    if not return_sequences:  # the last valid output is the carried h
        y_f, y_b = c_f[0], c_b[0]
    return (y_f, y_b), (c_f, c_b)


def _check_directions(forward_cell: Cell, backward_cell: Cell, params) -> None:
    """Bidirectional params: exactly ``{"forward": ..., "backward": ...}``, each its
    cell's (``check_params``), before either kernel runs."""
    if not isinstance(params, Mapping) or set(params) != {"forward", "backward"}:
        got = sorted(params) if isinstance(params, Mapping) else type(params).__name__
        raise ValueError(
            f"bidirectional params have {got}; expected exactly the directions "
            f"['forward', 'backward'] (init_bidirectional's)"
        )
    check_params(forward_cell, params["forward"], "bidirectional forward")
    check_params(backward_cell, params["backward"], "bidirectional backward")


def stacked_rnn(
    cells: list[Cell],
    params: list[Params],
    inputs: jax.Array,
    *,
    lengths: jax.Array | None = None,
    return_sequences: bool = True,
    unroll: int | bool = 1,
    dropout: float | Sequence[float] = 0.0,
    recurrent_dropout: float | Sequence[float] = 0.0,
    train: bool = False,
    key: jax.Array | None = None,
    remat: int | None = None,
) -> tuple[jax.Array, list[Carry]]:
    """Stacked layers; every layer but the last returns sequences.

    ``dropout`` / ``recurrent_dropout``: one rate for every layer (as document 002's
    stacked GRU) or one per layer. Layer ``i`` draws its masks from
    ``jax.random.split(key, len(cells))[i]`` (see ``rnn``). ``remat``: every layer's
    (``rnn``).
    """
    check_switches(return_sequences=return_sequences, train=train)
    remat = check_remat(remat)
    n = len(cells)
    if not isinstance(params, Sequence) or len(params) != n:
        got = len(params) if isinstance(params, Sequence) else type(params).__name__
        raise ValueError(
            f"stacked_rnn got {n} cells and {got} parameter sets; expected one per cell"
        )
    for i, (cell, p) in enumerate(zip(cells, params, strict=True)):
        check_params(cell, p, f"stacked_rnn layer {i}")
    dropouts = _per_layer("dropout", dropout, n)
    recurrent_dropouts = _per_layer("recurrent_dropout", recurrent_dropout, n)
    keys: list[jax.Array | None] = [None] * n
    if train and max(dropouts + recurrent_dropouts) > 0.0:
        require_key(key, dropout=max(dropouts), recurrent_dropout=max(recurrent_dropouts))
        keys = list(jax.random.split(key, n))
    carries = []
    x = inputs
    for i, (cell, p) in enumerate(zip(cells, params, strict=True)):
        last = i == n - 1
        x, carry = rnn(
            cell,
            p,
            x,
            lengths=lengths,
            return_sequences=return_sequences or not last,
            unroll=unroll,
            dropout=dropouts[i],
            recurrent_dropout=recurrent_dropouts[i],
            train=train,
            key=keys[i],
            remat=remat,
        )
        carries.append(carry)
    return x, carries


def _per_layer(name: str, rate: float | Sequence[float], n: int) -> list[float]:
    """A rate for each of ``n`` layers, validated."""
    if isinstance(rate, Sequence) and not isinstance(rate, str):
        if len(rate) != n:
            raise ValueError(f"{name} has {len(rate)} rates for {n} layers: {list(rate)!r}")
        return [check_rate(name, r) for r in rate]
    return [check_rate(name, rate)] * n
