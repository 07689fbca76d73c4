"""``results.json``: every experiment's record of a run, written atomically."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any


def write_results(workdir: str, results: Mapping[str, Any]) -> str:
    """Writes ``workdir/results.json`` (through a temporary file and a rename, so a
    reader never sees it half-written); returns its path."""
    path = os.path.join(workdir, "results.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(results, f, indent=2)
    os.replace(tmp, path)
    return path


def print_written(path: str, files: Mapping[str, str], seconds: float) -> None:
    """The closing lines of an experiment's report: what it wrote and how long it took."""
    print(f"\nwrote {', '.join([path, *files.values()])}")
    print(f"total time {seconds:.0f} s")
