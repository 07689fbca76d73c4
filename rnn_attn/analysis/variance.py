"""How much of a figure's variance each source of randomness contributes, from a crossed
grid of runs (``--seeds-by-source init=I,data=J``: every initialization seed with every
data-order seed, one run each).

The model is the two-way random-effects ANOVA without replication: run ``(i, j)`` scores

    y_ij = mu + a_i + b_j + e_ij,   a_i ~ N(0, s2_a), b_j ~ N(0, s2_b), e_ij ~ N(0, s2_e)

with ``a`` the first source's effect (``I`` seeds), ``b`` the second's (``J`` seeds) and
``e`` the residual: their interaction and everything else, which one run per cell cannot
tell apart. The mean squares come from statsmodels' ANOVA table (``ols`` and
``anova_lm``; on a complete grid every type of sums of squares agrees) with its F tests
of ``s2_a = 0`` and ``s2_b = 0``. The components are the method-of-moments (ANOVA)
estimates, from ``E[MS_a] = s2_e + J s2_a``, ``E[MS_b] = s2_e + I s2_b``, ``E[MS_e] =
s2_e``; a negative estimate is set to 0 and named under ``truncated``. A source's share
is its component over their sum, the variance of one new run with every source new.

Each component, share and the total has a percentile interval from a parametric
bootstrap: ``n_boot`` grids of the same shape drawn from the normal model at the
estimated (truncated) components with ``numpy.random.default_rng(seed)``, each estimated
the same way. Hand-written here, with the closed-form mean squares of a complete grid
(checked against statsmodels' table in the tests): statsmodels fits crossed variance
components only by (RE)ML (``MixedLM`` with ``vc_formula``, which equals these estimates
on a balanced grid when none is negative, also checked in the tests) and neither it nor
scipy bootstraps them. With few seeds per source the intervals are wide: a component
estimated from 5 seeds has 4 degrees of freedom.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

RESIDUAL = "residual"
N_BOOT = 2000
METHOD = (
    "two-way random-effects ANOVA without replication (statsmodels ols + anova_lm); "
    "variance components by the method of moments (expected mean squares), negative "
    "estimates set to 0"
)


def crossed_table(values, first: Sequence[int], second: Sequence[int]) -> tuple[np.ndarray, list]:
    """``values`` (one per run) as the grid ``[I, J]`` of its runs' ``first`` and
    ``second`` seeds (each sorted), with those seeds; ValueError unless every pair of
    seeds is there exactly once and every value is a finite number."""
    y = np.asarray(values, np.float64)
    if y.ndim != 1 or not len(y) == len(first) == len(second):
        raise ValueError(
            f"expected one value per run and each run's two seeds, got {np.shape(values)} "
            f"values for {len(first)} and {len(second)} seeds"
        )
    if not np.isfinite(y).all():
        raise ValueError(f"every value must be a finite number, got {y[~np.isfinite(y)][:3]}")
    rows, cols = sorted(set(first)), sorted(set(second))
    if len(rows) < 2 or len(cols) < 2:
        raise ValueError(
            f"a crossed grid needs at least 2 seeds of each source, got {rows} x {cols}"
        )
    table = np.full((len(rows), len(cols)), np.nan)
    for value, r, c in zip(y, first, second, strict=True):
        i, j = rows.index(r), cols.index(c)
        if not np.isnan(table[i, j]):
            raise ValueError(f"the seeds ({r}, {c}) hold more than one run; expected one")
        table[i, j] = value
    if np.isnan(table).any():
        i, j = (int(k[0]) for k in np.nonzero(np.isnan(table)))
        raise ValueError(f"the grid has no run with seeds ({rows[i]}, {cols[j]}); expected all")
    return table, [rows, cols]


def mean_squares(tables: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(MS_a, MS_b, MS_e)`` of complete grids ``[..., I, J]`` (closed form)."""
    rows, cols = tables.shape[-2:]
    grand = tables.mean((-2, -1), keepdims=True)
    row = tables.mean(-1, keepdims=True)
    col = tables.mean(-2, keepdims=True)
    ms_a = cols * ((row - grand) ** 2).sum((-2, -1)) / (rows - 1)
    ms_b = rows * ((col - grand) ** 2).sum((-2, -1)) / (cols - 1)
    ms_e = ((tables - row - col + grand) ** 2).sum((-2, -1)) / ((rows - 1) * (cols - 1))
    return ms_a, ms_b, ms_e


def moment_estimates(ms_a, ms_b, ms_e, rows: int, cols: int) -> np.ndarray:
    """``[..., 3]``: the components ``(s2_a, s2_b, s2_e)`` solved from the mean squares,
    not truncated."""
    return np.stack(np.broadcast_arrays((ms_a - ms_e) / cols, (ms_b - ms_e) / rows, ms_e), axis=-1)


def anova_table(table: np.ndarray, names: Sequence[str]) -> dict[str, dict]:
    """statsmodels' ANOVA table of a complete grid: per source and the residual, its
    ``df``, ``sum_sq``, ``mean_sq`` and (sources) ``F`` and ``p_value``."""
    import pandas as pd
    from statsmodels.formula.api import ols
    from statsmodels.stats.anova import anova_lm

    rows, cols = np.indices(table.shape)
    frame = pd.DataFrame({"y": table.ravel(), "a": rows.ravel(), "b": cols.ravel()})
    result = anova_lm(ols("y ~ C(a) + C(b)", data=frame).fit(), typ=2)
    out = {}
    for name, term in ((names[0], "C(a)"), (names[1], "C(b)"), (RESIDUAL, "Residual")):
        line = result.loc[term]
        out[name] = {
            "df": int(line["df"]),
            "sum_sq": float(line["sum_sq"]),
            "mean_sq": float(line["sum_sq"] / line["df"]),
        }
        if term != "Residual":
            out[name] |= {"F": float(line["F"]), "p_value": float(line["PR(>F)"])}
    return out


def _shares(components: np.ndarray) -> np.ndarray:
    """Each component over their sum (NaN where every one is 0)."""
    total = components.sum(-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, components / np.where(total > 0, total, 1.0), np.nan)


def parametric_bootstrap(
    components: np.ndarray, shape: tuple[int, int], n_boot: int, seed: int
) -> np.ndarray:
    """``[n_boot, 3]`` truncated components re-estimated from ``n_boot`` grids drawn
    from the normal model at ``components`` (``numpy.random.default_rng(seed)``)."""
    rng = np.random.default_rng(seed)
    sd = np.sqrt(components)
    rows, cols = shape
    a = rng.standard_normal((n_boot, rows, 1)) * sd[0]
    b = rng.standard_normal((n_boot, 1, cols)) * sd[1]
    e = rng.standard_normal((n_boot, rows, cols)) * sd[2]
    raw = moment_estimates(*mean_squares(a + b + e), rows, cols)
    return np.maximum(raw, 0.0)


def _interval(draws: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    tail = 100 * (1 - confidence) / 2
    finite = draws[np.isfinite(draws)]
    if finite.size == 0:
        return None, None
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def _number(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def decompose(
    values,
    first: Sequence[int],
    second: Sequence[int],
    *,
    names: Sequence[str] = ("init", "data"),
    confidence: float = 0.95,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> dict:
    """The variance of ``values`` (one per run) split between the two crossed sources
    whose seeds each run had (``first``, ``second``, named ``names``) and the residual
    (the module doc): per component its ``variance`` (truncated at 0), ``raw_estimate``,
    ``share`` of the total and both ``ci_*`` intervals, with the ANOVA table's figures;
    ``total`` (the variance of one new run) with its interval; ``truncated``: the
    components whose estimate was negative. JSON-ready (an undefined share is None)."""
    if not 0 < confidence < 1 or n_boot < 100:
        raise ValueError(
            f"expected 0 < confidence < 1 and n_boot >= 100, got {confidence}, {n_boot}"
        )
    table, levels = crossed_table(values, first, second)
    keys = [names[0], names[1], RESIDUAL]
    anova = anova_table(table, names)
    if np.ptp(table) == 0:  # no variance: not the 1e-32 of the least-squares fit's rounding
        for key in keys:
            anova[key] |= {"sum_sq": 0.0, "mean_sq": 0.0}
            anova[key] |= {"F": None, "p_value": None} if key != RESIDUAL else {}
    raw = moment_estimates(*(anova[k]["mean_sq"] for k in keys), *table.shape)
    estimate = np.maximum(raw, 0.0)
    draws = parametric_bootstrap(estimate, table.shape, n_boot, seed)
    shares, share_draws = _shares(estimate), _shares(draws)
    components = {}
    for k, key in enumerate(keys):
        low, high = _interval(draws[:, k], confidence)
        share_low, share_high = _interval(share_draws[:, k], confidence)
        components[key] = {
            "variance": float(estimate[k]),
            "raw_estimate": float(raw[k]),
            "share": _number(shares[k]),
            "ci_low": low,
            "ci_high": high,
            "share_ci_low": share_low,
            "share_ci_high": share_high,
            **anova[key],
        }
    total_low, total_high = _interval(draws.sum(-1), confidence)
    return {
        "method": METHOD,
        "interval": f"parametric bootstrap (normal random-effects model at the estimated "
        f"components), percentile, {n_boot} grids, seed {seed}",
        "sources": list(names),
        "levels": {names[0]: levels[0], names[1]: levels[1]},
        "n": int(table.size),
        "mean": float(table.mean()),
        "confidence": confidence,
        "components": components,
        "total": {"variance": float(estimate.sum()), "ci_low": total_low, "ci_high": total_high},
        "truncated": [key for k, key in enumerate(keys) if raw[k] < 0],
    }


def of_model(
    per_seed: dict, sources: dict[str, Sequence[int]], crossed: Sequence[str], metrics
) -> dict[str, dict]:
    """``{metric: decompose(...)}`` for each of ``metrics`` whose every per-seed value is
    a finite number, over the two ``crossed`` sources of ``sources`` (a model entry's
    ``seeds_by_source``)."""
    out = {}
    for metric in metrics:
        values = per_seed.get(metric)
        if values is None or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in values
        ):
            continue
        out[metric] = decompose(
            values, sources[crossed[0]], sources[crossed[1]], names=tuple(crossed)
        )
    return out


def format_decomposition(result: dict, *, scale: float = 1.0) -> str:
    """One line: each component's share with its interval, the total's sd (``scale``:
    the metric's printed unit, e.g. 100 for percentage points)."""

    def share(c: dict) -> str:
        if c["share"] is None:
            return "-"
        low, high = (100 * (v or 0.0) for v in (c["share_ci_low"], c["share_ci_high"]))
        return f"{100 * c['share']:.0f}% [{low:.0f}, {high:.0f}]"

    parts = [f"{name} {share(c)}" for name, c in result["components"].items()]
    total = result["total"]
    sd = scale * math.sqrt(total["variance"])
    low, high = (scale * math.sqrt(v or 0.0) for v in (total["ci_low"], total["ci_high"]))
    cut = f"; negative estimate set to 0: {', '.join(result['truncated'])}" * bool(
        result["truncated"]
    )
    return f"{', '.join(parts)}; sd of one run {sd:.3g} [{low:.3g}, {high:.3g}]{cut}"
