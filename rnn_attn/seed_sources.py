"""Seeds by source: what each run's randomness comes from, varied separately.

A run (one entry of the engine's seed axis) draws on three sources of randomness: its
initialization (``init``), the order and draw of its training data (``data``: the
shuffle of each epoch, a sampler's stream, an experiment's per-run subset and test
draws) and its dropout masks (``dropout``). By default one seed number sets all three
(``default_sources``: the derivation every run had before sources existed, so its
figures are unchanged). A grid (``--seeds-by-source init=5,data=5``) crosses the
sources instead: each named source takes the seeds ``first_seed .. first_seed + n - 1``,
every combination is one run (init-major, then data, then dropout), a source not named
keeps the seed ``first_seed``, and dropout follows init unless it is named. The run
``(init i, data i, dropout i)`` is the default run of seed ``i``.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence

from rnn_attn.errors import ConfigError

SOURCES = ("init", "data", "dropout")
FLAG = "--seeds-by-source"


def parse_grid(text: str, *, max_runs: int) -> dict[str, int]:
    """``"init=5,data=3"`` -> ``{"init": 5, "data": 3}`` (the sources in ``SOURCES``
    order). ConfigError naming the entry for an unknown or repeated source, a count that
    is not an integer >= 1, and a grid of more than ``max_runs`` runs."""
    counts: dict[str, int] = {}
    entries = [part.strip() for part in text.split(",")]
    if not text.strip() or not all(entries):
        raise ConfigError(
            f"{FLAG} {text!r} has an empty entry; expected SOURCE=COUNT entries "
            f"separated by commas, e.g. init=5,data=5"
        )
    for entry in entries:
        name, equals, count = (part.strip() for part in entry.partition("="))
        if name not in SOURCES:
            raise ConfigError(
                f"{FLAG}: unknown source {name!r} in {entry!r}; expected some of {list(SOURCES)}"
            )
        if name in counts:
            raise ConfigError(f"{FLAG} {text!r} names the source {name!r} twice; expected once")
        if not equals or not re.fullmatch(r"-?[0-9]+", count) or int(count) < 1:
            raise ConfigError(
                f"{FLAG}: the count of {name!r} must be an integer >= 1, got {count or entry!r}"
            )
        counts[name] = int(count)
    runs = math.prod(counts.values())
    if runs > max_runs:
        raise ConfigError(
            f"{FLAG} {text!r} makes {runs:,} runs; expected at most {max_runs:,} "
            f"(each run is initialized on the host)"
        )
    return {name: counts[name] for name in SOURCES if name in counts}


def count_runs(text: str, *, max_runs: int) -> int:
    """The number of runs of the grid ``text`` (``parse_grid``'s ConfigError for a bad one)."""
    return math.prod(parse_grid(text, max_runs=max_runs).values())


def grid(counts: Mapping[str, int], first_seed: int) -> dict[str, tuple[int, ...]]:
    """Each run's seed of every source (``SOURCES`` -> one seed per run) for the grid
    ``counts`` (``parse_grid``): the product of the named sources' seeds, init-major."""
    values = {name: range(first_seed, first_seed + counts.get(name, 1)) for name in SOURCES}
    runs = list(itertools.product(*(values[name] for name in SOURCES)))
    out = {name: tuple(run[i] for run in runs) for i, name in enumerate(SOURCES)}
    if "dropout" not in counts:
        out["dropout"] = out["init"]  # dropout follows initialization unless named
    return out


def default_sources(seeds: Sequence[int]) -> dict[str, tuple[int, ...]]:
    """The default derivation: every source of a run is its seed number."""
    return {name: tuple(seeds) for name in SOURCES}


def varied(sources: Mapping[str, Sequence[int]]) -> list[str]:
    """The sources whose seed differs between runs, in ``SOURCES`` order."""
    return [name for name in SOURCES if len(set(sources[name])) > 1]


def crossed(counts: Mapping[str, int]) -> list[str] | None:
    """The two sources a grid crosses (each with at least 2 seeds), or None when it
    crosses fewer or more (the decomposition of ``analysis.variance`` is two-way)."""
    named = [name for name in SOURCES if counts.get(name, 1) >= 2]
    return named if len(named) == 2 else None


def describe_grid(counts: Mapping[str, int]) -> str:
    """``init 5 x data 5 (dropout follows init)``: a grid in words."""
    text = " x ".join(f"{name} {n}" for name, n in counts.items())
    return text + ("" if "dropout" in counts else " (dropout follows init)")
