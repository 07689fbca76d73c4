"""The Keras-faithful cells as ``flax.nnx`` modules, over the same pure functions.

``KerasLSTMCell(in_features, features, rngs=nnx.Rngs(0))`` (and the GRU and SimpleRNN
cells) are ``nnx.RNNCellBase`` subclasses for ``nnx.RNN`` and ``nnx.Bidirectional``. Each
holds the functional cell's parameters as ``nnx.Param`` attributes of the same names
(``kernel``, ``recurrent_kernel``, ``bias``), initialized by Keras's initializers;
``cell.params()`` gives the functional tree and ``cell.load(params)`` sets one; as
with the linen cells (``flax_linen``), the LSTM carry is ``(h, c)``
and ``seq_lengths`` means right padding; ``KerasRNN`` and ``KerasBidirectional`` (or
``rnn_attn.nn.recurrent.rnn(cell.functional, cell.params(), x, mask=...)``) take any
mask: a masked step keeps the previous state (the carry) and outputs ZEROS, as ``rnn``
does (Keras 3 does so inside ``Bidirectional``; its recurrent layer alone repeats the
previous output there).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from rnn_attn.checks import argument
from rnn_attn.nn import cells as fcells
from rnn_attn.nn import recurrent

Array = jax.Array


class _KerasCell(nnx.RNNCellBase):
    """One step of ``functional`` over this module's params."""

    def __init__(
        self,
        functional: fcells.Cell,
        in_features: int,
        *,
        rngs: nnx.Rngs,
        param_dtype: Any = jnp.float32,
    ):
        self.functional = functional
        self.in_features = argument("in_features", in_features, int, minimum=1)
        self.param_dtype = param_dtype  # of the params and the initial carry
        params = functional.init(rngs.params(), in_features)
        self.param_names = tuple(params)
        for name, value in params.items():
            setattr(self, name, nnx.Param(value.astype(param_dtype)))

    def params(self) -> dict[str, Array]:
        """The functional cell's parameter tree (the current values)."""
        return {name: getattr(self, name)[...] for name in self.param_names}

    def load(self, params: dict[str, Array]) -> None:
        """Sets the values of a functional parameter tree of the same names and shapes.

        As a linen cell applied to a wrong tree, or ``recurrent.rnn``, a weight missing,
        unknown or of another shape is refused by the same check (the functional cell's
        ``check_params``: one ValueError naming it, the expected and the given shape),
        and nothing is set: an array is never broadcast into a weight of another shape
        (a Keras ``reset_after=False`` GRU bias ``[3u]`` is no ``reset_after=True``
        cell's ``[2, 3u]``).
        """
        where = f"{type(self).__name__}.load"
        self.functional.check_params(params, self.in_features, where=where)
        for name, value in params.items():
            getattr(self, name)[...] = value

    def __call__(self, carry: tuple[Array, ...], inputs: Array) -> tuple[tuple[Array, ...], Array]:
        return self.functional(self.params(), tuple(carry), inputs)

    def initialize_carry(
        self, input_shape: tuple[int, ...], rngs: Any = None, carry_init: Any = None
    ) -> tuple[Array, ...]:
        """Zeros, ``(h,)`` or ``(h, c)``, each ``[*input_shape[:-1], features]``."""
        del rngs, carry_init  # Keras's initial state: zeros
        return self.functional.initial_carry(tuple(input_shape[:-1]), self.param_dtype)

    @property
    def num_feature_axes(self) -> int:
        return 1


class KerasSimpleRNNCell(_KerasCell):
    """Keras's ``SimpleRNN`` cell; ``config``: ``rnn_attn.nn.cells.SimpleRNNCell``'s."""

    def __init__(
        self,
        in_features: int,
        features: int,
        *,
        rngs: nnx.Rngs,
        param_dtype: Any = jnp.float32,
        **config: Any,
    ):
        super().__init__(
            fcells.SimpleRNNCell(features, **config),
            in_features,
            rngs=rngs,
            param_dtype=param_dtype,
        )


class KerasLSTMCell(_KerasCell):
    """Keras's ``LSTM`` cell (carry ``(h, c)``); ``config``: ``LSTMCell``'s."""

    def __init__(
        self,
        in_features: int,
        features: int,
        *,
        rngs: nnx.Rngs,
        param_dtype: Any = jnp.float32,
        **config: Any,
    ):
        super().__init__(
            fcells.LSTMCell(features, **config), in_features, rngs=rngs, param_dtype=param_dtype
        )


class KerasGRUCell(_KerasCell):
    """Keras's ``GRU`` cell (``reset_after`` either way); ``config``: ``GRUCell``'s."""

    def __init__(
        self,
        in_features: int,
        features: int,
        *,
        rngs: nnx.Rngs,
        param_dtype: Any = jnp.float32,
        **config: Any,
    ):
        super().__init__(
            fcells.GRUCell(features, **config), in_features, rngs=rngs, param_dtype=param_dtype
        )


def check_nnx_cell(cell: object) -> None:
    """TypeError unless ``cell`` is one of this module's cells (a linen cell was taken and
    failed at the first call with an AttributeError)."""
    if not isinstance(cell, _KerasCell):
        raise TypeError(
            f"cell must be an nnx cell of this module (KerasSimpleRNNCell, KerasLSTMCell, "
            f"KerasGRUCell), got {type(cell).__module__}.{type(cell).__name__}"
        )


class KerasRNN(nnx.Module):
    """A Keras recurrent layer over an nnx cell above, with any mask (left or right
    padding, holes; a masked step keeps the carry and outputs zeros), ``reverse``
    (Keras's ``go_backwards``, outputs in processing order) and ``return_sequences``;
    ``recurrent.rnn`` over the cell's params."""

    def __init__(self, cell: _KerasCell, *, return_sequences: bool = True, reverse: bool = False):
        recurrent.check_switches(return_sequences=return_sequences, reverse=reverse)
        check_nnx_cell(cell)
        self.cell, self.return_sequences, self.reverse = cell, return_sequences, reverse

    def __call__(
        self, inputs: Array, *, mask: Array | None = None, lengths: Array | None = None
    ) -> tuple[Array, tuple[Array, ...]]:
        return recurrent.rnn(
            self.cell.functional,
            self.cell.params(),
            inputs,
            mask=mask,
            lengths=lengths,
            reverse=self.reverse,
            return_sequences=self.return_sequences,
        )


class KerasBidirectional(nnx.Module):
    """Keras's ``Bidirectional`` over two nnx cells, with any mask and ``merge_mode``
    (``recurrent.MERGE_MODES``)."""

    def __init__(
        self,
        forward: _KerasCell,
        backward: _KerasCell,
        *,
        merge_mode: str = "concat",
        return_sequences: bool = True,
    ):
        if not isinstance(merge_mode, str) or merge_mode not in recurrent.MERGE_MODES:
            raise ValueError(
                f"unknown merge mode {merge_mode!r}; expected one of {recurrent.MERGE_MODES}"
            )
        recurrent.check_switches(return_sequences=return_sequences)
        check_nnx_cell(forward)
        check_nnx_cell(backward)
        self.forward, self.backward = forward, backward
        self.merge_mode, self.return_sequences = merge_mode, return_sequences

    def __call__(
        self, inputs: Array, *, mask: Array | None = None, lengths: Array | None = None
    ) -> tuple[Any, tuple[Any, Any]]:
        params = {"forward": self.forward.params(), "backward": self.backward.params()}
        return recurrent.bidirectional(
            self.forward.functional,
            self.backward.functional,
            params,
            inputs,
            mask=mask,
            lengths=lengths,
            merge_mode=self.merge_mode,
            return_sequences=self.return_sequences,
        )
