"""Checks of a value against declared limits, with one clear message: the machinery
behind the config fields' limits (``rnn_attn.config.field``) and, through ``argument``,
behind the arguments of the public constructors and functions (``rnn_attn.nn``,
``rnn_attn.models``, ``rnn_attn.interop``).

An integer without an upper limit must fit JAX's int32; a float must be finite; a
boolean is never taken for an integer, nor a number or a string for a boolean; a
comma-separated list of names has no unknown, repeated or missing entry. A value of the
wrong type raises ``ArgumentTypeError`` (a TypeError, and a ConfigError like every
other refusal, so a ValueError too); a value out of limits, ``ConfigError``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rnn_attn.errors import ConfigError

# JAX computes in 32-bit integers (x64 off): a larger count or size would overflow there.
MAX_INT = 2**31 - 1


class ArgumentTypeError(ConfigError, TypeError):
    """A value of the wrong type (``2.0`` or ``True`` for an integer, ``"no"`` for a
    switch): a TypeError, and a ConfigError (a ValueError) like every other refusal."""


def split_names(text: str) -> list[str]:
    """``'a, b,,c'`` -> ``['a', 'b', 'c']``: a comma-separated flag's entries."""
    return [part.strip() for part in text.split(",") if part.strip()]


def check_value(flag: str, value: Any, kind: type, limits: Mapping[str, Any]) -> None:
    """Raises ConfigError naming ``flag``, ``value`` and what was expected when ``value``
    is not of ``kind`` (int, float, bool or str) or breaks one of ``limits`` (``minimum``,
    ``maximum``, ``above``, ``below``, ``choices``, ``items``; ``why`` explains them)."""
    why = f" ({limits['why']})" if limits.get("why") else ""
    if not _of_kind(value, kind):
        raise ArgumentTypeError(f"{flag} must be {_KIND_TEXT[kind]}, got {value!r}")
    if kind is float and not math.isfinite(value):
        raise ConfigError(f"{flag} must be a finite number, got {value!r}")
    if kind is int and limits.get("maximum") is None and limits.get("below") is None:
        limits = {**limits, "maximum": MAX_INT}  # every count and size fits JAX's int32
    if kind is int and not _within(value, limits):
        # The side that was crossed: "an integer >= 1", "an integer <= 10000".
        low = limits.get("minimum") is not None and value < limits["minimum"]
        side = {"minimum": limits["minimum"]} if low else {"maximum": limits["maximum"]}
        raise ConfigError(f"{flag} must be an integer {_bounds_text(side)}{why}, got {value!r}")
    if kind is float:
        bounds = _bounds_text(limits)
        if bounds and not _within(value, limits):
            text = "a positive number" if bounds == "> 0" else f"a number {bounds}"
            raise ConfigError(f"{flag} must be {text}{why}, got {value!r}")
    if limits.get("choices") is not None and value not in limits["choices"]:
        raise ConfigError(f"{flag} must be one of {list(limits['choices'])}{why}, got {value!r}")
    if limits.get("items") is not None:
        _check_items(flag, value, limits["items"], limits.get("item") or "name")


_KIND_TEXT = {int: "an integer", float: "a finite number", bool: "True or False", str: "a string"}


def _of_kind(value: Any, kind: type) -> bool:
    """Whether ``value`` has the Python type ``kind`` stands for (a bool is no number)."""
    if kind is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind is float:
        return isinstance(value, int | float)
    return isinstance(value, kind)


def argument(name: str, value: Any, kind: type, *, optional: bool = False, **limits: Any) -> Any:
    """``value`` checked as a config field's (``check_value``): of ``kind`` (int, float,
    bool or str) and within ``limits`` (``minimum``, ``maximum``, ``above``, ``below``,
    ``choices``; ``why`` explains them). A numpy scalar counts as the Python value it
    holds (and comes back as one); None passes when ``optional``.

    Raises ``ArgumentTypeError`` (a TypeError and a ValueError) for a wrong type, and
    ``ConfigError`` (a ValueError) for a value out of its limits, both with one message
    naming the argument and what was expected: ``units must be an integer >= 1, got 2.0``.
    """
    if optional and value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    try:
        check_value(name, value, kind, limits)
    except ConfigError as error:
        expected = ("None or " if optional else "") + _expected(kind, limits, value)
        raise type(error)(f"{name} must be {expected}, got {value!r}") from None
    return value


def _expected(kind: type, limits: Mapping[str, Any], value: Any) -> str:
    """What ``argument`` expected, in words: ``an integer >= 1``, ``a number in [0, 1)``,
    ``True or False``, ``one of ['a', 'b']`` (then ``why`` in brackets)."""
    why = f" ({limits['why']})" if limits.get("why") else ""
    if limits.get("choices") is not None:
        return f"one of {list(limits['choices'])}{why}"
    bounds = _bounds_text(limits)
    if kind is int:
        unbounded_above = limits.get("maximum") is None and limits.get("below") is None
        if unbounded_above and _of_kind(value, int) and value > MAX_INT:
            bounds = _bounds_text({**limits, "maximum": MAX_INT})
        return f"an integer {bounds}{why}" if bounds else f"an integer{why}"
    if kind is float and bounds:
        two_sided = bounds.startswith("in ")
        return f"a number {bounds}{why}" if two_sided else f"a finite number {bounds}{why}"
    return _KIND_TEXT[kind] + why


def _within(value: float, limits: Mapping[str, Any]) -> bool:
    lo, hi = limits.get("minimum"), limits.get("maximum")
    above, below = limits.get("above"), limits.get("below")
    return (
        (lo is None or value >= lo)
        and (hi is None or value <= hi)
        and (above is None or value > above)
        and (below is None or value < below)
    )


def _bounds_text(limits: Mapping[str, Any]) -> str:
    """``>= 1``, ``> 0``, ``in [0, 1)`` ... ("" when unbounded)."""
    lo = limits.get("minimum") if limits.get("minimum") is not None else limits.get("above")
    hi = limits.get("maximum") if limits.get("maximum") is not None else limits.get("below")
    left = "[" if limits.get("minimum") is not None else "("
    right = "]" if limits.get("maximum") is not None else ")"
    if lo is not None and hi is not None:
        return f"in {left}{_number(lo)}, {_number(hi)}{right}"
    if lo is not None:
        return (">= " if left == "[" else "> ") + _number(lo)
    if hi is not None:
        return ("<= " if right == "]" else "< ") + _number(hi)
    return ""


def _number(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


def _check_items(flag: str, text: str, allowed: Sequence[str], item: str) -> None:
    names = split_names(text)
    if not names:
        raise ConfigError(f"{flag} is empty; expected some of {list(allowed)}")
    for name in names:
        if name not in allowed:
            raise ConfigError(f"unknown {item} {name!r}; expected one of {list(allowed)}")
    if len(set(names)) != len(names):
        raise ConfigError(f"{flag} repeats a {item}: {text!r}")
