"""Which cases of an exhaustive matrix run in the README's test command.

A test over every cell x every option compiles a program per case; the README's command
runs a covering subset (every value of every axis at least once) and the slow tier
(``pytest -m slow``, run by ``.ci/run``) the rest, so the whole matrix still runs in CI.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

import pytest


def tiered(cases: Iterable, default: Sequence) -> list:
    """``cases`` as pytest parameters: those in ``default`` unmarked, the rest ``slow``.
    A case of several arguments is a tuple (as ``parametrize`` takes it)."""
    out = []
    for case in cases:
        values = case if isinstance(case, tuple) else (case,)
        marks = () if case in default else (pytest.mark.slow,)
        out.append(pytest.param(*values, marks=marks))
    return out


def covering(*axes: Sequence) -> list:
    """The product of ``axes`` as pytest parameters (``tiered``), the default tier a
    covering subset: greedily, the case that brings the most values not yet covered, so
    every value of every axis runs at least once by default."""
    cases = list(itertools.product(*axes))
    covered: set = set()
    default = []
    while len(covered) < sum(len(set(axis)) for axis in axes):
        best = max(cases, key=lambda c: len(set(enumerate(c)) - covered))
        default.append(best)
        covered |= set(enumerate(best))
    return tiered(cases, default)
