"""The benchmarks' flags: a bad value gets one ``error: ...`` line and exit status 2, as
the experiments' flags do, instead of a traceback from deep inside the timed code.

Each benchmark builds its parser with ``parser`` and its counts with ``count(minimum)``,
and runs ``main`` through ``run``, which turns the library's ``ConfigError`` (a value a
public function refused) into that one line.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)  # run() reads rnn_attn's ConfigError


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad flag gets one line (``error: ...``) instead of usage + error."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"error: {message} (see --help)\n")


def parser(doc: str) -> ArgumentParser:
    """A parser described by the first paragraph of a benchmark's docstring."""
    return ArgumentParser(description=doc.split("\n\n")[0])


def count(minimum: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def counts(minimum: int) -> Callable[[str], list[int]]:
    """An argparse ``type``: comma-separated integers, each >= ``minimum``."""
    one = count(minimum)

    def parse(text: str) -> list[int]:
        items = [t.strip() for t in text.split(",")]
        try:
            return [one(t) for t in items]
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated integers >= {minimum}, got {text!r}"
            ) from None

    return parse


def run(main: Callable[[], int | None]) -> int:
    """``main()``'s exit status; a value the library refused (``ConfigError``) is one
    ``error:`` line on stderr and status 2."""
    from rnn_attn.errors import ConfigError

    try:
        return main() or 0
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def names(choices: tuple[str, ...]) -> Callable[[str], list[str]]:
    """An argparse ``type``: comma-separated names, each one of ``choices``, no repeats."""

    def parse(text: str) -> list[str]:
        items = [t.strip() for t in text.split(",")]
        unknown = [t for t in items if t not in choices]
        if unknown or not text.strip():
            raise argparse.ArgumentTypeError(
                f"unknown name {(unknown or [''])[0]!r}; expected comma-separated names "
                f"from {', '.join(choices)}"
            )
        if len(set(items)) != len(items):
            raise argparse.ArgumentTypeError(f"a name is repeated in {text!r}")
        return items

    return parse


def _number(text: str, ok: Callable[[float], bool], expected: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not ok(value):  # NaN fails every comparison
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def positive(text: str) -> float:
    """An argparse ``type``: a finite number > 0."""
    return _number(text, lambda v: 0 < v < float("inf"), "a number > 0")


def nonnegative(text: str) -> float:
    """An argparse ``type``: a finite number >= 0."""
    return _number(text, lambda v: 0 <= v < float("inf"), "a number >= 0")
