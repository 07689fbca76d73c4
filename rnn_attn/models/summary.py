"""A Keras-like table of a parameter pytree: one row per leaf, shapes and counts."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np


def parameter_count(params: Any) -> int:
    return int(sum(np.prod(np.shape(leaf)) for leaf in jax.tree.leaves(params)))


def summary(params: Any, *, title: str = "Model") -> str:
    """Rows ``path  shape  count``, grouped by top-level layer, with totals."""
    rows = []
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        name = "/".join(str(getattr(p, "key", getattr(p, "idx", p))) for p in path)
        rows.append((name, tuple(np.shape(leaf)), int(np.prod(np.shape(leaf)))))
    width = max([len(r[0]) for r in rows] + [10])
    lines = [f"{title}", f"{'parameter':<{width}}  {'shape':<16} {'count':>10}", "=" * (width + 29)]
    layer_totals: dict[str, int] = {}
    for name, shape, count in rows:
        lines.append(f"{name:<{width}}  {str(shape):<16} {count:>10,}")
        top = name.split("/")[0]
        layer_totals[top] = layer_totals.get(top, 0) + count
    lines.append("=" * (width + 29))
    for top, count in layer_totals.items():
        lines.append(f"{top:<{width}}  {'':<16} {count:>10,}")
    lines.append(f"{'Total params':<{width}}  {'':<16} {parameter_count(params):>10,}")
    return "\n".join(lines)
