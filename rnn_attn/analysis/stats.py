"""Statistics for comparing models over repeated seeds, from scipy.stats and statsmodels.

Each model gives one score per seed (e.g. 10 test accuracies). These functions summarize
them and compare two models; every test, quantile and resample comes from a maintained
library, and each result that could be computed more than one way names its method:

- one model: the mean's Student-t interval (``scipy.stats.t``) and a bootstrap interval
  (``scipy.stats.bootstrap``, percentile method, 10,000 resamples drawn by
  ``numpy.random.default_rng(seed)``: the resamples and figures of the hand-written
  bootstrap it replaced);
- two models, unpaired: Welch's t-test and its interval (``scipy.stats.ttest_ind`` with
  ``equal_var=False``), Mann-Whitney U (``scipy.stats.mannwhitneyu``: the exact null
  distribution when there are no ties and a sample has at most 8 values, else the normal
  approximation with tie and continuity corrections; ``method`` says which), Hedges' g and
  the probability of improvement;
- two models, paired by seed: models trained with the same seed numbers share each seed's
  data order and evaluation data, so the per-seed differences are compared with zero: the
  paired t-test with the t interval of the mean difference (``scipy.stats.ttest_rel``) and
  the Wilcoxon signed-rank test (``scipy.stats.wilcoxon``; ``method`` says exact,
  exhaustive permutation or normal). ``compare`` reports both kinds and its ``headline``
  says which one leads and why;
- several comparisons: Holm's correction
  (``statsmodels.stats.multitest.multipletests(method="holm")``);
- one outside run (a document's figure) against our seeds: the t prediction interval for
  one new run (``prediction_interval``), not the interval of our mean;
- tasks that share a metric: the interquartile mean (``scipy.stats.trim_mean(x, 0.25)``)
  with a stratified bootstrap interval (rliable's method: seeds resampled within each task).

Power and the number of seeds a comparison needs are in ``rnn_attn.analysis.power``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from scipy import stats as scipy_stats

ALTERNATIVES = ("two-sided", "greater", "less")
N_BOOT = 10_000
BOOTSTRAP_METHODS = ("percentile", "basic", "BCa")
MWU_EXACT_MAX_SIZE = 8  # scipy's rule: exact when a sample has at most 8 values, no ties
WILCOXON_EXACT_MAX = 50  # scipy's rule: exact without ties or zeros up to 50 pairs ...
WILCOXON_PERMUTATION_MAX = 13  # ... every permutation with them up to 13 pairs


# -- input checks ---------------------------------------------------------------------------


def _sample(x, name: str = "sample", *, min_size: int = 2) -> np.ndarray:
    if np.ndim(x) > 1:  # a table of runs: which axis holds the seeds is not ours to guess
        raise ValueError(f"{name} must be one score per seed (1-D), got shape {np.shape(x)}")
    try:
        arr = np.asarray(x, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold numbers (one score per seed), got {x!r:.80}") from None
    if arr.size < min_size:
        raise ValueError(f"{name} needs at least {min_size} values, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(
            f"{name} contains non-finite values: {arr[~np.isfinite(arr)][:3]}; "
            f"expected finite numbers"
        )
    return arr


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")


def _check_alternative(alternative: str) -> None:
    if alternative not in ALTERNATIVES:
        raise ValueError(f"unknown alternative {alternative!r}; expected one of {ALTERNATIVES}")


# -- one sample -----------------------------------------------------------------------------


def t_confidence_interval(x, *, confidence: float = 0.95) -> tuple[float, float]:
    """Student-t interval for the mean (``scipy.stats.t.interval``); a constant sample's
    interval is its value."""
    _check_confidence(confidence)
    x = _sample(x)
    sem = x.std(ddof=1) / math.sqrt(x.size)
    if sem == 0.0:
        return float(x.mean()), float(x.mean())
    low, high = scipy_stats.t.interval(confidence, x.size - 1, loc=x.mean(), scale=sem)
    return float(low), float(high)


def bootstrap_confidence_interval(
    x,
    *,
    statistic: Callable[..., np.ndarray] = np.mean,
    confidence: float = 0.95,
    n_boot: int = N_BOOT,
    seed: int = 0,
    method: str = "percentile",
) -> tuple[float, float]:
    """``scipy.stats.bootstrap`` interval of ``statistic`` (which must accept
    ``axis=-1``): ``n_boot`` resamples drawn by ``numpy.random.default_rng(seed)``,
    ``method`` one of ``BOOTSTRAP_METHODS``. A constant sample's interval is its value."""
    _check_confidence(confidence)
    x = _sample(x)
    if n_boot < 100:
        raise ValueError(f"n_boot must be >= 100, got {n_boot}")
    if method not in BOOTSTRAP_METHODS:
        raise ValueError(
            f"unknown bootstrap method {method!r}; expected one of {BOOTSTRAP_METHODS}"
        )
    if np.ptp(x) == 0.0:  # every resample equal: BCa is undefined, the others give the value
        value = float(statistic(x[None, :], axis=-1)[0])
        return value, value
    result = scipy_stats.bootstrap(
        (x,),
        statistic,
        n_resamples=n_boot,
        confidence_level=confidence,
        method=method,
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def describe(x, *, confidence: float = 0.95, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """Summary of one model's per-seed scores, as plain floats (``bootstrap`` names the
    bootstrap interval's method)."""
    x = _sample(x)
    t_low, t_high = t_confidence_interval(x, confidence=confidence)
    b_low, b_high = bootstrap_confidence_interval(
        x, confidence=confidence, n_boot=n_boot, seed=seed
    )
    return {
        "n": int(x.size),
        "mean": float(x.mean()),
        "std": float(x.std(ddof=1)),
        "sem": float(x.std(ddof=1) / math.sqrt(x.size)),
        "min": float(x.min()),
        "median": float(np.median(x)),
        "max": float(x.max()),
        "confidence": confidence,
        "ci_t_low": t_low,
        "ci_t_high": t_high,
        "ci_boot_low": b_low,
        "ci_boot_high": b_high,
        "bootstrap": f"percentile, {n_boot} resamples, seed {seed}",
    }


def prediction_interval(x, *, confidence: float = 0.95, runs: int = 1) -> tuple[float, float]:
    """Where the mean of ``runs`` new runs (one by default) falls with probability
    ``confidence``: ``mean ± t_{n-1} * s * sqrt(1/runs + 1/n)``. The yardstick for an
    outside run (a document's figure), which the interval of our mean is not."""
    _check_confidence(confidence)
    x = _sample(x)
    if isinstance(runs, bool) or not isinstance(runs, int | np.integer) or runs < 1:
        raise ValueError(f"runs must be a positive integer, got {runs!r}")
    scale = x.std(ddof=1) * math.sqrt(1.0 / runs + 1.0 / x.size)
    if scale == 0.0:
        return float(x.mean()), float(x.mean())
    low, high = scipy_stats.t.interval(confidence, x.size - 1, loc=x.mean(), scale=scale)
    return float(low), float(high)


def versus_reference(x, reference: float, *, runs: int = 1, confidence: float = 0.95) -> dict:
    """An outside figure (the mean of ``runs`` runs) against our per-seed scores: our
    prediction interval for such a figure and whether it falls inside."""
    if not isinstance(reference, int | float) or not math.isfinite(reference):
        raise ValueError(f"reference must be a finite number, got {reference!r}")
    low, high = prediction_interval(x, confidence=confidence, runs=runs)
    return {
        "reference": float(reference),
        "runs": int(runs),
        "confidence": confidence,
        "low": low,
        "high": high,
        "inside": bool(low <= reference <= high),
    }


# -- several tasks sharing a metric ---------------------------------------------------------


def interquartile_mean(x) -> float:
    """The mean of the middle half (``scipy.stats.trim_mean(x, 0.25)``; rliable's IQM)."""
    return float(scipy_stats.trim_mean(_sample(x, min_size=1), 0.25))


def _pooled_iqm(*tasks: np.ndarray, axis: int = -1) -> np.ndarray:
    return scipy_stats.trim_mean(np.concatenate(tasks, axis=axis), 0.25, axis=axis)


def stratified_bootstrap_iqm(
    scores: Mapping[str, Sequence[float]],
    *,
    confidence: float = 0.95,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> dict:
    """The interquartile mean of every task's per-seed scores pooled, with rliable's
    stratified bootstrap interval: ``scipy.stats.bootstrap`` over the tasks as separate
    samples (``paired=False``: each resample redraws each task's seeds from that task's
    own, with replacement), the pooled IQM of each resample, percentile interval."""
    _check_confidence(confidence)
    if not isinstance(scores, Mapping) or not scores:
        raise ValueError(f"scores must map each task to its per-seed scores, got {scores!r:.80}")
    if n_boot < 100:
        raise ValueError(f"n_boot must be >= 100, got {n_boot}")
    tasks = {name: _sample(v, f"scores of {name}") for name, v in scores.items()}
    result = scipy_stats.bootstrap(
        tuple(tasks.values()),
        _pooled_iqm,
        n_resamples=n_boot,
        confidence_level=confidence,
        method="percentile",
        paired=False,
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    return {
        "iqm": float(_pooled_iqm(*tasks.values())),
        "ci_low": float(result.confidence_interval.low),
        "ci_high": float(result.confidence_interval.high),
        "confidence": confidence,
        "tasks": {name: int(x.size) for name, x in tasks.items()},
        "method": f"stratified bootstrap (seeds within each task), percentile, {n_boot} "
        f"resamples, seed {seed}",
    }


# -- two samples, unpaired ------------------------------------------------------------------


def _welch(a, b, alternative: str = "two-sided"):
    """``(mean difference, squared standard error, scipy's Welch result)``; the result is
    None when both samples are constant (scipy would divide zero by zero)."""
    a, b = _sample(a, "first sample"), _sample(b, "second sample")
    se2 = a.var(ddof=1) / a.size + b.var(ddof=1) / b.size
    if se2 == 0.0:
        return float(a.mean() - b.mean()), 0.0, None
    with warnings.catch_warnings():
        if np.ptp(a) == 0.0 or np.ptp(b) == 0.0:  # exactly constant: no precision was lost
            warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
        result = scipy_stats.ttest_ind(a, b, equal_var=False, alternative=alternative)
    return float(a.mean() - b.mean()), float(se2), result


def welch_t_test(a, b, *, alternative: str = "two-sided") -> dict:
    """Welch's unequal-variance t-test of ``mean(a) - mean(b)``
    (``scipy.stats.ttest_ind(a, b, equal_var=False)``). Two constant samples give
    ``statistic`` ±inf and ``p_value`` 0 when their means differ, NaN when they are equal."""
    _check_alternative(alternative)
    diff, se2, result = _welch(a, b, alternative)
    if se2 == 0.0:
        if diff == 0.0:
            return {"statistic": math.nan, "df": math.nan, "p_value": math.nan}
        t = math.copysign(math.inf, diff)
        p = {"two-sided": 0.0, "greater": float(diff < 0), "less": float(diff > 0)}
        return {"statistic": t, "df": math.nan, "p_value": p[alternative]}
    return {
        "statistic": float(result.statistic),
        "df": float(result.df),
        "p_value": float(result.pvalue),
    }


def mann_whitney_u(a, b, *, alternative: str = "two-sided", use_continuity: bool = True) -> dict:
    """Mann-Whitney U test (``scipy.stats.mannwhitneyu``); ``statistic`` is U of the first
    sample, ``method`` the p-value's: ``exact`` (the null distribution counted, no ties and
    a sample of at most 8 values, whatever the other's size) or ``asymptotic`` (the normal
    approximation with tie correction, and continuity correction by default)."""
    _check_alternative(alternative)
    a, b = _sample(a, "first sample", min_size=1), _sample(b, "second sample", min_size=1)
    both = np.concatenate([a, b])
    exact = min(a.size, b.size) <= MWU_EXACT_MAX_SIZE and np.unique(both).size == both.size
    method = "exact" if exact else "asymptotic"
    result = scipy_stats.mannwhitneyu(
        a, b, alternative=alternative, use_continuity=use_continuity, method=method
    )
    if not exact:
        method += " (normal, tie-corrected" + (", continuity-corrected)" if use_continuity else ")")
    return {"statistic": float(result.statistic), "p_value": float(result.pvalue), "method": method}


def cohens_d(a, b) -> float:
    """``(mean(a) - mean(b)) / pooled std``."""
    a, b = _sample(a, "first sample"), _sample(b, "second sample")
    pooled = math.sqrt(
        ((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / (a.size + b.size - 2)
    )
    diff = a.mean() - b.mean()
    if pooled == 0.0:
        return 0.0 if diff == 0.0 else math.copysign(math.inf, diff)
    return float(diff / pooled)


def hedges_g(a, b) -> float:
    """Cohen's d times the exact small-sample correction
    ``J(df) = Gamma(df/2) / (sqrt(df/2) Gamma((df-1)/2))``, ``df = n_a + n_b - 2``."""
    a, b = _sample(a, "first sample"), _sample(b, "second sample")
    df = a.size + b.size - 2
    correction = math.exp(math.lgamma(df / 2.0) - math.lgamma((df - 1) / 2.0)) / math.sqrt(df / 2.0)
    return cohens_d(a, b) * correction


def probability_of_improvement(a, b) -> float:
    """``P(A > B) + P(A = B) / 2`` over all pairs of a score of A and a score of B
    (equals ``U_a / (n_a n_b)``)."""
    a, b = _sample(a, "first sample", min_size=1), _sample(b, "second sample", min_size=1)
    greater = (a[:, None] > b[None, :]).mean()
    equal = (a[:, None] == b[None, :]).mean()
    return float(greater + 0.5 * equal)


def difference_confidence_interval(a, b, *, confidence: float = 0.95) -> tuple[float, float]:
    """Welch interval for ``mean(a) - mean(b)`` (scipy's ``confidence_interval``)."""
    _check_confidence(confidence)
    diff, se2, result = _welch(a, b)
    if se2 == 0.0:
        return diff, diff
    interval = result.confidence_interval(confidence_level=confidence)
    return float(interval.low), float(interval.high)


# -- two samples, paired by seed ------------------------------------------------------------


def _differences(a, b) -> np.ndarray:
    a, b = _sample(a, "first sample"), _sample(b, "second sample")
    if a.size != b.size:
        raise ValueError(
            f"paired samples need one score per seed each, got {a.size} and {b.size} scores"
        )
    return a - b


def wilcoxon_signed_rank(a, b, *, alternative: str = "two-sided") -> dict:
    """Wilcoxon signed-rank test of the per-seed differences ``a - b``
    (``scipy.stats.wilcoxon``, zero differences dropped); ``method``: ``exact`` (no ties or
    zeros, at most 50 pairs), ``exhaustive permutation`` (ties or zeros, at most 13 pairs)
    or ``asymptotic`` (normal, tie-corrected). Every difference zero: NaN (undefined)."""
    _check_alternative(alternative)
    d = _differences(a, b)
    nonzero = d[d != 0.0]
    if nonzero.size == 0:
        return {"statistic": math.nan, "p_value": math.nan, "method": "undefined: no difference"}
    plain = nonzero.size == d.size and np.unique(np.abs(nonzero)).size == nonzero.size
    if plain and d.size <= WILCOXON_EXACT_MAX:
        method, label = "exact", "exact"
    elif not plain and d.size <= WILCOXON_PERMUTATION_MAX:
        method = scipy_stats.PermutationMethod(n_resamples=np.inf)
        label = "exhaustive permutation (ties or zero differences)"
    else:
        method, label = "asymptotic", "asymptotic (normal, tie-corrected)"
    result = scipy_stats.wilcoxon(d, alternative=alternative, method=method)
    return {"statistic": float(result.statistic), "p_value": float(result.pvalue), "method": label}


def paired_test(a, b, *, confidence: float = 0.95, alternative: str = "two-sided") -> dict:
    """``a`` and ``b`` scored with the same seeds, in the same order: the mean per-seed
    difference ``a - b`` with its t interval, the paired t-test (``scipy.stats.ttest_rel``)
    and the Wilcoxon signed-rank test. Constant differences give ``statistic`` ±inf and
    ``p_value`` 0 (NaN when all are zero), and an interval of the difference itself."""
    _check_confidence(confidence)
    _check_alternative(alternative)
    d = _differences(a, b)
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    if sd == 0.0:
        t = math.nan if mean == 0.0 else math.copysign(math.inf, mean)
        test = {"statistic": t, "df": d.size - 1, "p_value": math.nan if mean == 0.0 else 0.0}
        low = high = mean
    else:
        result = scipy_stats.ttest_rel(a, b, alternative=alternative)
        test = {
            "statistic": float(result.statistic),
            "df": int(result.df),
            "p_value": float(result.pvalue),
        }
        low, high = t_confidence_interval(d, confidence=confidence)
    return {
        "n": int(d.size),
        "mean_difference": mean,
        "std_difference": sd,
        "confidence": confidence,
        "ci_low": low,
        "ci_high": high,
        "t_test": test,
        "wilcoxon": wilcoxon_signed_rank(a, b, alternative=alternative),
    }


def pairing(
    seeds: Sequence[Sequence[int]] | None,
    sizes: tuple[int, int],
    names: Sequence[str] = ("a", "b"),
    sources: Sequence[Mapping[str, Sequence[int]] | None] | None = None,
) -> tuple[bool, str]:
    """``(paired, why)``: two models' scores pair by seed when both list the same seed
    numbers in the same order (the same seed: the same data order and evaluation data).
    ``sources``: each model's seeds by source (``rnn_attn.seed_sources``; None: every
    source is the seed number); when either model's differ from its seed numbers (a run
    that varied its sources separately), the scores pair when every run has the same
    seed of every source, whatever its number."""
    if seeds is None:
        return False, "no seed numbers given"
    if sources is not None and any(
        _by_source(s, src) for s, src in zip(seeds, sources, strict=True)
    ):
        return _pairing_by_source(seeds, sources, sizes, names)
    first, second = (list(s) for s in seeds)
    if first != second:
        return False, (
            f"the seed numbers differ ({names[0]}: {_seed_text(first)}; "
            f"{names[1]}: {_seed_text(second)})"
        )
    if len(first) != sizes[0] or len(first) != sizes[1]:
        raise ValueError(f"seeds {_seed_text(first)} do not match {sizes[0]} and {sizes[1]} scores")
    return True, (
        f"both models ran seeds {_seed_text(first)}; a seed's data order is a function of its "
        f"number"
    )


def _by_source(seeds: Sequence[int], sources: Mapping[str, Sequence[int]] | None) -> bool:
    """Whether ``sources`` differ from the default (every source the seed number)."""
    return sources is not None and any(list(v) != list(seeds) for v in sources.values())


def _pairing_by_source(seeds, sources, sizes, names) -> tuple[bool, str]:
    """``pairing`` of runs that varied their sources: by each run's seed of every source."""
    named = next(src for src in sources if src is not None)
    full = [
        {k: list(seeds[i]) for k in named} if sources[i] is None else dict(sources[i])
        for i in (0, 1)
    ]
    for i in (0, 1):
        if any(len(v) != sizes[i] for v in full[i].values()):
            raise ValueError(f"the seeds by source of {names[i]} do not match {sizes[i]} scores")
    grid = ", ".join(f"{k} {_seed_text(sorted(set(v)))}" for k, v in full[0].items())
    if full[0] != full[1]:
        return False, f"the runs' seeds by source differ ({names[0]}: {grid})"
    return True, (
        f"both models ran the same {sizes[0]} runs by source ({grid}); a run's "
        f"initialization, data order and dropout are functions of its seeds"
    )


def _seed_text(seeds: Sequence[int]) -> str:
    seeds = list(seeds)
    if len(seeds) > 3 and seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(str(s) for s in seeds)


# -- comparisons ----------------------------------------------------------------------------


def compare(
    a,
    b,
    *,
    names: Sequence[str] = ("a", "b"),
    confidence: float = 0.95,
    n_boot: int = N_BOOT,
    seed: int = 0,
    seeds: Sequence[Sequence[int]] | None = None,
    sources: Sequence[Mapping[str, Sequence[int]] | None] | None = None,
) -> dict:
    """Everything about ``a`` vs ``b`` in one JSON-serializable dict (two-sided tests).

    ``seeds``: each model's seed numbers; when they are the same, the per-seed differences
    are tested too (``paired``: ``paired_test`` and the seeds). ``sources``: each model's
    seeds by source, which pair the runs instead where they differ from the seed numbers
    (``pairing``; ``paired.seeds_by_source``). ``headline`` names the test that leads (the
    paired t-test when paired, else Welch's), its p-value and why."""
    a, b = _sample(a, f"scores of {names[0]}"), _sample(b, f"scores of {names[1]}")
    paired, why = pairing(seeds, (a.size, b.size), names, sources)
    low, high = difference_confidence_interval(a, b, confidence=confidence)
    out = {
        "names": list(names),
        "confidence": confidence,
        "describe": {
            names[0]: describe(a, confidence=confidence, n_boot=n_boot, seed=seed),
            names[1]: describe(b, confidence=confidence, n_boot=n_boot, seed=seed),
        },
        "mean_difference": float(a.mean() - b.mean()),
        "mean_difference_ci_low": low,
        "mean_difference_ci_high": high,
        "welch_t_test": welch_t_test(a, b),
        "mann_whitney_u": mann_whitney_u(a, b),
        "hedges_g": hedges_g(a, b),
        "probability_of_improvement": probability_of_improvement(a, b),
    }
    if paired:
        out["paired"] = {"seeds": list(seeds[0]), **paired_test(a, b, confidence=confidence)}
        if sources is not None and any(map(_by_source, seeds, sources)):
            named = next(src for src in sources if src is not None)
            out["paired"]["seeds_by_source"] = {k: list(v) for k, v in named.items()}
    out["headline"] = {
        "kind": "paired" if paired else "unpaired",
        "test": "paired t-test" if paired else "Welch t-test",
        "p_value": (out["paired"]["t_test"] if paired else out["welch_t_test"])["p_value"],
        "why": why,
    }
    return out


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values
    (``statsmodels.stats.multitest.multipletests(method="holm")``).

    A NaN p-value (a test that is undefined, e.g. on constant samples) stays NaN and still
    counts among the ``m`` tests, so the others are adjusted as conservatively as if it
    had been defined (it enters the step-down last, as a 1)."""
    if isinstance(p_values, str | bytes) or np.asarray(p_values).dtype.kind in "USO":
        raise TypeError(f"p_values must be numbers, got {p_values!r:.80}")
    try:
        p = np.asarray(p_values, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise ValueError(f"p_values must hold numbers, got {p_values!r:.80}") from None
    outside = (p < 0.0) | (p > 1.0)  # NaN (an undefined test) passes through
    if outside.any():
        raise ValueError(f"p-values must be in [0, 1], got {p[outside][:3].tolist()}")
    if p.size == 0:
        return []
    from statsmodels.stats.multitest import multipletests  # imports pandas: only when asked

    undefined = np.isnan(p)
    adjusted = multipletests(np.where(undefined, 1.0, p), method="holm")[1]
    return np.where(undefined, np.nan, adjusted).tolist()


HOLM_TESTS = (  # (where in a comparison, the p-value's key): each adjusted over the family
    (("welch_t_test",), "p_value"),
    (("mann_whitney_u",), "p_value"),
    (("paired", "t_test"), "p_value"),
    (("paired", "wilcoxon"), "p_value"),
    (("headline",), "p_value"),
)


def holm_over(comparisons: Sequence[dict]) -> None:
    """Adds ``p_value_holm`` beside each test's p-value, adjusted over every comparison of
    ``comparisons`` that has the test (one family: a table's, a ``compare_many``'s)."""
    for path, key in HOLM_TESTS:
        holders = []
        for comparison in comparisons:
            holder = comparison
            for part in path:
                holder = holder.get(part) if isinstance(holder, dict) else None
            if holder is not None:
                holders.append(holder)
        for holder, p in zip(holders, holm_adjust([h[key] for h in holders]), strict=True):
            holder[f"{key}_holm"] = p


def compare_many(
    scores: Mapping[str, Sequence[float]],
    *,
    baseline: str | None = None,
    confidence: float = 0.95,
    n_boot: int = N_BOOT,
    seed: int = 0,
    seeds: Mapping[str, Sequence[int]] | None = None,
    sources: Mapping[str, Mapping[str, Sequence[int]] | None] | None = None,
) -> dict:
    """Pairwise comparisons (each model vs ``baseline``, or all pairs), Holm-adjusted over
    the comparisons; ``seeds`` (each model's seed numbers) pairs those that share them,
    by ``sources`` (each model's seeds by source) where given (``compare``)."""
    names = list(scores)
    if len(names) < 2:
        raise ValueError(f"need at least 2 models to compare, got {names}")
    if baseline is not None and baseline not in scores:
        raise ValueError(f"baseline {baseline!r} is not among the models {names}")
    if baseline is not None:
        pairs = [(n, baseline) for n in names if n != baseline]
    else:
        pairs = [(names[i], names[j]) for i in range(len(names)) for j in range(i + 1, len(names))]
    results = [
        compare(
            scores[x],
            scores[y],
            names=(x, y),
            confidence=confidence,
            n_boot=n_boot,
            seed=seed,
            seeds=None if seeds is None else (seeds[x], seeds[y]),
            sources=None if sources is None else (sources.get(x), sources.get(y)),
        )
        for x, y in pairs
    ]
    holm_over(results)
    return {"comparisons": results}


# -- text -----------------------------------------------------------------------------------


def _format_p(p: float) -> str:
    if math.isnan(p):
        return "p = nan"
    if p == 0.0:
        return "p < 1e-16"
    return f"p = {p:.2g}" if p < 0.001 else f"p = {p:.4f}"


def _holm(test: Mapping) -> str:
    return f", Holm {_format_p(test['p_value_holm'])}" if "p_value_holm" in test else ""


def _headline_lines(result: Mapping, scale: float, unit: str) -> list[str]:
    """The lines of ``format_comparison`` that name the leading test (paired or not)."""
    a, b = result["names"]
    conf = int(round(100 * result["confidence"]))
    head = result.get("headline")
    if head is None:  # a comparison written before there was a headline
        return []
    if head["kind"] != "paired":
        return [f"  headline: UNPAIRED, Welch t-test ({head['why']})"]
    p = result["paired"]
    t, w = p["t_test"], p["wilcoxon"]
    return [
        f"  headline: PAIRED by seed ({head['why']})",
        f"  {a} - {b}, per seed: {scale * p['mean_difference']:+.2f}{unit}  {conf}% CI "
        f"[{scale * p['ci_low']:+.2f}, {scale * p['ci_high']:+.2f}] (t, n={p['n']})",
        f"  paired t = {t['statistic']:.2f}, df = {t['df']}, {_format_p(t['p_value'])}{_holm(t)}",
        f"  Wilcoxon signed-rank W = {w['statistic']:.1f}, {_format_p(w['p_value'])}{_holm(w)}"
        f" ({w['method']})",
    ]


def format_comparison(result: Mapping, *, scale: float = 100.0, unit: str = "%") -> str:
    """Human-readable lines for ``compare`` (or ``compare_many``) output: each model, the
    headline (paired by seed or not) and the paired tests, then the unpaired ones."""
    if "comparisons" in result:
        return "\n\n".join(
            format_comparison(r, scale=scale, unit=unit) for r in result["comparisons"]
        )
    a, b = result["names"]
    conf = int(round(100 * result["confidence"]))
    lines = []
    for name in (a, b):
        d = result["describe"][name]
        lines.append(
            f"  {name:>10}: mean {scale * d['mean']:.2f}{unit}  "
            f"{conf}% CI [{scale * d['ci_t_low']:.2f}, {scale * d['ci_t_high']:.2f}] (t), "
            f"[{scale * d['ci_boot_low']:.2f}, {scale * d['ci_boot_high']:.2f}] "
            f"(bootstrap), n={d['n']}"
        )
    lines += _headline_lines(result, scale, unit)
    w, u = result["welch_t_test"], result["mann_whitney_u"]
    unpaired = "unpaired: " if "headline" in result else ""
    lines.append(
        f"  {unpaired}{a} - {b}: {scale * result['mean_difference']:+.2f}{unit}  {conf}% CI "
        f"[{scale * result['mean_difference_ci_low']:+.2f}, "
        f"{scale * result['mean_difference_ci_high']:+.2f}] (Welch)"
    )
    lines.append(
        f"  Welch t = {w['statistic']:.2f}, df = {w['df']:.1f}, {_format_p(w['p_value'])}{_holm(w)}"
    )
    method = f" ({u['method']})" if "method" in u else ""
    lines.append(
        f"  Mann-Whitney U = {u['statistic']:.1f}, {_format_p(u['p_value'])}{_holm(u)}{method}"
    )
    lines.append(
        f"  Hedges' g = {result['hedges_g']:.2f}; "
        f"P({a} > {b}) = {result['probability_of_improvement']:.2f}"
    )
    return "\n".join(lines)
