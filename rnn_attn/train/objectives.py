"""What a run minimizes and reports, per example.

An ``Objective`` is a loss ``fn(outputs, targets) -> <float>[batch]`` and named metrics of
the same shape; the engine weights them by each example's ``weight`` (0 for padding) and
sums them over an epoch, so a reported figure is a mean over real examples only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

PerExample = Callable[[jax.Array, jax.Array], jax.Array]


@dataclasses.dataclass(frozen=True)
class Objective:
    """Per-example loss and metrics: ``fn(outputs, targets) -> <float>[batch]``.

    ``higher_is_better`` names the metrics to maximize (for picking the best epoch).
    """

    loss: PerExample
    metrics: tuple[tuple[str, PerExample], ...] = ()
    higher_is_better: tuple[str, ...] = ()


def _binary_accuracy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    return ((logits > 0) == (labels > 0.5)).astype(jnp.float32)


def binary_classification() -> Objective:
    """One logit per example, labels in {0, 1}: binary cross-entropy and accuracy
    (Keras's ``binary_crossentropy`` on a sigmoid output, computed stably on the logit)."""
    return Objective(
        loss=lambda logits, labels: optax.sigmoid_binary_cross_entropy(
            logits, labels.astype(logits.dtype)
        ),
        metrics=(("accuracy", _binary_accuracy),),
        higher_is_better=("accuracy", "val_accuracy"),
    )


def _categorical_accuracy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    return (jnp.argmax(logits, -1) == labels).astype(jnp.float32)


def categorical_classification() -> Objective:
    """Logits ``[batch, classes]``, integer labels: cross-entropy and accuracy.

    ``cross_entropy`` is reported beside ``loss`` because ``loss`` includes the model's
    regularization penalty (as Keras's does) and a perplexity must not.
    """
    return Objective(
        loss=optax.softmax_cross_entropy_with_integer_labels,
        metrics=(
            ("accuracy", _categorical_accuracy),
            ("cross_entropy", optax.softmax_cross_entropy_with_integer_labels),
        ),
        higher_is_better=("accuracy", "val_accuracy"),
    )


def _absolute_error(outputs: jax.Array, targets: jax.Array) -> jax.Array:
    return jnp.abs(outputs.reshape(targets.shape) - targets)


def mean_absolute_error() -> Objective:
    """Regression with Keras's ``mae`` loss; outputs ``[batch]`` or ``[batch, 1]``."""
    return Objective(loss=_absolute_error, metrics=(("mae", _absolute_error),))


def _position_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean(-1)


def sequence_cross_entropy() -> Objective:
    """Logits ``[batch, time, classes]``, integer labels ``[batch, time]``: cross-entropy
    averaged over the positions (Keras's categorical cross-entropy on a sequence)."""
    return Objective(loss=_position_cross_entropy)


def masked_sequence_cross_entropy(pad_id: int) -> Objective:
    """Logits ``[batch, time, classes]``, labels ``[batch, time]`` whose positions equal to
    ``pad_id`` are padding: the cross-entropy averaged over each example's other positions,
    and the teacher-forced ``token_accuracy`` there (a sequence-to-sequence target: its
    tokens, its end token, then padding)."""

    def mean_over_tokens(values: jax.Array, labels: jax.Array) -> jax.Array:
        real = (labels != pad_id).astype(values.dtype)
        return jnp.sum(values * real, -1) / jnp.maximum(jnp.sum(real, -1), 1.0)

    def loss(logits, labels):
        return mean_over_tokens(
            optax.softmax_cross_entropy_with_integer_labels(logits, labels), labels
        )

    def accuracy(logits, labels):
        return mean_over_tokens(_categorical_accuracy(logits, labels), labels)

    return Objective(
        loss=loss,
        metrics=(("token_accuracy", accuracy),),
        higher_is_better=("token_accuracy", "val_token_accuracy"),
    )
