"""``results.json``: every experiment's record of a run, written atomically."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from rnn_attn.analysis import schema


def write_results(workdir: str, results: Mapping[str, Any]) -> str:
    """Writes ``workdir/results.json`` as strict JSON (through a temporary file and a
    rename, so a reader never sees it half-written); returns its path.

    JSON has no NaN or Infinity: each non-finite number is written as ``null`` and listed
    under ``"nonfinite"`` (its path, e.g. ``models.gru.per_seed.val_mae[2]``, and what it
    was), so a reader knows why a figure is missing.

    The record is checked against the schema (``schema.validate``) before anything is
    written: ValueError names what does not fit."""
    nonfinite: dict[str, str] = {}
    record = strict_json(results, "", nonfinite)
    if nonfinite:
        record["nonfinite"] = nonfinite
    schema.validate(record)
    path = os.path.join(workdir, "results.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(record, f, indent=2, allow_nan=False)
    os.replace(tmp, path)
    return path


def strict_json(value: Any, where: str, nonfinite: dict[str, str]) -> Any:
    """``value`` with numpy scalars and arrays as Python numbers and lists, and every
    non-finite float as None, its path and value recorded in ``nonfinite``."""
    if isinstance(value, Mapping):
        return {
            k: strict_json(v, f"{where}.{k}" if where else str(k), nonfinite)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | np.ndarray):
        return [strict_json(v, f"{where}[{i}]", nonfinite) for i, v in enumerate(value)]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        nonfinite[where] = repr(value)
        return None
    return value


def print_written(path: str, files: Mapping[str, str], seconds: float) -> None:
    """The closing lines of an experiment's report: what it wrote and how long it took."""
    print(f"\nwrote {', '.join([path, *files.values()])}")
    print(f"total time {seconds:.0f} s")
