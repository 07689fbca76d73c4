"""The errors a user sees as one line: a leaf module, imported by every layer."""

from __future__ import annotations


class ConfigError(ValueError):
    """A bad setting or input; its message is one line meant for the user."""


class NonFiniteError(ConfigError):
    """The loss or the gradients of a training step were NaN or infinite."""


class DegenerateRunError(ConfigError):
    """A run that trained nothing: no parameter changed, every step of an epoch was
    skipped as non-finite, or a figure would be a mean of zero samples."""
