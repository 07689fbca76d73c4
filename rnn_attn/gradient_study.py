"""How far back does the gradient reach? Vanishing gradients in SimpleRNN, LSTM and GRU,
and the remedies of reference document 003, measured.

The task makes the answer depend on the first input only: a sequence of ``length``
symbols (one-hot over ``symbols``), the label is the first symbol. A recurrent layer
reads it, a dense layer reads the last output. For every time step ``t`` the study
measures ``||dL/dx_t||`` (the loss of each example with respect to its own input at
``t``, averaged over examples): how much the loss can still be moved by an early input.
It does so at initialization and after training, and scores each configuration by the
task's test accuracy over seeds.

Each seed's whole training run is one compiled ``lax.scan`` with its data drawn on the
device; seeds run under ``vmap`` (initialized eagerly, one by one: see
``initializers.orthogonal``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from rnn_attn import layers, training
from rnn_attn.cells import make_cell
from rnn_attn.recurrent import rnn

# name -> (cell kind, cell options, gradient clipping norm or None, what it tests)
CONFIGS: dict[str, tuple[str, dict[str, Any], float | None, str]] = {
    "simple_rnn": ("simple_rnn", {}, None,
                   "SimpleRNN, Keras's orthogonal recurrent init"),
    "simple_rnn_normal_init": ("simple_rnn", {"recurrent_initializer": "random_normal"}, None,
                               "SimpleRNN, random-normal (stddev 0.05) recurrent init"),
    "simple_rnn_clipped": ("simple_rnn", {}, 1.0,
                           "SimpleRNN, gradients clipped to global norm 1"),
    "simple_rnn_layer_norm": ("simple_rnn", {"layer_norm": True}, None,
                              "SimpleRNN with layer normalization in the cell"),
    "simple_rnn_residual": ("simple_rnn", {"residual": True}, None,
                            "SimpleRNN with a skip connection across time: "
                            "h_t = h_{t-1} + tanh(...)"),
    "lstm": ("lstm", {}, None, "LSTM (gated), Keras's forget-gate bias 1"),
    "lstm_forget_bias_5": ("lstm", {"forget_bias": 5.0}, None,
                           "LSTM with forget-gate bias 5 (the cell keeps its state at init)"),
    "lstm_layer_norm": ("lstm", {"layer_norm": True}, None, "LSTM with layer normalization"),
    "gru": ("gru", {}, None, "GRU (gated), Keras's update-gate bias 0"),
    "gru_update_bias_5": ("gru", {"update_bias": 5.0}, None,
                          "GRU with update-gate bias 5 (the state is kept at init)"),
}


@dataclasses.dataclass(frozen=True)
class StudySettings:
    units: int = 32
    symbols: int = 8
    batch_size: int = 64
    steps: int = 1500
    learning_rate: float = 3e-3
    eval_examples: int = 1024
    gradient_examples: int = 256


def sample_first_symbol_task(key: jax.Array, batch: int, length: int, symbols: int):
    """``(inputs <float32>[batch, length, symbols] one-hot, labels <int32>[batch])``; the
    label is the first symbol, the rest are distractors."""
    ids = jax.random.randint(key, (batch, length), 0, symbols)
    return jax.nn.one_hot(ids, symbols, dtype=jnp.float32), ids[:, 0]


@dataclasses.dataclass(frozen=True)
class FirstSymbolModel:
    """A recurrent layer (any cell and options) -> Dense on its last output."""

    kind: str
    units: int
    symbols: int
    cell_options: tuple[tuple[str, Any], ...] = ()

    @property
    def cell(self):
        return make_cell(self.kind, self.units, **dict(self.cell_options))

    def init(self, key):
        k_rnn, k_out = jax.random.split(key)
        return {"rnn": self.cell.init(k_rnn, self.symbols),
                "output": layers.init_dense(k_out, self.units, self.symbols)}

    def apply(self, params, inputs):
        h, _ = rnn(self.cell, params["rnn"], inputs, return_sequences=False)
        return layers.dense(params["output"], h)


def build(name: str, settings: StudySettings
          ) -> tuple[FirstSymbolModel, optax.GradientTransformation]:
    if name not in CONFIGS:
        raise ValueError(f"unknown configuration {name!r}; expected one of {sorted(CONFIGS)}")
    kind, options, clip, _ = CONFIGS[name]
    model = FirstSymbolModel(kind, settings.units, settings.symbols, tuple(sorted(options.items())))
    optimizer = training.keras_adam(settings.learning_rate)
    if clip is not None:
        optimizer = optax.chain(optax.clip_by_global_norm(clip), optimizer)
    return model, optimizer


def gradient_by_step(model: FirstSymbolModel, params, inputs, labels) -> jax.Array:
    """``<float32>[length]``: mean over examples of ``||d loss_b / d x_{b,t}||``."""
    def total_loss(x):
        logits = model.apply(params, x)
        return jnp.sum(optax.softmax_cross_entropy_with_integer_labels(logits, labels))

    grads = jax.grad(total_loss)(inputs)  # example b's loss depends only on its own inputs
    return jnp.linalg.norm(grads, axis=-1).mean(0)


def make_run(model: FirstSymbolModel, optimizer, settings: StudySettings, length: int):
    """``run(params, key) -> metrics``: trains one seed and measures it, all compiled."""
    def loss_fn(params, batch):
        inputs, labels = batch
        return optax.softmax_cross_entropy_with_integer_labels(
            model.apply(params, inputs), labels).mean()

    def sample(key):
        return sample_first_symbol_task(key, settings.batch_size, length, settings.symbols)

    def run(params, key):
        data_key, probe_key, test_key = jax.random.split(key, 3)
        probe = sample_first_symbol_task(probe_key, settings.gradient_examples, length,
                                         settings.symbols)
        grad_init = gradient_by_step(model, params, *probe)
        chunk = training.make_train_chunk(loss_fn, sample, optimizer, settings.steps)
        state = training.TrainState(params, optimizer.init(params), data_key)
        state, losses = chunk(state, jnp.int32(0))
        inputs, labels = sample_first_symbol_task(test_key, settings.eval_examples, length,
                                                  settings.symbols)
        accuracy = jnp.mean(jnp.argmax(model.apply(state.params, inputs), -1) == labels)
        return {"grad_init": grad_init,
                "grad_trained": gradient_by_step(model, state.params, *probe),
                "test_accuracy": accuracy, "train_loss": losses}

    return run


def run_config(name: str, length: int, seeds: list[int], settings: StudySettings) -> dict:
    """One configuration at one length over seeds: numpy arrays with a leading seed axis."""
    if isinstance(length, bool) or not isinstance(length, int) or length < 2:
        raise ValueError(f"length must be an integer >= 2 (a first symbol and at least one "
                         f"distractor), got {length!r}")
    if not seeds:
        raise ValueError("seeds is empty; expected at least one seed")
    model, optimizer = build(name, settings)
    params = training.stack_states([model.init(jax.random.PRNGKey(s)) for s in seeds])
    keys = jnp.stack([jax.random.fold_in(jax.random.PRNGKey(s), 1) for s in seeds])
    out = jax.jit(jax.vmap(make_run(model, optimizer, settings, length)))(params, keys)
    return jax.tree.map(np.asarray, out)


def reach(grad_by_step: np.ndarray) -> float:
    """log10 of ``||dL/dx_1|| / ||dL/dx_T||``: 0 when the first input moves the loss as
    much as the last one, -k when k orders of magnitude less."""
    if np.ndim(grad_by_step) != 1 or np.size(grad_by_step) < 2:
        raise ValueError(f"reach expects <float>[length >= 2], one gradient norm per step, "
                         f"got shape {np.shape(grad_by_step)}")
    return float(np.log10(max(grad_by_step[0], 1e-38) / max(grad_by_step[-1], 1e-38)))


def summarize(results: Mapping[str, Mapping[int, dict]]) -> list[dict[str, Any]]:
    """One row per (configuration, length): reach at init and after training (mean over
    seeds of each seed's reach) and test accuracy per seed."""
    rows = []
    for name, by_length in results.items():
        for length, r in by_length.items():
            rows.append({
                "config": name, "length": length,
                "reach_init_per_seed": [reach(g) for g in r["grad_init"]],
                "reach_trained_per_seed": [reach(g) for g in r["grad_trained"]],
                "test_accuracy_per_seed": [float(a) for a in r["test_accuracy"]],
            })
    return rows
