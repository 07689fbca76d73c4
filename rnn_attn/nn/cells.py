"""Recurrent cells (SimpleRNN, LSTM, GRU) as pure functions over parameter pytrees.

Every cell follows Keras's semantics so that numbers carry over from the reference
documents:

* one fused ``kernel`` ``[input_dim, G*units]``, ``recurrent_kernel`` ``[units, G*units]``
  and ``bias``, with Keras's gate order: LSTM ``i, f, c, o``; GRU ``z, r, h``;
* glorot-uniform kernels, orthogonal recurrent kernels, zero biases, LSTM's unit forget
  bias, and GRU with ``reset_after`` either way (``True`` is Keras 2's default);
* GRU's update ``h = z * h_prev + (1 - z) * h_candidate``.

A cell is a frozen dataclass holding only static configuration (hashable, so it can be a
static argument of ``jax.jit``). Its methods are pure:

``init(key, input_dim) -> params``
``initial_carry(batch_shape) -> carry`` (a tuple: ``(h, c)`` for LSTM, ``(h,)`` otherwise)
``project(params, x) -> x_proj``: the input half of the gates, for one step or all at once
    (the generic scan projects each step inside its loop; the fused kernels take every
    step's projection, computed before theirs);
``step(params, carry, x_proj_t, recurrent_mask=None) -> (carry, h)``: one time step.

Recurrent dropout (Gal & Ghahramani; Keras's ``recurrent_dropout``) enters through
``step``'s ``recurrent_mask`` ``<float>[batch, units]`` (already scaled by
``1/(1-rate)``): it multiplies ``h_{t-1}`` only where ``h_{t-1}`` feeds the recurrent
kernel. The carried state itself is never masked: GRU's ``z * h_prev`` and LSTM's ``c``
use the undropped values, as in Keras. The mask is the same at every step of a sequence;
the scan layer (``recurrent.rnn``) draws it once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rnn_attn.checks import argument
from rnn_attn.nn import initializers

Params = dict[str, jax.Array]
Carry = tuple[jax.Array, ...]


def hard_sigmoid(x: jax.Array) -> jax.Array:
    """Keras 2's piecewise-linear sigmoid: clip(0.2 x + 0.5, 0, 1)."""
    return jnp.clip(0.2 * x + 0.5, 0.0, 1.0)


ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "hard_sigmoid": hard_sigmoid,
    "relu": jax.nn.relu,
    "linear": lambda x: x,
}


def activation(name: str) -> Callable[[jax.Array], jax.Array]:
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def _dropped(h: jax.Array, recurrent_mask: jax.Array | None) -> jax.Array:
    """``h`` as the recurrent matmul sees it: times the dropout mask when there is one."""
    return h if recurrent_mask is None else h * recurrent_mask


def _check_options(cell: _Cell, switches: tuple[str, ...], numbers: tuple[str, ...]) -> None:
    """The cell's True/False options and finite-number options, each of its type (a
    string or a number taken for a switch turned it on without a word)."""
    for name in switches:
        argument(name, getattr(cell, name), bool)
    for name in numbers:
        argument(name, getattr(cell, name), float)


def _layer_norm(
    z: jax.Array, n_gates: int, gain: jax.Array, bias: jax.Array, eps: float = 1e-5
) -> jax.Array:
    """Each gate's pre-activation normalized over its units (Ba, Kiros & Hinton 2016), then
    ``* gain + bias``; ``z <float>[..., G*units]``."""
    blocks = z.reshape(*z.shape[:-1], n_gates, -1)
    mean = blocks.mean(-1, keepdims=True)
    var = ((blocks - mean) ** 2).mean(-1, keepdims=True)
    normed = ((blocks - mean) * jax.lax.rsqrt(var + eps)).reshape(z.shape)
    return normed * gain + bias


@dataclasses.dataclass(frozen=True)
class _Cell:
    units: int
    activation: str = "tanh"
    kernel_initializer: str = "glorot_uniform"
    recurrent_initializer: str = "orthogonal"
    # Layer normalization of each gate's pre-activation ``x W + h U`` (a remedy for
    # vanishing/exploding gradients); the bias is added after it. Not part of Keras's cells.
    layer_norm: bool = False

    n_gates = 1
    n_states = 1  # the carry: (h,); LSTM's is (h, c)
    kind = "cell"

    def __post_init__(self):
        argument("units", self.units, int, minimum=1)
        activation(self.activation)
        initializers.get(self.kernel_initializer)
        initializers.get(self.recurrent_initializer)
        _check_options(self, ("layer_norm",), ())

    # -- parameters -------------------------------------------------------------------
    def _init_bias(self) -> jax.Array:
        return jnp.zeros(self._bias_shape(), jnp.float32)

    def _bias_shape(self) -> tuple[int, ...]:
        return (self.n_gates * self.units,)

    def param_shapes(self, input_dim: int) -> dict[str, tuple[int, ...]]:
        """The names and shapes of ``init(key, input_dim)``'s parameters (none is made)."""
        width = self.n_gates * self.units
        shapes = {
            "kernel": (input_dim, width),
            "recurrent_kernel": (self.units, width),
            "bias": self._bias_shape(),
        }
        if self.layer_norm:
            shapes["ln_gain"] = (width,)
        return shapes

    def check_params(self, params: Params, input_dim: int | None = None, *, where: str) -> None:
        """Refuses params that are not exactly this cell's (``param_shapes``): TypeError
        for what is not a dict; one ValueError naming every weight missing or unknown (a
        KeyError from inside a step otherwise), or the first of another shape and the
        shape expected (an array broadcast into a weight otherwise: a ``reset_after=False``
        GRU bias ``[3u]`` in a ``reset_after=True`` cell). ``input_dim``: the width of the
        inputs; None takes the kernel's. ``where`` starts the message. Shapes are static,
        so this holds under ``jit`` too (``recurrent.rnn`` and the nnx cells' ``load``)."""
        if not isinstance(params, Mapping):
            raise TypeError(f"{where} takes a dict of weights, got {type(params).__name__}")
        if input_dim is None:
            kernel = np.shape(params.get("kernel", ()))
            input_dim = kernel[0] if len(kernel) == 2 else "input_dim"
        expected = self.param_shapes(input_dim)
        missing = [name for name in expected if name not in params]
        unknown = [name for name in params if name not in expected]
        if missing or unknown:
            wrong = [f"no weight {n!r}" for n in missing] + [
                f"unknown weight {n!r}" for n in unknown
            ]
            raise ValueError(
                f"{where}: {', '.join(wrong)}; expected exactly the weights {list(expected)}"
            )
        for name, shape in expected.items():
            got = tuple(np.shape(params[name]))
            if got != shape:
                raise ValueError(f"{where}: {name} has shape {got}; expected {shape} (this cell's)")

    def init(self, key: jax.Array, input_dim: int) -> Params:
        """Keras-initialized parameters for inputs of width ``input_dim`` (plus a
        ``ln_gain`` of ones with ``layer_norm``)."""
        input_dim = argument("input_dim", input_dim, int, minimum=1)
        k_in, k_rec = jax.random.split(key)
        width = self.n_gates * self.units
        params = {
            "kernel": initializers.get(self.kernel_initializer)(k_in, (input_dim, width)),
            "recurrent_kernel": initializers.get(self.recurrent_initializer)(
                k_rec, (self.units, width)
            ),
            "bias": self._init_bias(),
        }
        if self.layer_norm:
            params["ln_gain"] = jnp.ones((width,), jnp.float32)
        return params

    def _pre_activation(self, params: Params, x_proj: jax.Array, h_rec: jax.Array) -> jax.Array:
        """``x W (+ b) + h U``, layer-normalized (then ``+ b``) with ``layer_norm``."""
        z = x_proj + h_rec @ params["recurrent_kernel"]
        if self.layer_norm:
            z = _layer_norm(z, self.n_gates, params["ln_gain"], params["bias"])
        return z

    def initial_carry(self, batch_shape: tuple[int, ...], dtype=jnp.float32) -> Carry:
        return (jnp.zeros((*batch_shape, self.units), dtype),)

    def check_inputs(self, params: Params, x: jax.Array) -> None:
        """A ValueError naming both widths when ``x``'s last axis is not the input width
        the parameters were initialized for."""
        width, expected = jnp.shape(x)[-1:], jnp.shape(params["kernel"])[:1]
        if width != expected:
            raise ValueError(
                f"{type(self).__name__} got inputs of shape {tuple(jnp.shape(x))}; expected "
                f"<float>[..., {expected[0]}] (the input_dim its parameters were "
                f"initialized with)"
            )

    def check_carry(self, carry: Carry, batch_shape: tuple[int, ...]) -> None:
        """A ValueError naming the shapes when ``carry`` is not this cell's state for
        ``batch_shape`` (``(h,)`` or ``(h, c)``, each ``[*batch_shape, units]``)."""
        expected = [(*batch_shape, self.units)] * self.n_states
        got = (
            [tuple(jnp.shape(c)) for c in carry]
            if isinstance(carry, tuple | list)
            else [tuple(jnp.shape(carry))]
        )
        if got != expected:
            raise ValueError(
                f"{type(self).__name__} carry has shapes {got}; expected {expected} (batch, units)"
            )

    def project(self, params: Params, x: jax.Array) -> jax.Array:
        """Input contribution to every gate: ``x @ kernel + bias``, ``[..., G*units]``
        (without the bias under ``layer_norm``, which adds it after normalizing)."""
        self.check_inputs(params, x)
        if self.layer_norm:
            return x @ params["kernel"]
        return x @ params["kernel"] + params["bias"]

    def step(
        self,
        params: Params,
        carry: Carry,
        x_proj: jax.Array,
        recurrent_mask: jax.Array | None = None,
    ) -> tuple[Carry, jax.Array]:
        """One time step.

        Args:
          carry: the previous state (``(h,)`` or ``(h, c)``), each ``<float>[batch, units]``.
          x_proj: ``<float>[batch, G*units]``, this step's slice of ``project``.
          recurrent_mask: optional ``<float>[batch, units]`` multiplying ``h_{t-1}`` where
            it enters the recurrent matmul (recurrent dropout); None = no dropout.

        Returns:
          ``(new_carry, h_t <float>[batch, units])``.
        """
        raise NotImplementedError

    def __call__(
        self,
        params: Params,
        carry: Carry,
        x: jax.Array,
        recurrent_mask: jax.Array | None = None,
    ) -> tuple[Carry, jax.Array]:
        """One step on raw inputs ``x`` ``[batch, input_dim]`` (projects, then steps)."""
        self.check_carry(carry, tuple(jnp.shape(x)[:-1]))
        return self.step(params, carry, self.project(params, x), recurrent_mask)


@dataclasses.dataclass(frozen=True)
class SimpleRNNCell(_Cell):
    """``h_t = act(x_t W + h_{t-1} U + b)``; with ``residual``, a skip connection across
    time: ``h_t = h_{t-1} + act(...)`` (the identity path carries gradients back)."""

    residual: bool = False

    kind = "simple_rnn"

    def __post_init__(self):
        super().__post_init__()
        _check_options(self, ("residual",), ())

    def step(self, params, carry, x_proj, recurrent_mask=None):
        (h_prev,) = carry
        h = activation(self.activation)(
            self._pre_activation(params, x_proj, _dropped(h_prev, recurrent_mask))
        )
        if self.residual:
            h = h_prev + h
        return (h,), h


@dataclasses.dataclass(frozen=True)
class LSTMCell(_Cell):
    """Keras LSTM: gates ``i, f, c, o``; ``c_t = f c + i act(z_c)``, ``h_t = o act(c_t)``."""

    recurrent_activation: str = "sigmoid"
    unit_forget_bias: bool = True
    # The forget gate's initial bias under unit_forget_bias (Keras: 1). Larger values keep
    # the cell state, and its gradient, over longer spans from the start (Gers et al. 2000;
    # Jozefowicz et al. 2015): a remedy for vanishing gradients over long lags.
    forget_bias: float = 1.0

    n_gates = 4
    n_states = 2
    kind = "lstm"

    def __post_init__(self):
        super().__post_init__()
        activation(self.recurrent_activation)
        _check_options(self, ("unit_forget_bias",), ("forget_bias",))

    def _init_bias(self):
        bias = jnp.zeros((4 * self.units,), jnp.float32)
        if self.unit_forget_bias:
            bias = bias.at[self.units : 2 * self.units].set(self.forget_bias)
        return bias

    def initial_carry(self, batch_shape, dtype=jnp.float32):
        zeros = jnp.zeros((*batch_shape, self.units), dtype)
        return (zeros, zeros)

    def step(self, params, carry, x_proj, recurrent_mask=None):
        h, c = carry
        # Only the h feeding the gates is dropped; c (the carry) never is.
        z = self._pre_activation(params, x_proj, _dropped(h, recurrent_mask))
        zi, zf, zc, zo = jnp.split(z, 4, axis=-1)
        sig = activation(self.recurrent_activation)
        act = activation(self.activation)
        i, f, g, o = sig(zi), sig(zf), act(zc), sig(zo)
        c = f * c + i * g
        h = o * activation(self.activation)(c)
        return (h, c), h


@dataclasses.dataclass(frozen=True)
class GRUCell(_Cell):
    """Keras GRU, gates ``z, r, h``.

    ``reset_after=True`` (Keras 2 / CuDNN): ``hh = act(x W_h + b_h + r * (h U_h + b'_h))``
    with a second, recurrent bias (``bias`` is ``[2, 3*units]``).
    ``reset_after=False`` (the original GRU): ``hh = act(x W_h + (r * h) U_h + b_h)``.
    """

    recurrent_activation: str = "sigmoid"
    reset_after: bool = True
    # The update gate's initial bias (Keras: 0, so z = 0.5 at init). ``z`` is the share of
    # the old state kept (``h = z h + (1 - z) hh``), so a large bias keeps the state, and
    # its gradient, over long spans from the start: the GRU's analogue of the LSTM's
    # forget-gate bias (the timescale is about 1 / (1 - sigmoid(bias)) steps).
    update_bias: float = 0.0

    n_gates = 3
    kind = "gru"

    def __post_init__(self):
        super().__post_init__()
        activation(self.recurrent_activation)
        _check_options(self, ("reset_after",), ("update_bias",))
        if self.layer_norm:
            raise ValueError("layer_norm is implemented for SimpleRNN and LSTM cells, not GRU")

    def _bias_shape(self):
        width = 3 * self.units
        return (2, width) if self.reset_after else (width,)

    def _init_bias(self):
        # Gates are ordered z, r, h.
        bias = jnp.zeros((3 * self.units,), jnp.float32).at[: self.units].set(self.update_bias)
        if self.reset_after:  # the input bias row, then the recurrent one (zeros)
            return jnp.stack([bias, jnp.zeros_like(bias)])
        return bias

    def project(self, params, x):
        self.check_inputs(params, x)
        bias = params["bias"][0] if self.reset_after else params["bias"]
        return x @ params["kernel"] + bias

    def step(self, params, carry, x_proj, recurrent_mask=None):
        (h,) = carry
        # The dropped h feeds the recurrent matmuls; the update below keeps the undropped
        # h_prev (Keras: ``h = z * h_tm1 + (1 - z) * hh``).
        h_rec = _dropped(h, recurrent_mask)
        u = self.units
        sig = activation(self.recurrent_activation)
        act = activation(self.activation)
        xz, xr, xh = jnp.split(x_proj, 3, axis=-1)
        rec = params["recurrent_kernel"]
        if self.reset_after:
            hu = h_rec @ rec + params["bias"][1]
            hz, hr, hh = jnp.split(hu, 3, axis=-1)
            z = sig(xz + hz)
            r = sig(xr + hr)
            candidate = act(xh + r * hh)
        else:
            hzr = h_rec @ rec[:, : 2 * u]
            z = sig(xz + hzr[..., :u])
            r = sig(xr + hzr[..., u:])
            candidate = act(xh + (r * h_rec) @ rec[:, 2 * u :])
        h = z * h + (1.0 - z) * candidate
        return (h,), h


CELLS: dict[str, type[_Cell]] = {
    "simple_rnn": SimpleRNNCell,
    "lstm": LSTMCell,
    "gru": GRUCell,
}

Cell = _Cell


def make_cell(kind: str, units: int, **options: Any) -> _Cell:
    """Builds a cell by name (``simple_rnn``, ``lstm`` or ``gru``)."""
    if not isinstance(kind, str) or kind not in CELLS:
        raise ValueError(f"unknown cell kind {kind!r}; expected one of {sorted(CELLS)}")
    return CELLS[kind](units=units, **options)
