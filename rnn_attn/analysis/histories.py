"""Figures read from per-seed training histories (``history[i][metric][epoch - 1]``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

History = Mapping[str, Sequence[float]]


def at_epochs(
    histories: Sequence[History], best_epochs: Sequence[int], figures: Mapping[str, tuple[str, str]]
) -> dict[str, list[float]]:
    """Each seed's value of a history metric at one epoch, by figure name: ``{name:
    (metric, "best" | "final")}`` -> ``{name: [value per seed]}``; "best" is the seed's
    ``best_epochs`` entry (1-based), "final" its last epoch."""
    out = {}
    for name, (metric, when) in figures.items():
        if when not in ("best", "final"):
            raise ValueError(f"figure {name!r}: expected 'best' or 'final', got {when!r}")
        out[name] = [
            h[metric][b - 1 if when == "best" else -1]
            for h, b in zip(histories, best_epochs, strict=True)
        ]
    return out


def train_validation_gap(
    histories: Sequence[History], metric: str = "accuracy"
) -> list[dict[str, float]]:
    """Per epoch (as far as every seed trained), the mean over seeds of the TRAINING
    ``metric``, the VALIDATION ``val_<metric>`` and their gap."""
    rows = []
    for e in range(min(len(h[metric]) for h in histories)):
        train = np.array([h[metric][e] for h in histories])
        val = np.array([h[f"val_{metric}"][e] for h in histories])
        rows.append(
            {
                "epoch": e + 1,
                f"train_{metric}": float(train.mean()),
                f"val_{metric}": float(val.mean()),
                "gap": float((train - val).mean()),
            }
        )
    return rows
