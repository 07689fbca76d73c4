"""Two ``results.json`` dicts compared seed by seed: pure functions, no files, no runs.

The contract is ``models.<model>.per_seed.<metric>``, a list with one figure per seed;
everything else in the envelope may change. ``compare_results`` gives

- ``rows``: one per (model, metric, seed) that either side has under a model and metric
  both sides have: ``old``, ``new``, ``verdict`` (``equal``, ``different``, ``old only``,
  ``new only``) and ``difference`` (new - old, for two numbers that differ);
- ``one_sided``: the models and metrics only one side has (``metric`` None for a whole
  model), with the side;
- ``counts``: equal and different figures, and items (models, metrics, seeds) only on
  the old or the new side.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

EQUAL, DIFFERENT, OLD_ONLY, NEW_ONLY = "equal", "different", "old only", "new only"


def per_seed_figures(results: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{model: {metric: per-seed list}}`` of a results dict; a model without a
    ``per_seed`` mapping has no metrics."""
    models = results.get("models") if isinstance(results, Mapping) else None
    if not isinstance(models, Mapping):
        return {}
    out = {}
    for name, model in models.items():
        per_seed = model.get("per_seed") if isinstance(model, Mapping) else None
        out[str(name)] = dict(per_seed) if isinstance(per_seed, Mapping) else {}
    return out


def is_number(value: Any) -> bool:
    """A real number (bools are compared as values, not numbers)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def compare_values(old: Any, new: Any, tolerance: float = 0.0) -> tuple[str, float | None]:
    """``(verdict, difference)`` of one seed's figures. Numbers are equal when identical
    (NaN and NaN included) or at most ``tolerance`` apart; anything else when ``==``
    (a bool never equals a number).
    ``difference`` is new - old for two numbers that differ, else None."""
    if is_number(old) and is_number(new):
        if old == new or (math.isnan(old) and math.isnan(new)):
            return EQUAL, None
        difference = new - old
        if abs(difference) <= tolerance:  # NaN and inf gaps are never within tolerance
            return EQUAL, difference
        return DIFFERENT, difference
    same = old == new and not (is_number(old) or is_number(new))  # True == 1, but differs
    return (EQUAL if same else DIFFERENT), None


def compare_metric(
    model: str, metric: str, old: Any, new: Any, tolerance: float = 0.0
) -> list[dict[str, Any]]:
    """One row per seed of one metric; a value that is not a list is one row (seed
    None); a seed only one side has gets ``old only`` or ``new only``."""
    if not isinstance(old, list) or not isinstance(new, list):
        verdict, difference = compare_values(old, new, tolerance)
        return [_row(model, metric, None, old, new, verdict, difference)]
    rows = []
    for seed in range(max(len(old), len(new))):
        if seed >= len(new):
            rows.append(_row(model, metric, seed, old[seed], None, OLD_ONLY, None))
        elif seed >= len(old):
            rows.append(_row(model, metric, seed, None, new[seed], NEW_ONLY, None))
        else:
            verdict, difference = compare_values(old[seed], new[seed], tolerance)
            rows.append(_row(model, metric, seed, old[seed], new[seed], verdict, difference))
    return rows


def _row(model, metric, seed, old, new, verdict, difference) -> dict[str, Any]:
    return {
        "model": model,
        "metric": metric,
        "seed": seed,
        "old": old,
        "new": new,
        "verdict": verdict,
        "difference": difference,
    }


def _in_order(old: Mapping, new: Mapping) -> list[str]:
    """The keys of ``old`` in its order, then those only ``new`` has."""
    return [*old, *(k for k in new if k not in old)]


def compare_results(
    old: Mapping[str, Any], new: Mapping[str, Any], tolerance: float = 0.0
) -> dict[str, Any]:
    """The seed-by-seed comparison of two results dicts (see the module's docstring)."""
    old_figures, new_figures = per_seed_figures(old), per_seed_figures(new)
    rows, one_sided = [], []
    for model in _in_order(old_figures, new_figures):
        if model not in new_figures or model not in old_figures:
            side = "old" if model in old_figures else "new"
            one_sided.append({"model": model, "metric": None, "side": side})
            continue
        metrics_old, metrics_new = old_figures[model], new_figures[model]
        for metric in _in_order(metrics_old, metrics_new):
            if metric not in metrics_new or metric not in metrics_old:
                side = "old" if metric in metrics_old else "new"
                one_sided.append({"model": model, "metric": metric, "side": side})
                continue
            rows += compare_metric(
                model, metric, metrics_old[metric], metrics_new[metric], tolerance
            )
    return {"rows": rows, "one_sided": one_sided, "counts": count(rows, one_sided)}


def count(rows: list[dict[str, Any]], one_sided: list[dict[str, Any]]) -> dict[str, int]:
    """Equal and different figures; items (models, metrics, seeds) on one side only."""
    verdicts = [r["verdict"] for r in rows] + [f"{o['side']} only" for o in one_sided]
    return {
        "equal": verdicts.count(EQUAL),
        "different": verdicts.count(DIFFERENT),
        "old_only": verdicts.count(OLD_ONLY),
        "new_only": verdicts.count(NEW_ONLY),
    }


def kept(counts: Mapping[str, int]) -> bool:
    """Every figure of the old side is on the new side and equal (at least one was
    compared). Figures only the new side has do not count against it."""
    return counts["equal"] > 0 and counts["different"] == 0 and counts["old_only"] == 0


def total_counts(comparisons: list[Mapping[str, Any]]) -> dict[str, int]:
    """The counts of several comparisons added up."""
    keys = ("equal", "different", "old_only", "new_only")
    return {k: sum(c["counts"][k] for c in comparisons) for k in keys}
