"""Temperature forecasters of reference document 002 (after Chollet, "Deep Learning with R"
6.3): a window of past weather in, one normalized temperature ``delay`` steps ahead out.

Every forecaster follows one interface (the engine, ``rnn_attn.train``, relies on it):

    init(key) -> params
    apply(params, inputs <float32>[batch, steps, features], *, train=False, key=None)
        -> <float32>[batch], the forecast of the NORMALIZED target
    regularization(params) -> <float32>[] (0: the lecture uses no weight penalty)

The lecture's models (``FORECASTERS``, built by ``make_forecaster``):

* ``dense``: Flatten -> Dense(32, relu) -> Dense(1);
* ``gru``: GRU(32) -> Dense(1);
* ``gru_dropout``: GRU(32, dropout 0.2, recurrent_dropout 0.2) -> Dense(1);
* ``gru_stacked``: GRU(32, dropout 0.1, recurrent_dropout 0.5, return_sequences) ->
  GRU(64, relu, dropout 0.1, recurrent_dropout 0.5) -> Dense(1);
* ``gru_bidirectional``: Bidirectional(GRU(32), concat) -> Dense(1).

GRUs are Keras 2 / TF2 GRUs (``reset_after=True``, two bias rows); the R lecture's Keras
(2.0/2.1, 2017) used the original ``reset_after=False`` GRU, available as an override
(``make_forecaster("gru", ..., reset_after=False)``). Parameter counts for ``f`` input
features and ``u`` units: ``3 (f u + u u + 2 u)`` with ``reset_after=True``, ``3 (f u + u
u + u)`` without (GRU(32) on Jena's 14 features: 4,608 vs 4,512).

The recurrent forecasters take ``remat`` (0: off), the chunk length of a rematerialised
scan (``recurrent.rnn``): less memory for long windows, one more forward pass.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from rnn_attn import memory
from rnn_attn.checks import argument
from rnn_attn.nn import layers
from rnn_attn.nn.cells import GRUCell, activation
from rnn_attn.nn.recurrent import check_rate, check_remat, check_switches, rnn, stacked_rnn

Params = dict[str, Any]


def _check_size(name: str, value: Any) -> int:
    """``value`` if it is an integer >= 1, else one ValueError naming it."""
    return argument(name, value, int, minimum=1)


def _check_inputs(inputs: jax.Array, features: int, steps: int | None = None) -> None:
    """Raises unless ``inputs`` is ``[batch, steps, features]`` (any steps if None)."""
    shape = tuple(inputs.shape)
    if len(shape) != 3 or shape[-1] != features or (steps is not None and shape[1] != steps):
        want = f"[batch, {steps if steps is not None else 'steps'}, {features}]"
        raise ValueError(f"forecaster inputs must be {want}, got shape {shape}")


def _zero_penalty(params: Params) -> jax.Array:
    return jnp.zeros((), jnp.float32)


def _head(params: Params, h: jax.Array) -> jax.Array:
    """Dense(1) without activation: ``h <float>[batch, d]`` -> ``<float>[batch]``."""
    return layers.dense(params["output"], h)[..., 0]


# -- a densely connected baseline ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DenseForecaster:
    """Flatten -> Dense(hidden, relu) -> Dense(1): sees the whole window at once, with no
    notion of time order (the lecture's first machine-learning model)."""

    features: int
    lookback_steps: int
    hidden: int = 32

    def __post_init__(self):
        for name in ("features", "lookback_steps", "hidden"):
            _check_size(name, getattr(self, name))

    regularization = staticmethod(_zero_penalty)

    @memory.checked_init
    def init(self, key: jax.Array) -> Params:
        k_hidden, k_out = jax.random.split(key)
        return {
            "hidden": layers.init_dense(k_hidden, self.lookback_steps * self.features, self.hidden),
            "output": layers.init_dense(k_out, self.hidden, 1),
        }

    def apply(
        self,
        params: Params,
        inputs: jax.Array,
        *,
        train: bool = False,
        key: jax.Array | None = None,
    ) -> jax.Array:
        """``inputs <float32>[batch, lookback_steps, features]`` -> ``<float32>[batch]``
        (``train``/``key`` unused: no dropout)."""
        check_switches(train=train)
        _check_inputs(inputs, self.features, self.lookback_steps)
        flat = inputs.reshape(inputs.shape[0], -1)  # Keras Flatten: time-major, then features
        h = jax.nn.relu(layers.dense(params["hidden"], flat))
        return _head(params, h)


# -- recurrent forecasters -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GRUForecaster:
    """GRU(units, dropout, recurrent_dropout) -> Dense(1) on the last hidden state.

    Dropout as Keras (and Gal & Ghahramani): one input mask and one recurrent mask per
    sequence, reused at every step, only with ``train=True``. ``HYPERPARAMETERS``: the
    fields a sweep may give as arrays (``recurrent.is_array``).
    """

    HYPERPARAMETERS: ClassVar[tuple[str, ...]] = ("dropout", "recurrent_dropout")
    features: int
    units: int = 32
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    activation: str = "tanh"
    reset_after: bool = True
    remat: int = 0

    def __post_init__(self):
        _check_size("features", self.features)
        _check_size("units", self.units)
        check_rate("dropout", self.dropout)
        check_rate("recurrent_dropout", self.recurrent_dropout)
        activation(self.activation)
        check_switches(reset_after=self.reset_after)
        check_remat(self.remat)

    regularization = staticmethod(_zero_penalty)

    @property
    def cell(self) -> GRUCell:
        return GRUCell(self.units, activation=self.activation, reset_after=self.reset_after)

    @memory.checked_init
    def init(self, key: jax.Array) -> Params:
        k_gru, k_out = jax.random.split(key)
        return {
            "gru": self.cell.init(k_gru, self.features),
            "output": layers.init_dense(k_out, self.units, 1),
        }

    def apply(
        self,
        params: Params,
        inputs: jax.Array,
        *,
        train: bool = False,
        key: jax.Array | None = None,
    ) -> jax.Array:
        """``inputs <float32>[batch, steps, features]`` -> ``<float32>[batch]``; ``key``
        is needed when ``train`` and a dropout rate is > 0."""
        _check_inputs(inputs, self.features)
        h, _ = rnn(
            self.cell,
            params["gru"],
            inputs,
            return_sequences=False,
            dropout=self.dropout,
            recurrent_dropout=self.recurrent_dropout,
            train=train,
            key=key,
            remat=self.remat,
        )
        return _head(params, h)


def _per_layer(name: str, values: Any, n: int, check: Callable[[str, Any], Any]) -> tuple:
    """``values`` as a tuple of ``n`` checked entries (a single value is repeated)."""
    if isinstance(values, (list, tuple)):
        if len(values) != n:
            raise ValueError(f"{name} has {len(values)} entries for {n} layers: {list(values)!r}")
        items = tuple(values)
    else:
        items = (values,) * n
    for v in items:
        check(name, v)
    return items


@dataclasses.dataclass(frozen=True)
class StackedGRUForecaster:
    """GRU layers of sizes ``layer_units`` (all but the last return sequences) -> Dense(1).

    ``dropout``, ``recurrent_dropout`` and ``activations`` hold one value per layer (a
    single value applies to every layer).
    """

    features: int
    layer_units: tuple[int, ...] = (32, 64)
    dropout: float | tuple[float, ...] = 0.0
    recurrent_dropout: float | tuple[float, ...] = 0.0
    activations: str | tuple[str, ...] = "tanh"
    reset_after: bool = True
    remat: int = 0

    def __post_init__(self):
        _check_size("features", self.features)
        check_switches(reset_after=self.reset_after)
        check_remat(self.remat)
        units = self.layer_units
        if not isinstance(units, (list, tuple)) or not units:
            raise ValueError(f"layer_units must be a non-empty list of layer sizes, got {units!r}")
        for u in units:
            _check_size("layer_units entry", u)
        n = len(units)
        # Normalized to tuples, so the frozen dataclass stays hashable (jit's static args).
        object.__setattr__(self, "layer_units", tuple(int(u) for u in units))
        object.__setattr__(self, "dropout", _per_layer("dropout", self.dropout, n, check_rate))
        object.__setattr__(
            self,
            "recurrent_dropout",
            _per_layer("recurrent_dropout", self.recurrent_dropout, n, check_rate),
        )
        object.__setattr__(
            self,
            "activations",
            _per_layer("activations", self.activations, n, lambda _, a: activation(a)),
        )

    regularization = staticmethod(_zero_penalty)

    @property
    def cells(self) -> list[GRUCell]:
        return [
            GRUCell(u, activation=a, reset_after=self.reset_after)
            for u, a in zip(self.layer_units, self.activations, strict=True)
        ]

    @memory.checked_init
    def init(self, key: jax.Array) -> Params:
        k_stack, k_out = jax.random.split(key)
        keys = jax.random.split(k_stack, len(self.layer_units))
        stack, width = [], self.features
        for cell, k in zip(self.cells, keys, strict=True):
            stack.append(cell.init(k, width))
            width = cell.units
        return {"gru": stack, "output": layers.init_dense(k_out, width, 1)}

    def apply(
        self,
        params: Params,
        inputs: jax.Array,
        *,
        train: bool = False,
        key: jax.Array | None = None,
    ) -> jax.Array:
        """``inputs <float32>[batch, steps, features]`` -> ``<float32>[batch]``."""
        _check_inputs(inputs, self.features)
        h, _ = stacked_rnn(
            self.cells,
            params["gru"],
            inputs,
            return_sequences=False,
            dropout=self.dropout,
            recurrent_dropout=self.recurrent_dropout,
            train=train,
            key=key,
            remat=self.remat,
        )
        return _head(params, h)


@dataclasses.dataclass(frozen=True)
class BidirectionalGRUForecaster:
    """Bidirectional(GRU(units)) with concat merge -> Dense(1): the forward GRU's last
    state (after step T-1) and the backward GRU's (after reading back to step 0).

    Written with two ``rnn`` calls rather than ``recurrent.bidirectional`` so that the
    optional dropout rates apply to both directions (each with its own masks).
    ``HYPERPARAMETERS``: the fields a sweep may give as arrays (``recurrent.is_array``).
    """

    HYPERPARAMETERS: ClassVar[tuple[str, ...]] = ("dropout", "recurrent_dropout")
    features: int
    units: int = 32
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    reset_after: bool = True
    remat: int = 0

    def __post_init__(self):
        _check_size("features", self.features)
        _check_size("units", self.units)
        check_rate("dropout", self.dropout)
        check_rate("recurrent_dropout", self.recurrent_dropout)
        check_switches(reset_after=self.reset_after)
        check_remat(self.remat)

    regularization = staticmethod(_zero_penalty)

    @property
    def cell(self) -> GRUCell:
        return GRUCell(self.units, reset_after=self.reset_after)

    @memory.checked_init
    def init(self, key: jax.Array) -> Params:
        k_f, k_b, k_out = jax.random.split(key, 3)
        return {
            "forward": self.cell.init(k_f, self.features),
            "backward": self.cell.init(k_b, self.features),
            "output": layers.init_dense(k_out, 2 * self.units, 1),
        }

    def apply(
        self,
        params: Params,
        inputs: jax.Array,
        *,
        train: bool = False,
        key: jax.Array | None = None,
    ) -> jax.Array:
        """``inputs <float32>[batch, steps, features]`` -> ``<float32>[batch]``."""
        _check_inputs(inputs, self.features)
        k_f = k_b = None
        if key is not None:
            k_f, k_b = jax.random.split(key)
        common = dict(
            return_sequences=False,
            dropout=self.dropout,
            recurrent_dropout=self.recurrent_dropout,
            train=train,
            remat=self.remat,
        )
        h_f, _ = rnn(self.cell, params["forward"], inputs, key=k_f, **common)
        h_b, _ = rnn(self.cell, params["backward"], inputs, reverse=True, key=k_b, **common)
        return _head(params, jnp.concatenate([h_f, h_b], axis=-1))


# -- the registry --------------------------------------------------------------------------------

Forecaster = DenseForecaster | GRUForecaster | StackedGRUForecaster | BidirectionalGRUForecaster

# name -> (class, the lecture's hyperparameters); ``features`` (and ``lookback_steps`` for
# the dense model) come from the data.
FORECASTERS: dict[str, tuple[type, dict[str, Any]]] = {
    "dense": (DenseForecaster, dict(hidden=32)),
    "gru": (GRUForecaster, dict(units=32)),
    "gru_dropout": (GRUForecaster, dict(units=32, dropout=0.2, recurrent_dropout=0.2)),
    "gru_stacked": (
        StackedGRUForecaster,
        dict(
            layer_units=(32, 64), dropout=0.1, recurrent_dropout=0.5, activations=("tanh", "relu")
        ),
    ),
    "gru_bidirectional": (BidirectionalGRUForecaster, dict(units=32)),
}


def make_forecaster(name: str, features: int, lookback_steps: int, **overrides: Any) -> Forecaster:
    """The named forecaster of ``FORECASTERS`` for windows ``[lookback_steps, features]``,
    with the lecture's hyperparameters unless ``overrides`` says otherwise.

    Raises:
      ValueError: an unknown name, an option the model does not have (its options are
        listed), or a bad value (one message naming it).
    """
    try:
        cls, defaults = FORECASTERS[name]
    except KeyError:
        raise ValueError(
            f"unknown forecaster {name!r}; expected one of {sorted(FORECASTERS)}"
        ) from None
    options = [f.name for f in dataclasses.fields(cls) if f.name != "features"]
    unknown = sorted(set(overrides) - set(options))
    if unknown:
        raise ValueError(
            f"forecaster {name!r} has no option {unknown[0]!r}; its options are {options}"
        )
    kwargs: dict[str, Any] = {**defaults, **overrides, "features": features}
    if "lookback_steps" in options:
        kwargs.setdefault("lookback_steps", lookback_steps)
    else:  # recurrent models take windows of any length; still, the length must be sane
        _check_size("lookback_steps", lookback_steps)
    return cls(**kwargs)
