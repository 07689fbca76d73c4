"""How far back does the gradient reach? Vanishing gradients in SimpleRNN, LSTM and GRU,
and the remedies of reference document 003, measured.

The task makes the answer depend on the first input only: a sequence of ``length``
symbols (one-hot over ``symbols``), the label is the first symbol. A recurrent layer
reads it, a dense layer reads the last output. For every time step ``t`` the study
measures ``||dL/dx_t||`` (the loss of each example with respect to its own input at
``t``, averaged over examples): how much the loss can still be moved by an early input.
It does so at initialization and after training, and scores each configuration by the
task's test accuracy over seeds.

Each configuration trains (``train.py``, the shared runner) with a ``feed.Sampler``: the
batch of step ``s`` is drawn on the device from ``fold_in(data_key, s)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from rnn_attn.nn import layers
from rnn_attn.nn.cells import make_cell
from rnn_attn.nn.recurrent import rnn
from rnn_attn.parallel import mesh as meshes
from rnn_attn.train import engine, feed, optimizers
from rnn_attn.train.steps import init_states

# name -> (cell kind, cell options, gradient clipping norm or None, what it tests)
CONFIGS: dict[str, tuple[str, dict[str, Any], float | None, str]] = {
    "simple_rnn": ("simple_rnn", {}, None, "SimpleRNN, Keras's orthogonal recurrent init"),
    "simple_rnn_normal_init": (
        "simple_rnn",
        {"recurrent_initializer": "random_normal"},
        None,
        "SimpleRNN, random-normal (stddev 0.05) recurrent init",
    ),
    "simple_rnn_clipped": ("simple_rnn", {}, 1.0, "SimpleRNN, gradients clipped to global norm 1"),
    "simple_rnn_layer_norm": (
        "simple_rnn",
        {"layer_norm": True},
        None,
        "SimpleRNN with layer normalization in the cell",
    ),
    "simple_rnn_residual": (
        "simple_rnn",
        {"residual": True},
        None,
        "SimpleRNN with a skip connection across time: h_t = h_{t-1} + tanh(...)",
    ),
    "lstm": ("lstm", {}, None, "LSTM (gated), Keras's forget-gate bias 1"),
    "lstm_forget_bias_5": (
        "lstm",
        {"forget_bias": 5.0},
        None,
        "LSTM with forget-gate bias 5 (the cell keeps its state at init)",
    ),
    "lstm_layer_norm": ("lstm", {"layer_norm": True}, None, "LSTM with layer normalization"),
    "gru": ("gru", {}, None, "GRU (gated), Keras's update-gate bias 0"),
    "gru_update_bias_5": (
        "gru",
        {"update_bias": 5.0},
        None,
        "GRU with update-gate bias 5 (the state is kept at init)",
    ),
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
        return {
            "rnn": self.cell.init(k_rnn, self.symbols),
            "output": layers.init_dense(k_out, self.units, self.symbols),
        }

    def apply(
        self, params, inputs: jax.Array, *, train: bool = False, key: jax.Array | None = None
    ) -> jax.Array:
        """Logits ``<float>[batch, symbols]`` (no dropout: ``train`` and ``key`` change
        nothing). The inputs take the parameters' dtype (bf16 under ``ComputeDtype``)."""
        inputs = inputs.astype(jax.tree.leaves(params)[0].dtype)
        h, _ = rnn(self.cell, params["rnn"], inputs, return_sequences=False)
        return layers.dense(params["output"], h)


def build(name: str, settings: StudySettings) -> tuple[Any, optax.GradientTransformation]:
    """A configuration's model and optimizer (the runner applies the run's compute dtype)."""
    if name not in CONFIGS:
        raise ValueError(f"unknown configuration {name!r}; expected one of {sorted(CONFIGS)}")
    kind, options, clip, _ = CONFIGS[name]
    model = FirstSymbolModel(kind, settings.units, settings.symbols, tuple(sorted(options.items())))
    optimizer = optimizers.keras_adam(settings.learning_rate)
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


def repeat_keys(seed: int) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """A repeat's ``(init, data, probe, test)`` keys: ``PRNGKey(seed)``, then
    ``split(fold_in(PRNGKey(seed), 1), 3)``."""
    base = jax.random.PRNGKey(seed)
    data, probe, test = jax.random.split(jax.random.fold_in(base, 1), 3)
    return base, data, probe, test


def seed_keys(seed: int) -> tuple[jax.Array, jax.Array]:
    """The engine's ``(init_key, dropout_key)``: the models have no dropout, and the data
    key fills the second place (it draws nothing there)."""
    return repeat_keys(seed)[:2]


def sampler(settings: StudySettings, length: int, seeds: Sequence[int]) -> feed.Sampler:
    """Every seed's stream of ``steps`` training batches of the task at ``length``."""
    if isinstance(length, bool) or not isinstance(length, int) or length < 2:
        raise ValueError(
            f"length must be an integer >= 2 (a first symbol and at least "
            f"one distractor), got {length!r}"
        )
    if not seeds:
        raise ValueError("seeds is empty; expected at least one seed")

    def sample(key: jax.Array) -> dict[str, jax.Array]:
        inputs, labels = sample_first_symbol_task(
            key, settings.batch_size, length, settings.symbols
        )
        return {"inputs": inputs, "targets": labels}

    keys = np.stack([np.asarray(repeat_keys(s)[1]) for s in seeds])
    return feed.Sampler(sample, keys, settings.steps)


def make_measure(model: FirstSymbolModel, settings: StudySettings, length: int):
    """``measure(init_params, params, probe_key, test_key)`` for one seed: gradient norms
    by step at initialization and after training, on ``gradient_examples`` probe
    sequences, and the TEST accuracy on ``eval_examples`` fresh sequences."""

    def measure(init_params, params, probe_key, test_key):
        probe = sample_first_symbol_task(
            probe_key, settings.gradient_examples, length, settings.symbols
        )
        inputs, labels = sample_first_symbol_task(
            test_key, settings.eval_examples, length, settings.symbols
        )
        accuracy = jnp.mean(jnp.argmax(model.apply(params, inputs), -1) == labels)
        return {
            "grad_init": gradient_by_step(model, init_params, *probe),
            "grad_trained": gradient_by_step(model, params, *probe),
            "test_accuracy": accuracy,
        }

    return measure


def measure(
    fit: engine.FitResult,
    model: FirstSymbolModel,
    optimizer: optax.GradientTransformation,
    settings: StudySettings,
    length: int,
) -> dict[str, np.ndarray]:
    """One trained configuration's measurements, numpy arrays with a leading seed axis:
    ``grad_init``/``grad_trained`` ``[seeds, length]``, ``test_accuracy`` ``[seeds]`` and
    the training loss of every step, ``train_loss`` ``[seeds, steps]``. The probe and
    test sequences are drawn with each seed's data seed (``FitConfig.source_seeds``)."""
    init_seeds, data_seeds = (list(fit.config.source_seeds(s)) for s in ("init", "data"))
    dropout = list(fit.config.source_seeds("dropout"))
    init_params = init_states(model, optimizer, init_seeds, seed_keys, dropout_seeds=dropout).params
    keys = [np.stack([np.asarray(repeat_keys(s)[k]) for s in data_seeds]) for k in (2, 3)]
    trained = meshes.fetch(fit.state.params)
    out = jax.jit(jax.vmap(make_measure(model, settings, length)))(init_params, trained, *keys)
    return jax.tree.map(np.asarray, out) | {"train_loss": fit.step_loss}


def reach(grad_by_step: np.ndarray) -> float:
    """log10 of ``||dL/dx_1|| / ||dL/dx_T||``: 0 when the first input moves the loss as
    much as the last one, -k when k orders of magnitude less."""
    if np.ndim(grad_by_step) != 1 or np.size(grad_by_step) < 2:
        raise ValueError(
            f"reach expects <float>[length >= 2], one gradient norm per step, "
            f"got shape {np.shape(grad_by_step)}"
        )
    return float(np.log10(max(grad_by_step[0], 1e-38) / max(grad_by_step[-1], 1e-38)))
