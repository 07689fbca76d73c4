"""The Keras-faithful cells as Flax linen modules, over the same pure functions.

``KerasLSTMCell``, ``KerasGRUCell`` and ``KerasSimpleRNNCell`` are
``flax.linen.RNNCellBase`` subclasses: ``nn.RNN(KerasLSTMCell(64))`` and
``nn.Bidirectional(nn.RNN(...), nn.RNN(...))`` work as with Flax's own cells, with
Keras's initializers, fused gate layout (LSTM ``i, f, c, o``; GRU ``z, r, h``), unit
forget bias and GRU ``reset_after`` either way. A cell's parameters are exactly the
functional cell's tree (``kernel``, ``recurrent_kernel``, ``bias``), so
``{"params": functional_params}`` applies the linen cell and the reverse holds too.

Two differences from Flax's cells to know:

* the LSTM carry is ``(h, c)`` (ours and Keras's order), not Flax's ``(c, h)``;
* ``nn.RNN``'s ``seq_lengths`` means right padding. For left padding (the reference
  documents' ``pad_sequences`` default) or any mask with holes use ``KerasRNN``, which
  runs ``rnn_attn.nn.recurrent.rnn`` with the mask: a masked step keeps the previous
  state (the carry) and outputs ZEROS, as ``rnn`` does (Keras 3 does so inside
  ``Bidirectional``; its recurrent layer alone repeats the previous output there).

Dropout, Keras's (Gal & Ghahramani): one input mask and one recurrent mask per
sequence, the same at every step. ``KerasRNN(cell, dropout=..., recurrent_dropout=...)``
draws them from the ``'dropout'`` rng. A cell given rates (``KerasLSTMCell(64,
dropout=0.2, recurrent_dropout=0.2, deterministic=False)``) draws them at every step from
its ``'dropout'`` rng, so under ``nn.RNN`` pass ``split_rngs={"params": False,
"dropout": False}``: the same rng at every step, hence the same masks (with the rng split
per step the masks would change every step, which is not Keras's dropout).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from rnn_attn.nn import cells as fcells
from rnn_attn.nn import recurrent

Array = jax.Array


def _cell_params(
    module: nn.Module, cell: fcells.Cell, input_dim: int, dtype: Any = jnp.float32
) -> dict[str, Array]:
    """The functional cell's parameters, each a linen param of the same name, initialized
    by ``cell.init`` (Keras's initializers), in ``dtype``."""
    names = jax.eval_shape(lambda: cell.init(jax.random.PRNGKey(0), input_dim))
    return {
        name: module.param(
            name, lambda key, name=name: cell.init(key, input_dim)[name].astype(dtype)
        )
        for name in names
    }


class _KerasCell(nn.RNNCellBase):
    """Shared by the three cells: the functional cell (``functional()``), its params, one
    step, the zero carry."""

    features: int
    activation: str = "tanh"
    kernel_initializer: str = "glorot_uniform"
    recurrent_initializer: str = "orthogonal"
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    deterministic: bool = True
    param_dtype: Any = jnp.float32  # of the params and the initial carry

    @nn.nowrap
    def functional(self) -> fcells.Cell:
        """The pure cell this module runs (``rnn_attn.nn.cells``)."""
        raise NotImplementedError

    @nn.compact
    def __call__(self, carry: tuple[Array, ...], inputs: Array) -> tuple[tuple[Array, ...], Array]:
        """One step: ``inputs <float>[..., input_dim]`` -> ``(carry, h <float>[...,
        features])``."""
        cell = self.functional()
        params = _cell_params(self, cell, inputs.shape[-1], self.param_dtype)
        rates = (
            recurrent.check_rate("dropout", self.dropout),
            recurrent.check_rate("recurrent_dropout", self.recurrent_dropout),
        )
        recurrent.check_switches(deterministic=self.deterministic)
        recurrent_mask = None
        if not self.deterministic and max(rates) > 0:
            # As recurrent.rnn draws them from its key: the same masks for the same key.
            input_key, recurrent_key = jax.random.split(self._dropout_key())
            if rates[0] > 0:
                inputs = inputs * recurrent.dropout_mask(
                    input_key, rates[0], inputs.shape, inputs.dtype
                )
            if rates[1] > 0:
                recurrent_mask = recurrent.dropout_mask(
                    recurrent_key, rates[1], (*inputs.shape[:-1], self.features), inputs.dtype
                )
        return cell(params, tuple(carry), inputs, recurrent_mask)

    def _dropout_key(self) -> Array:
        return self.make_rng("dropout")

    @nn.nowrap
    def initialize_carry(self, rng: Array, input_shape: tuple[int, ...]) -> tuple[Array, ...]:
        """Zeros, ``(h,)`` or ``(h, c)``, each ``[*input_shape[:-1], features]``."""
        del rng  # the initial state is zeros, as Keras's
        return self.functional().initial_carry(tuple(input_shape[:-1]), self.param_dtype)

    @property
    def num_feature_axes(self) -> int:
        return 1


class KerasSimpleRNNCell(_KerasCell):
    """Keras's ``SimpleRNN`` cell: ``h_t = act(x W + h U + b)``."""

    @nn.nowrap
    def functional(self) -> fcells.SimpleRNNCell:
        return fcells.SimpleRNNCell(
            self.features, self.activation, self.kernel_initializer, self.recurrent_initializer
        )


class KerasLSTMCell(_KerasCell):
    """Keras's ``LSTM`` cell (gates ``i, f, c, o``; carry ``(h, c)``)."""

    recurrent_activation: str = "sigmoid"
    unit_forget_bias: bool = True
    forget_bias: float = 1.0

    @nn.nowrap
    def functional(self) -> fcells.LSTMCell:
        return fcells.LSTMCell(
            self.features,
            self.activation,
            self.kernel_initializer,
            self.recurrent_initializer,
            recurrent_activation=self.recurrent_activation,
            unit_forget_bias=self.unit_forget_bias,
            forget_bias=self.forget_bias,
        )


class KerasGRUCell(_KerasCell):
    """Keras's ``GRU`` cell (gates ``z, r, h``); ``reset_after=True`` is Keras 2's default
    (two bias rows), ``False`` the original GRU."""

    recurrent_activation: str = "sigmoid"
    reset_after: bool = True
    update_bias: float = 0.0

    @nn.nowrap
    def functional(self) -> fcells.GRUCell:
        return fcells.GRUCell(
            self.features,
            self.activation,
            self.kernel_initializer,
            self.recurrent_initializer,
            recurrent_activation=self.recurrent_activation,
            reset_after=self.reset_after,
            update_bias=self.update_bias,
        )


class KerasRNN(nn.Module):
    """A Keras recurrent layer over any of the cells above, with any mask (a masked step
    keeps the carry and outputs zeros, as ``recurrent.rnn``).

    Attributes:
      cell: a ``Keras*Cell`` (only its configuration is used; the params are this
        module's own: ``kernel``, ``recurrent_kernel``, ``bias``).
      return_sequences: all outputs ``[batch, time, features]`` or the last valid one.
      reverse: read the sequence backwards (Keras's ``go_backwards``: the outputs come in
        processing order, last step first, as Keras's; ``nn.RNN(keep_order=True)`` flips
        them back).
      dropout, recurrent_dropout: Keras's rates; masks drawn once per sequence from the
        ``'dropout'`` rng when not ``deterministic``.
      unroll: steps unrolled per scan iteration.
    """

    cell: _KerasCell
    return_sequences: bool = True
    reverse: bool = False
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    unroll: int = 1

    @nn.compact
    def __call__(
        self,
        inputs: Array,
        *,
        mask: Array | None = None,
        lengths: Array | None = None,
        initial_carry: Any = None,
        deterministic: bool = True,
    ) -> tuple[Array, tuple[Array, ...]]:
        """``inputs <float>[batch, time, features]``; ``mask <bool>[batch, time]`` (any
        pattern: left or right padding, holes) or ``lengths <int>[batch]`` (right
        padding). Returns ``(outputs, final_carry)`` as ``recurrent.rnn``."""
        cell = self.cell.functional()
        params = _cell_params(self, cell, jnp.shape(inputs)[-1], self.cell.param_dtype)
        recurrent.check_switches(deterministic=deterministic)
        rates = (
            recurrent.check_rate("dropout", self.dropout),
            recurrent.check_rate("recurrent_dropout", self.recurrent_dropout),
        )
        train = not deterministic and max(rates) > 0
        return recurrent.rnn(
            cell,
            params,
            inputs,
            lengths=lengths,
            mask=mask,
            initial_carry=initial_carry,
            reverse=self.reverse,
            return_sequences=self.return_sequences,
            unroll=self.unroll,
            dropout=self.dropout,
            recurrent_dropout=self.recurrent_dropout,
            train=train,
            key=self.make_rng("dropout") if train else None,
        )


class FlaxModel(nn.Module):
    """Any model of ``rnn_attn.models`` (the document models: the seq2seq with Bahdanau
    attention, the BiLSTM with or without attention pooling, the forecasters, the
    character LM) as a linen module.

    The model's own parameter tree is one param, ``model``, initialized by ``model.init``
    (so ``nn.tabulate`` counts Keras's parameters), and ``__call__`` is ``model.apply``:
    with ``deterministic=False`` the model trains (dropout) with the ``'dropout'`` rng.
    The functional model stays the core; this only carries it into a Flax program.
    """

    model: Any
    # Shown by nn.tabulate as the param's name (e.g. the model's class).
    name_in_table: str = "model"

    @nn.compact
    def __call__(self, inputs: Any, *, deterministic: bool = True, **kwargs: Any) -> Any:
        params = self.param(self.name_in_table, lambda key: self.model.init(key))
        recurrent.check_switches(deterministic=deterministic)
        if deterministic:
            return self.model.apply(params, inputs, **kwargs)
        return self.model.apply(params, inputs, train=True, key=self.make_rng("dropout"), **kwargs)


class KerasBidirectional(nn.Module):
    """Keras's ``Bidirectional`` over two cells, with any mask: the backward direction
    reads the sequence reversed (padding never enters its state) and its outputs are
    flipped back; ``merge_mode`` one of ``recurrent.MERGE_MODES``. Params: ``forward``
    and ``backward``, each the functional cell's tree."""

    forward_cell: _KerasCell
    backward_cell: _KerasCell
    merge_mode: str = "concat"
    return_sequences: bool = True

    @nn.compact
    def __call__(
        self, inputs: Array, *, mask: Array | None = None, lengths: Array | None = None
    ) -> tuple[Any, tuple[Any, Any]]:
        """``inputs <float>[batch, time, features]``; returns ``recurrent.bidirectional``'s
        ``(merged_outputs, (forward_carry, backward_carry))``."""
        forward, backward = self.forward_cell.functional(), self.backward_cell.functional()
        width = jnp.shape(inputs)[-1]
        params = {
            "forward": ParamsOf(forward, width, self.forward_cell.param_dtype, name="forward")(),
            "backward": ParamsOf(
                backward, width, self.backward_cell.param_dtype, name="backward"
            )(),
        }
        return recurrent.bidirectional(
            forward,
            backward,
            params,
            inputs,
            mask=mask,
            lengths=lengths,
            merge_mode=self.merge_mode,
            return_sequences=self.return_sequences,
        )


class ParamsOf(nn.Module):
    """A functional cell's parameters under this module's name (Keras's initializers)."""

    cell: Any
    input_dim: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self) -> dict[str, Array]:
        return _cell_params(self, self.cell, self.input_dim, self.dtype)
