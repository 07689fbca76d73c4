"""Optimizers with Keras's defaults, so that a recipe ported from Keras trains alike.

Each takes its learning rate (and SGD its momentum) as a number or as a JAX array, a
swept hyperparameter traced inside a trial's step (``rnn_attn.train.trials``); an array
never changes the optimizer state's structure (SGD keeps a momentum trace even at 0)."""

from __future__ import annotations

import optax

from rnn_attn.nn.recurrent import is_array


def keras_adam(learning_rate: float = 1e-3) -> optax.GradientTransformation:
    """Adam with Keras's defaults (beta1 0.9, beta2 0.999, epsilon 1e-7)."""
    return optax.adam(learning_rate, b1=0.9, b2=0.999, eps=1e-7)


KERAS_OPTIMIZERS = ("adam", "rmsprop", "sgd")


def keras_rmsprop(learning_rate: float = 1e-3) -> optax.GradientTransformation:
    """RMSprop with Keras's defaults (rho 0.9, epsilon 1e-7 added outside the square root,
    no momentum)."""
    return optax.rmsprop(learning_rate, decay=0.9, eps=1e-7, eps_in_sqrt=False)


def keras_sgd(learning_rate: float = 1e-2, momentum: float = 0.0) -> optax.GradientTransformation:
    """Keras's SGD: ``v = momentum * v - lr * g; w += v`` (plain SGD at momentum 0), which
    is optax's trace ``t = g + momentum * t; w -= lr * t`` at a constant learning rate."""
    if is_array(momentum):  # swept: checked before, and a trace whatever its value
        return optax.sgd(learning_rate, momentum=momentum)
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    return optax.sgd(learning_rate, momentum=momentum or None)


def keras_optimizer(
    name: str, learning_rate: float, momentum: float = 0.0
) -> optax.GradientTransformation:
    """``adam``, ``rmsprop`` or ``sgd`` with Keras's defaults; ``momentum`` only for sgd."""
    if (is_array(momentum) or momentum) and name != "sgd":
        raise ValueError(f"momentum {momentum} applies to the optimizer 'sgd' only, not {name!r}")
    if name == "adam":
        return keras_adam(learning_rate)
    if name == "rmsprop":
        return keras_rmsprop(learning_rate)
    if name == "sgd":
        return keras_sgd(learning_rate, momentum)
    raise ValueError(f"unknown optimizer {name!r}; expected one of {KERAS_OPTIMIZERS}")
