"""How many seeds a comparison needs: power and sample size from statsmodels, and the
boundaries of a group-sequential plan from scipy.

From a pilot run's per-seed figures, ``plan`` gives the seeds needed to detect a STATED
difference (not the one the pilot happened to show) with the wanted power, two ways:

- paired by seed (both models run the same seeds): the one-sample t-test of the per-seed
  differences, effect size ``D / sd(differences)``
  (``statsmodels.stats.power.TTestPower``);
- unpaired: the two-sample t-test, effect size ``D / pooled sd``, the same number of seeds
  per model (``statsmodels.stats.power.TTestIndPower``);

and the power the pilot itself had for that difference. A pilot of 3 seeds estimates a
standard deviation poorly, so the seeds needed are also given at the sd's one-sided 80%
upper confidence limit (chi-square, ``scipy.stats.chi2``): the count that still holds if
the pilot happened to understate the spread.

The sequential mode adds seeds in rounds and stops at the first look whose test crosses
its boundary. ``spending_boundaries`` gives the two-sided z boundaries of the Lan-DeMets
approximation of O'Brien-Fleming spending (each side spends
``2 - 2 Phi(z_{alpha/4} / sqrt(t))`` of its ``alpha / 2`` by information fraction ``t``,
as gsDesign's ``sfLDOF`` and ldbounds do), ``obrien_fleming_boundaries`` the classical
constant ``c sqrt(K / k)``; both solve for the multivariate normal probabilities of the
looks (``scipy.stats.multivariate_normal``, Genz's quasi-Monte Carlo, a fixed seed) with
``scipy.optimize.brentq``. Up to ``MAX_LOOKS`` looks: the probability's cost grows
steeply with its dimension (5 looks: about 3 s on 2 cores; 8: about 50 s).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import optimize
from scipy import stats as scipy_stats

MAX_SEEDS = 10_000_000  # a plan past this is refused: the difference is too small to see
MAX_LOOKS = 5
SD_UPPER_CONFIDENCE = 0.8


def _check_probability(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be a number in (0, 1), got {value!r}")


def _check_plan(
    difference: float, sd: float, power: float, alpha: float, what: str = "standard deviation"
) -> None:
    if isinstance(difference, bool) or not isinstance(difference, int | float):
        raise ValueError(f"difference must be a number, got {difference!r}")
    if not (math.isfinite(difference) and difference > 0):
        raise ValueError(f"difference must be a finite number > 0, got {difference!r}")
    if not (math.isfinite(sd) and sd > 0):
        raise ValueError(
            f"the pilot's {what} is {sd!r}; a plan needs a spread to plan from (a finite "
            f"number > 0)"
        )
    _check_probability("power", power)
    _check_probability("alpha", alpha)


def power_at(difference: float, sd: float, n: int, *, paired: bool, alpha: float = 0.05) -> float:
    """The power of a two-sided t-test at level ``alpha`` to detect ``difference`` with
    ``n`` seeds (paired: ``n`` pairs, ``sd`` of the per-seed differences; unpaired: ``n``
    seeds per model, ``sd`` pooled)."""
    from statsmodels.stats.power import TTestIndPower, TTestPower

    _check_plan(difference, sd, 0.5, alpha)
    effect = difference / sd
    solver = TTestPower() if paired else TTestIndPower()
    sizes = {"nobs": n} if paired else {"nobs1": n, "ratio": 1.0}
    both = solver.power(effect_size=effect, alpha=alpha, **sizes)
    if math.isnan(both):
        # scipy's noncentral t returns NaN far in the wrong-sign tail (a huge effect, few
        # seeds); that tail is then below 1e-15, so the right-sign tail alone is the power.
        both = solver.power(effect_size=effect, alpha=alpha / 2, alternative="larger", **sizes)
    return float(both)


def seeds_for_power(
    difference: float, sd: float, *, paired: bool, power: float = 0.8, alpha: float = 0.05
) -> int:
    """The fewest seeds (paired: pairs; unpaired: per model), at least 2, whose power for
    ``difference`` reaches ``power``: the first integer where statsmodels' power does
    (found by bisection on the integers; power grows with the seeds)."""
    _check_plan(difference, sd, power, alpha)
    low, high = 1, 2  # power_at(low) < power <= power_at(high)
    while power_at(difference, sd, high, paired=paired, alpha=alpha) < power:
        low, high = high, 2 * high
        if high > MAX_SEEDS:
            raise ValueError(
                f"detecting a difference of {difference:g} with sd {sd:g} needs more than "
                f"{MAX_SEEDS:,} seeds; state a larger difference"
            )
    while high - low > 1:
        mid = (low + high) // 2
        if power_at(difference, sd, mid, paired=paired, alpha=alpha) < power:
            low = mid
        else:
            high = mid
    return high


def sd_upper_limit(sd: float, n: int, confidence: float = SD_UPPER_CONFIDENCE) -> float:
    """One-sided upper confidence limit of a standard deviation estimated from ``n``
    values: ``sd * sqrt((n - 1) / chi2_{1-confidence}(n - 1))``."""
    return float(sd * math.sqrt((n - 1) / scipy_stats.chi2.ppf(1.0 - confidence, n - 1)))


def _one_way(difference, sd, n, *, paired, power, alpha) -> dict:
    what = "sd of the per-seed differences" if paired else "pooled sd"
    _check_plan(difference, sd, power, alpha, what)
    upper = sd_upper_limit(sd, n)
    return {
        "sd": float(sd),
        "effect_size": float(difference / sd),
        "seeds": seeds_for_power(difference, sd, paired=paired, power=power, alpha=alpha),
        "pilot_power": power_at(difference, sd, n, paired=paired, alpha=alpha),
        "sd_upper_80": upper,
        "seeds_at_sd_upper_80": seeds_for_power(
            difference, upper, paired=paired, power=power, alpha=alpha
        ),
    }


def plan(
    a: Sequence[float],
    b: Sequence[float],
    difference: float,
    *,
    power: float = 0.8,
    alpha: float = 0.05,
    paired: bool = True,
) -> dict:
    """From a pilot's per-seed figures of two models, the seeds needed to detect
    ``difference`` (in the figures' units) with ``power`` at two-sided level ``alpha``:
    ``unpaired`` (pooled sd; seeds per model) and, when the pilot's seeds pair,
    ``paired`` (sd of the per-seed differences ``a - b``); each with the pilot's power."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    for name, x in (("first", a), ("second", b)):
        if x.ndim != 1 or x.size < 2 or not np.all(np.isfinite(x)):
            raise ValueError(
                f"the {name} model's pilot figures must be at least 2 finite numbers, got "
                f"{x.tolist()!r:.80}"
            )
    pooled = math.sqrt(
        ((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / (a.size + b.size - 2)
    )
    kwargs = {"power": power, "alpha": alpha}
    out = {
        "difference": float(difference),
        "power": power,
        "alpha": alpha,
        "pilot_seeds": [int(a.size), int(b.size)],
        "observed_difference": float(a.mean() - b.mean()),
        "unpaired": _one_way(difference, pooled, min(a.size, b.size), paired=False, **kwargs),
    }
    if paired:
        if a.size != b.size:
            raise ValueError(f"paired figures need one per seed each, got {a.size} and {b.size}")
        d = a - b
        out["paired"] = _one_way(difference, float(d.std(ddof=1)), d.size, paired=True, **kwargs)
    return out


# -- group-sequential boundaries -------------------------------------------------------------


def _check_looks(fractions: Sequence[float], alpha: float) -> np.ndarray:
    _check_probability("alpha", alpha)
    t = np.asarray(fractions, np.float64)
    if t.ndim != 1 or not 1 <= t.size <= MAX_LOOKS:
        raise ValueError(f"a plan has 1 to {MAX_LOOKS} looks, got {t.size}")
    if not (np.all(np.diff(t) > 0) and t[0] > 0 and t[-1] == 1.0):
        raise ValueError(f"information fractions must rise strictly to 1, got {t.tolist()}")
    return t


def _stay_probability(bounds: Sequence[float], t: np.ndarray) -> float:
    """P(|Z_1| < b_1, ..., |Z_k| < b_k) for the z-statistics of looks at information
    fractions ``t[:k]`` (correlation ``sqrt(t_i / t_j)``): no boundary crossed."""
    b = np.asarray(bounds, np.float64)
    k = b.size
    if k == 1:
        return float(1.0 - 2.0 * scipy_stats.norm.sf(b[0]))
    tk = t[:k]
    cov = np.sqrt(np.minimum.outer(tk, tk) / np.maximum.outer(tk, tk))
    mvn = scipy_stats.multivariate_normal(
        mean=np.zeros(k), cov=cov, seed=0, maxpts=200_000 * k, abseps=1e-6, releps=0.0
    )
    return float(mvn.cdf(b, lower_limit=-b))


def obrien_fleming_spending(t, alpha: float = 0.05):
    """Two-sided alpha spent by information fraction ``t``: the Lan-DeMets approximation of
    O'Brien-Fleming, ``alpha / 2`` per side, each ``2 - 2 Phi(z_{alpha/4} / sqrt(t))``."""
    side = 2.0 - 2.0 * scipy_stats.norm.cdf(scipy_stats.norm.isf(alpha / 4.0) / np.sqrt(t))
    return 2.0 * side


def spending_boundaries(fractions: Sequence[float], alpha: float = 0.05) -> list[float]:
    """Two-sided z boundaries of the looks at ``fractions`` (rising to 1) under
    ``obrien_fleming_spending``: at each look, the boundary that spends what the function
    allows by then, given the earlier boundaries."""
    t = _check_looks(fractions, alpha)
    bounds: list[float] = []
    for k in range(t.size):
        target = 1.0 - float(obrien_fleming_spending(t[k], alpha))
        bounds.append(optimize.brentq(_overshoot, 0.5, 40.0, args=(bounds, t, target), xtol=1e-6))
    return bounds


def _overshoot(z: float, earlier: list[float], t: np.ndarray, target: float) -> float:
    return _stay_probability([*earlier, z], t) - target


def obrien_fleming_boundaries(looks: int, alpha: float = 0.05) -> list[float]:
    """The classical O'Brien-Fleming two-sided boundaries for ``looks`` equally spaced
    looks: ``c sqrt(looks / k)``, ``c`` such that the whole plan's level is ``alpha``."""
    t = _check_looks(np.arange(1, looks + 1) / looks, alpha)
    shape = np.sqrt(looks / np.arange(1, looks + 1))
    c = optimize.brentq(
        lambda c: _stay_probability(c * shape, t) - (1.0 - alpha), 0.5, 10.0, xtol=1e-7
    )
    return (c * shape).tolist()


def sequential_plan(round_size: int, maximum: int, alpha: float = 0.05) -> dict:
    """Seeds added ``round_size`` at a time up to ``maximum``; after each round the test
    (paired t, as z) is held against ``spending_boundaries``: stop when it crosses. Each
    look: its seeds, information fraction, z boundary, the nominal two-sided p-value that
    crosses it, and the alpha spent by then."""
    for name, value in (("round size", round_size), ("maximum", maximum)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 2:
            raise ValueError(f"the {name} must be an integer >= 2 seeds, got {value!r}")
    if maximum < round_size:
        raise ValueError(f"the maximum ({maximum}) is below one round ({round_size} seeds)")
    seeds = list(range(round_size, maximum, round_size)) + [maximum]
    if len(seeds) > MAX_LOOKS:
        raise ValueError(
            f"rounds of {round_size} up to {maximum} seeds make {len(seeds)} looks; at most "
            f"{MAX_LOOKS} (take larger rounds)"
        )
    t = np.asarray(seeds, np.float64) / maximum
    bounds = spending_boundaries(t, alpha)
    return {
        "method": "Lan-DeMets approximation of O'Brien-Fleming alpha spending, two-sided",
        "alpha": alpha,
        "round_size": round_size,
        "maximum": maximum,
        "looks": [
            {
                "seeds": n,
                "fraction": float(f),
                "z_boundary": float(z),
                "nominal_p": float(2.0 * scipy_stats.norm.sf(z)),
                "alpha_spent": float(obrien_fleming_spending(f, alpha)),
            }
            for n, f, z in zip(seeds, t, bounds, strict=True)
        ],
    }
