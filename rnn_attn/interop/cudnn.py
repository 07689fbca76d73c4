"""Our Keras-layout LSTM through ``jax.experimental.rnn``'s cuDNN LSTM.

``jax.experimental.rnn.lstm`` runs cuDNN's LSTM (CUDA GPUs only) on one flat weight
vector. ``to_cudnn`` packs our ``LSTMCell`` params into it and ``from_cudnn`` unpacks it:

* gates: Keras's ``i, f, c, o`` is cuDNN's ``i, f, g, o`` (PyTorch's order): no reorder;
* matrices transposed: ``W_ih = kernel.T [4u, input]``, ``W_hh = recurrent_kernel.T
  [4u, u]``;
* two biases per gate, added: ``b_ih`` is Keras's ``bias`` and ``b_hh`` zeros
  (``from_cudnn`` gives their sum, so any cuDNN vector maps to the same outputs);
* layout (``param_shapes``): every pseudo-layer's ``W_ih`` then ``W_hh``, then every
  pseudo-layer's ``b_ih`` then ``b_hh``; a bidirectional layer ``l`` is the pseudo-layers
  ``2l`` (forward) and ``2l + 1`` (reverse), as jax's ``unpack_lstm_weights`` reads them.

``layers``: one entry per stacked layer, our params ``{"kernel" [in, 4u],
"recurrent_kernel" [u, 4u], "bias" [4u]}``, or with ``bidirectional``
``{"forward": params, "backward": params}`` (``recurrent.init_bidirectional``'s); layer
``l > 0`` reads the previous layer's outputs (``[D*u]``, the directions concatenated).
``to_cudnn`` is jnp code, so gradients flow from cuDNN's weight vector back to them.

``cudnn_lstm`` runs them: ``implementation="cudnn"`` is ``jax.experimental.rnn.lstm``
(a CUDA GPU); ``"reference"`` is jax's ``lstm_ref``, pure JAX on the same packed
weights and lengths (any device: the CPU tests check the mapping through it); ``"auto"``
takes cuDNN on a CUDA GPU and the reference elsewhere (ROCm's MIOpen orders the gates
otherwise, ``jax.experimental.rnn.swap_lstm_gates``: not covered here).

Padding (right-padded ``lengths``, each in ``[1, time]``): the valid steps' outputs and
the final states ``(h_n, c_n)`` (the state after step ``lengths - 1``) are those of our
``rnn(..., lengths=...)`` and ``bidirectional``. Steps past a length are another matter:
ours outputs zeros there; jax's ``lstm_ref`` zeros them too in JAX 0.10.2 (this code's
lock file), which other versions need not do, and cuDNN's are whatever its padded layout
fills in. Compare only the valid steps (``valid_mask``), as ``compare`` does. A length
of 0 is not allowed: ``lstm_ref`` would take the state after the LAST step (index -1).

Everything is float32 (jax's cuDNN LSTM takes nothing else): ``to_cudnn`` casts.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from rnn_attn.nn import cells as fcells

IMPLEMENTATIONS = ("auto", "cudnn", "reference")


def check_cell(cell: fcells.Cell) -> fcells.LSTMCell:
    """``cell`` if cuDNN's LSTM computes it: an ``LSTMCell`` with tanh and sigmoid and no
    layer norm (ValueError naming what differs otherwise)."""
    if not isinstance(cell, fcells.LSTMCell):
        raise ValueError(f"cuDNN's RNN here is an LSTM; got a {type(cell).__name__}")
    odd = [
        f"{name}={getattr(cell, name)!r}"
        for name, plain in (("activation", "tanh"), ("recurrent_activation", "sigmoid"))
        if getattr(cell, name) != plain
    ] + (["layer_norm=True"] if cell.layer_norm else [])
    if odd:
        raise ValueError(
            f"cuDNN's LSTM computes tanh/sigmoid gates without layer norm; the cell has "
            f"{', '.join(odd)}"
        )
    return cell


def directions(bidirectional: bool) -> int:
    return 2 if bidirectional else 1


def param_shapes(
    input_size: int, units: int, num_layers: int = 1, bidirectional: bool = False
) -> list[tuple[str, int, tuple[int, int] | tuple[int]]]:
    """``(name, pseudo-layer, shape)`` of each block of the flat vector, in its order
    (``W_ih [4u, in]``, ``W_hh [4u, u]``, ``b_ih [4u]``, ``b_hh [4u]``)."""
    d = directions(bidirectional)
    pseudo = range(num_layers * d)

    def width(p: int) -> int:
        return input_size if p < d else d * units

    matrices = [
        (name, p, (4 * units, width(p) if name == "W_ih" else units))
        for p in pseudo
        for name in ("W_ih", "W_hh")
    ]
    return matrices + [(name, p, (4 * units,)) for p in pseudo for name in ("b_ih", "b_hh")]


def num_params(input_size: int, units: int, num_layers: int = 1, bidirectional=False) -> int:
    """The flat vector's length (jax's ``get_num_params_in_lstm``)."""
    shapes = param_shapes(input_size, units, num_layers, bidirectional)
    return sum(int(np.prod(shape)) for _, _, shape in shapes)


def _as_layers(layers, bidirectional: bool) -> list:
    """``layers`` as a list of per-layer entries (a single entry given alone: a list of it)."""
    single = isinstance(layers, Mapping) and ({"kernel"} <= set(layers) or "forward" in layers)
    layers = [layers] if single else list(layers)
    if not layers:
        raise ValueError("no layers; expected one params entry per stacked layer")
    for i, layer in enumerate(layers):
        want = {"forward", "backward"} if bidirectional else {"kernel", "recurrent_kernel", "bias"}
        if not isinstance(layer, Mapping) or set(layer) != want:
            got = sorted(layer) if isinstance(layer, Mapping) else type(layer).__name__
            raise ValueError(f"layer {i} has {got}; expected exactly {sorted(want)}")
    return layers


def _pseudo_layers(cell, layers, bidirectional: bool) -> list[Mapping]:
    """Each pseudo-layer's params, checked against the cell and its input width."""
    out = []
    for i, layer in enumerate(_as_layers(layers, bidirectional)):
        for name, params in (
            (("forward", layer["forward"]), ("backward", layer["backward"]))
            if bidirectional
            else ((None, layer),)
        ):
            where = f"cuDNN layer {i}" + (f" {name}" if name else "")
            width = None if i == 0 else directions(bidirectional) * cell.units
            cell.check_params(params, width, where=where)
            out.append(params)
    return out


def to_cudnn(cell: fcells.Cell, layers, *, bidirectional: bool = False) -> jax.Array:
    """``<float32>[num_params]``: our params (module docstring) as cuDNN's weight vector.

    ``cell``: the ``LSTMCell`` of every layer (``check_cell``); ``layers``: one params
    entry per stacked layer, or one entry alone."""
    check_cell(cell)
    pseudo = _pseudo_layers(cell, layers, bidirectional)
    blocks = {}
    for p, params in enumerate(pseudo):
        blocks["W_ih", p] = jnp.asarray(params["kernel"], jnp.float32).T
        blocks["W_hh", p] = jnp.asarray(params["recurrent_kernel"], jnp.float32).T
        blocks["b_ih", p] = jnp.asarray(params["bias"], jnp.float32)
        blocks["b_hh", p] = jnp.zeros_like(blocks["b_ih", p])
    input_size = jnp.shape(pseudo[0]["kernel"])[0]
    num_layers = len(pseudo) // directions(bidirectional)
    order = param_shapes(input_size, cell.units, num_layers, bidirectional)
    return jnp.concatenate([blocks[name, p].reshape(-1) for name, p, _ in order])


def unpack(
    weights: jax.Array, input_size: int, units: int, num_layers: int = 1, bidirectional=False
) -> dict[tuple[str, int], jax.Array]:
    """``{(name, pseudo-layer): block}`` of cuDNN's weight vector (``param_shapes``)."""
    weights = jnp.asarray(weights)
    shapes = param_shapes(input_size, units, num_layers, bidirectional)
    expected = sum(int(np.prod(shape)) for _, _, shape in shapes)
    if weights.shape != (expected,):
        raise ValueError(
            f"cuDNN weights have shape {weights.shape}; expected ({expected},) for input "
            f"{input_size}, {units} units, {num_layers} layer(s), "
            f"{'bi' if bidirectional else 'uni'}directional"
        )
    out, offset = {}, 0
    for name, p, shape in shapes:
        size = int(np.prod(shape))
        out[name, p] = weights[offset : offset + size].reshape(shape)
        offset += size
    return out


def from_cudnn(
    cell: fcells.Cell,
    weights: jax.Array,
    input_size: int,
    *,
    num_layers: int = 1,
    bidirectional: bool = False,
) -> list[dict]:
    """Our params of every layer (``to_cudnn``'s ``layers``) from cuDNN's weight vector;
    each gate's two biases become one (their sum)."""
    check_cell(cell)
    blocks = unpack(weights, input_size, cell.units, num_layers, bidirectional)

    def ours(p: int) -> dict[str, jax.Array]:
        return {
            "kernel": blocks["W_ih", p].T,
            "recurrent_kernel": blocks["W_hh", p].T,
            "bias": blocks["b_ih", p] + blocks["b_hh", p],
        }

    if not bidirectional:
        return [ours(layer) for layer in range(num_layers)]
    return [{"forward": ours(2 * l), "backward": ours(2 * l + 1)} for l in range(num_layers)]


def valid_mask(lengths: jax.Array, time: int) -> jax.Array:
    """``<bool>[batch, time]``: the steps ``t < lengths[b]`` (those to compare)."""
    return jnp.arange(time)[None, :] < jnp.asarray(lengths)[:, None]


def on_cuda() -> bool:
    """Whether JAX's default device is a CUDA GPU (cuDNN's LSTM runs there; a ROCm GPU,
    whose client names ROCm, is not one)."""
    try:
        device = jax.devices()[0]
    except RuntimeError:
        return False
    if device.platform not in ("gpu", "cuda"):
        return False
    client = getattr(device, "client", None)
    names = " ".join(str(getattr(client, a, "")) for a in ("platform", "platform_version"))
    return "rocm" not in names.lower() and "hip" not in names.lower()


def _checked_lengths(lengths, batch: int, time: int) -> jax.Array:
    """``<int32>[batch]`` lengths, each in ``[1, time]`` when known now (not traced)."""
    if lengths is None:
        return jnp.full((batch,), time, jnp.int32)
    if jnp.shape(lengths) != (batch,):
        raise ValueError(f"lengths have shape {jnp.shape(lengths)}; expected ({batch},)")
    if not isinstance(lengths, jax.core.Tracer):
        values = np.asarray(lengths)
        if ((values < 1) | (values > time)).any():
            raise ValueError(f"cuDNN lengths must lie in [1, {time}], got {values.tolist()[:8]}")
    return jnp.asarray(lengths, jnp.int32)


def _implementation(choice: str) -> str:
    if not isinstance(choice, str) or choice not in IMPLEMENTATIONS:
        raise ValueError(f"unknown implementation {choice!r}; expected one of {IMPLEMENTATIONS}")
    if choice == "auto":
        return "cudnn" if on_cuda() else "reference"
    return choice


def _experimental_rnn():
    """``jax.experimental.rnn``, or ImportError naming the JAX that lacks it."""
    try:
        from jax.experimental import rnn
    except ImportError as e:
        raise ImportError(f"JAX {jax.__version__} has no jax.experimental.rnn ({e})") from e
    return rnn


def takes_precision() -> bool:
    """Whether this JAX's ``jax.experimental.rnn.lstm`` takes ``precision`` (without it
    cuDNN may use TF32 for float32 matmuls)."""
    import inspect

    return "precision" in inspect.signature(_experimental_rnn().lstm).parameters


def cudnn_lstm(
    cell: fcells.Cell,
    layers,
    inputs: jax.Array,
    lengths: jax.Array | None = None,
    *,
    bidirectional: bool = False,
    initial_carry: tuple[jax.Array, jax.Array] | None = None,
    implementation: str = "auto",
    precision=None,
) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    """Our stacked (bi)LSTM run by ``jax.experimental.rnn`` on ``to_cudnn``'s weights.

    Args:
      cell, layers, bidirectional: as ``to_cudnn``.
      inputs: ``<float32>[batch, time, features]``, right-padded.
      lengths: ``<int>[batch]``, each in ``[1, time]``; None: every step is valid.
      initial_carry: ``(h_0, c_0)``, each ``[layers * D, batch, units]`` (cuDNN's
        layout, ``D`` = 2 when bidirectional); None: zeros.
      implementation: ``"cudnn"``, ``"reference"`` (``lstm_ref``) or ``"auto"`` (module
        docstring).
      precision: cuDNN's matmul precision (``jax.lax.Precision.HIGHEST``: no TF32); only
        passed on when given (TypeError where this JAX's ``lstm`` has no such argument:
        ``takes_precision``).

    Returns:
      ``(outputs [batch, time, D * units], (h_n, c_n))``, ``h_n``/``c_n`` ``[layers * D,
      batch, units]``: layer ``l``'s forward state at ``2l``, its backward one at ``2l +
      1``. Outputs past a length are not defined (module docstring: ``valid_mask``).
    """
    rnn = _experimental_rnn()
    weights = to_cudnn(cell, layers, bidirectional=bidirectional)
    inputs = jnp.asarray(inputs, jnp.float32)
    batch, time, features = inputs.shape
    lengths = _checked_lengths(lengths, batch, time)
    num_layers = len(_as_layers(layers, bidirectional))
    if initial_carry is None:
        zeros = jnp.zeros((num_layers * directions(bidirectional), batch, cell.units), jnp.float32)
        initial_carry = (zeros, zeros)
    h_0, c_0 = initial_carry
    shape = dict(input_size=features, hidden_size=cell.units, num_layers=num_layers)
    args = (inputs, h_0, c_0, weights, lengths, bidirectional, shape)
    if _implementation(implementation) == "reference":
        y, h_n, c_n = _run_reference(rnn, *args)
    else:
        y, h_n, c_n = _run_cudnn(rnn, *args, precision)
    return y, (h_n, c_n)


def _run_reference(rnn, inputs, h_0, c_0, weights, lengths, bidirectional, shape):
    """jax's ``lstm_ref`` on the unpacked vector: ``(y, h_n, c_n)``."""
    blocks = rnn.unpack_lstm_weights(weights, bidirectional=bidirectional, **shape)
    return rnn.lstm_ref(
        inputs, h_0, c_0, *blocks, lengths, dropout=0.0, bidirectional=bidirectional, **shape
    )


def _run_cudnn(rnn, inputs, h_0, c_0, weights, lengths, bidirectional, shape, precision):
    """``jax.experimental.rnn.lstm`` (cuDNN): ``(y, h_n, c_n)``."""
    extra = {}
    if precision is not None:
        if not takes_precision():
            raise TypeError(f"JAX {jax.__version__}'s jax.experimental.rnn.lstm takes no precision")
        extra["precision"] = precision
    return rnn.lstm(
        inputs,
        h_0,
        c_0,
        weights,
        lengths,
        dropout=0.0,
        bidirectional=bidirectional,
        **shape,
        **extra,
    )


def ours_lstm(
    cell: fcells.Cell,
    layers,
    inputs: jax.Array,
    lengths: jax.Array | None = None,
    *,
    bidirectional: bool = False,
) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    """The same stacked (bi)LSTM by our scan (``recurrent.rnn`` / ``bidirectional``,
    outputs concatenated), in ``cudnn_lstm``'s layout: ``(outputs [batch, time, D *
    units], (h_n, c_n) [layers * D, batch, units])``; zeros past a length."""
    from rnn_attn.nn import recurrent

    x, hs, cs = inputs, [], []
    for layer in _as_layers(layers, bidirectional):
        if bidirectional:
            x, carries = recurrent.bidirectional(cell, cell, layer, x, lengths=lengths)
        else:
            x, carry = recurrent.rnn(cell, layer, x, lengths=lengths)
            carries = (carry,)
        hs += [carry[0] for carry in carries]
        cs += [carry[1] for carry in carries]
    return x, (jnp.stack(hs), jnp.stack(cs))


def max_relative_difference(a, b) -> float:
    """``max |a - b| / max |b|`` (``b`` the reference; 0 when both are all zeros)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = np.abs(b).max(initial=0.0)
    diff = np.abs(a - b).max(initial=0.0)
    return float(diff / scale) if scale > 0 else float(diff)


def _loss_and_grads(run, cell, layers, inputs, lengths, cotangents):
    """``((outputs, h_n, c_n), (d inputs, d layers))`` of ``run``, the loss the valid
    outputs and both final states dotted with fixed ``cotangents``."""
    mask = valid_mask(lengths, inputs.shape[1])[..., None]

    def loss(x, params):
        y, (h, c) = run(cell, params, x, lengths)
        y = jnp.where(mask, y, 0.0)
        value = (y * cotangents[0]).sum() + (h * cotangents[1]).sum() + (c * cotangents[2]).sum()
        return value, (y, h, c)

    grad = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))
    (_, values), grads = grad(inputs, layers)
    return values, grads


def compare(
    cell: fcells.Cell,
    layers,
    inputs: jax.Array,
    lengths: jax.Array,
    *,
    bidirectional: bool = False,
    implementation: str = "auto",
    precision=None,
    key: jax.Array | None = None,
) -> dict[str, float]:
    """Max relative differences (``max_relative_difference``) of ``cudnn_lstm`` against
    ``ours_lstm``: ``outputs`` (valid steps), ``h_n``, ``c_n``, and the gradients of a
    loss (valid outputs and final states dotted with random cotangents drawn from ``key``)
    w.r.t. the inputs (``grad_inputs``, valid steps) and our params through ``to_cudnn``
    (``grad_params``, the largest over the weights)."""
    lengths = _checked_lengths(lengths, inputs.shape[0], inputs.shape[1])
    d = directions(bidirectional)
    n = len(_as_layers(layers, bidirectional)) * d
    k = jax.random.split(jax.random.key(0) if key is None else key, 3)
    shapes = (inputs.shape[:2] + (d * cell.units,), (n, inputs.shape[0], cell.units))
    cotangents = [jax.random.normal(k[i], shapes[min(i, 1)]) for i in range(3)]

    def theirs(cell, params, x, lengths):
        return cudnn_lstm(
            cell,
            params,
            x,
            lengths,
            bidirectional=bidirectional,
            implementation=implementation,
            precision=precision,
        )

    def ours(cell, params, x, lengths):
        return ours_lstm(cell, params, x, lengths, bidirectional=bidirectional)

    got = _loss_and_grads(theirs, cell, layers, inputs, lengths, cotangents)
    want = _loss_and_grads(ours, cell, layers, inputs, lengths, cotangents)
    mask = np.asarray(valid_mask(lengths, inputs.shape[1]))[..., None]
    out = {
        name: max_relative_difference(a, b)
        for name, a, b in zip(("outputs", "h_n", "c_n"), got[0], want[0], strict=True)
    }
    out["grad_inputs"] = max_relative_difference(got[1][0] * mask, want[1][0] * mask)
    pairs = zip(jax.tree.leaves(got[1][1]), jax.tree.leaves(want[1][1]), strict=True)
    out["grad_params"] = max(max_relative_difference(a, b) for a, b in pairs)
    return out
