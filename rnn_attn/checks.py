"""Checks of a value against declared limits, with one clear message: the machinery
behind the config fields' limits (``rnn_attn.config.field``), usable by any layer.

An integer without an upper limit must fit JAX's int32; a float must be finite; a
boolean is never taken for an integer; a comma-separated list of names has no unknown,
repeated or missing entry.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from rnn_attn.errors import ConfigError

# JAX computes in 32-bit integers (x64 off): a larger count or size would overflow there.
MAX_INT = 2**31 - 1


def split_names(text: str) -> list[str]:
    """``'a, b,,c'`` -> ``['a', 'b', 'c']``: a comma-separated flag's entries."""
    return [part.strip() for part in text.split(",") if part.strip()]


def check_value(flag: str, value: Any, kind: type, limits: Mapping[str, Any]) -> None:
    """Raises ConfigError naming ``flag``, ``value`` and what was expected when ``value``
    is not of ``kind`` (int, float, bool or str) or breaks one of ``limits`` (``minimum``,
    ``maximum``, ``above``, ``below``, ``choices``, ``items``; ``why`` explains them)."""
    why = f" ({limits['why']})" if limits.get("why") else ""
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{flag} must be an integer, got {value!r}")
    if kind is float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ConfigError(f"{flag} must be a finite number, got {value!r}")
    if kind is bool and not isinstance(value, bool):
        raise ConfigError(f"{flag} must be True or False, got {value!r}")
    if kind is str and not isinstance(value, str):
        raise ConfigError(f"{flag} must be a string, got {value!r}")
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
