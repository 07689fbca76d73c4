"""Optimizers with Keras's defaults, so that a recipe ported from Keras trains alike."""

from __future__ import annotations

import optax


def keras_adam(learning_rate: float = 1e-3) -> optax.GradientTransformation:
    """Adam with Keras's defaults (beta1 0.9, beta2 0.999, epsilon 1e-7)."""
    return optax.adam(learning_rate, b1=0.9, b2=0.999, eps=1e-7)


KERAS_OPTIMIZERS = ("adam", "rmsprop")


def keras_rmsprop(learning_rate: float = 1e-3) -> optax.GradientTransformation:
    """RMSprop with Keras's defaults (rho 0.9, epsilon 1e-7 added outside the square root,
    no momentum)."""
    return optax.rmsprop(learning_rate, decay=0.9, eps=1e-7, eps_in_sqrt=False)


def keras_optimizer(name: str, learning_rate: float) -> optax.GradientTransformation:
    """``adam`` or ``rmsprop`` with Keras's defaults."""
    if name == "adam":
        return keras_adam(learning_rate)
    if name == "rmsprop":
        return keras_rmsprop(learning_rate)
    raise ValueError(f"unknown optimizer {name!r}; expected one of {KERAS_OPTIMIZERS}")
