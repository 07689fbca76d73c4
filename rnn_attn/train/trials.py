"""Trials: settings x seeds in one compiled program.

A run's slots (the stacked axis every program maps over, split over the mesh's ``seed``
axis) are its seeds, or its trials: each trial a seed under one setting of swept
hyperparameters (a learning rate, a dropout rate, a penalty's coefficient ...), none of
which changes an array's shape or the program. ``FitConfig.hyperparameters`` holds each
slot's values; the engine passes them to its programs as arrays beside the states
(``hyper_arrays``), one scalar per trial inside the mapped step, and
``bind(hyper) -> (model, optimizer)`` makes one trial's model and optimizer from them
(e.g. ``optax.adam(hyper["learning_rate"])``, a model whose ``dropout`` is the traced
rate). Every setting thus runs the same program: a grid with a rate of 0 included.

Slots are setting-major: slot ``k`` is setting ``k // n`` with seed ``seeds[k % n]``, so a
seed's data order, initialization and dropout keys are the same under every setting (the
settings are compared on the same draws), and its figures are those a run of that one
setting would give, up to float rounding (``tests/train/test_trials.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import numpy as np
import optax

from rnn_attn.errors import ConfigError
from rnn_attn.train import feed
from rnn_attn.train.run import FitConfig, FitData

# One trial's (model, optimizer) from its hyperparameters (name -> traced scalar).
Bind = Callable[[Mapping[str, jax.Array]], tuple[Any, optax.GradientTransformation]]


def dtype() -> np.dtype:
    """The dtype of a swept value: float32, the one a Python float gets in JAX (x64 off),
    so a trial computes with the value a plain run's number would (and a momentum
    trace keeps its parameters' dtype even where x64 is on, as in the tests)."""
    return np.dtype(np.float32)


def hyper_arrays(config: FitConfig) -> dict[str, np.ndarray]:
    """``{name: <float>[slots]}``: each slot's hyperparameters ({} without trials)."""
    return {name: np.asarray(values, dtype()) for name, values in config.hyperparameters}


def one_trial(config: FitConfig, index: int = 0) -> dict[str, jax.Array]:
    """Slot ``index``'s hyperparameters as JAX scalars (what ``bind`` gets, concrete)."""
    return {k: jax.numpy.asarray(v[index]) for k, v in hyper_arrays(config).items()}


def setting_arrays(setting: Mapping[str, float]) -> dict[str, jax.Array]:
    """One setting's values as the scalars ``bind`` gets inside the program (``dtype``),
    for checking a setting as its trials will run it: a builder may take a number where
    it refuses an array (``keras_optimizer`` takes a momentum of 0 for Adam as a number,
    never as a swept array, which could be any value)."""
    return {k: jax.numpy.asarray(v, dtype()) for k, v in setting.items()}


def hyper_shapes(config: FitConfig) -> dict[str, jax.ShapeDtypeStruct]:
    """Shapes of one trial's hyperparameters (scalars), for tracing a step."""
    return {name: jax.ShapeDtypeStruct((), dtype()) for name, _ in config.hyperparameters}


def bound(
    model, optimizer: optax.GradientTransformation, config: FitConfig, bind: Bind | None
) -> tuple[Any, optax.GradientTransformation]:
    """The model and optimizer that initialize the run's states: ``bind``'s of the first
    trial (its values as arrays, so the optimizer's state has the structure every trial's
    has, e.g. a momentum trace even where the momentum is 0), or the given ones."""
    if not config.hyperparameters:
        return model, optimizer
    if bind is None:
        raise ConfigError(
            f"hyperparameters {[n for n, _ in config.hyperparameters]} are swept but no "
            f"bind was given; expected bind(hyper) -> (model, optimizer)"
        )
    return bind(one_trial(config))


def grid_slots(
    seeds: Sequence[int], settings: Sequence[Mapping[str, float]]
) -> tuple[tuple[int, ...], tuple[tuple[str, tuple[float, ...]], ...]]:
    """``(seeds, hyperparameters)`` of ``FitConfig`` for every setting x seed, setting-major
    (each setting a ``{name: value}`` with the same names)."""
    names = list(settings[0]) if settings else []
    slots = [(seed, setting) for setting in settings for seed in seeds]
    values = tuple((n, tuple(float(s[n]) for _, s in slots)) for n in names)
    return tuple(seed for seed, _ in slots), values


def repeat_data(data: FitData, settings: int) -> FitData:
    """``data`` for ``settings`` x its seeds, setting-major: a sampler's keys and a
    split's per-seed rows repeated once per setting (shared splits are unchanged)."""

    def repeat(part):
        if isinstance(part, feed.Sampler):
            return dataclasses.replace(
                part, keys=np.concatenate([np.asarray(part.keys)] * settings)
            )
        if isinstance(part, feed.Split) and part.rows is not None:
            return dataclasses.replace(part, rows=np.concatenate([part.rows] * settings))
        return part

    return FitData(repeat(data.train), repeat(data.validation))
