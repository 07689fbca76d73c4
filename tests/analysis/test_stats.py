import json
import math
import pathlib

import numpy as np
import pytest

from rnn_attn.analysis import stats
from tests._paths import ROOT

scipy_stats = pytest.importorskip("scipy.stats")

ALTS = ["two-sided", "greater", "less"]


def _samples():
    rng = np.random.default_rng(0)
    for n1, n2 in [(3, 4), (5, 5), (8, 10), (10, 10), (12, 7), (30, 25)]:
        yield rng.normal(0.3, 1.0, n1), rng.normal(0.0, 2.0, n2)
        # Accuracy-like values with many ties.
        yield rng.integers(15, 30, n1) / 100, rng.integers(18, 33, n2) / 100


@pytest.mark.parametrize("alternative", ALTS)
def test_welch_matches_scipy(alternative):
    for a, b in _samples():
        ours = stats.welch_t_test(a, b, alternative=alternative)
        ref = scipy_stats.ttest_ind(a, b, equal_var=False, alternative=alternative)
        np.testing.assert_allclose(ours["statistic"], ref.statistic, rtol=1e-10)
        np.testing.assert_allclose(ours["df"], ref.df, rtol=1e-10)
        np.testing.assert_allclose(ours["p_value"], ref.pvalue, rtol=1e-8, atol=1e-14)


@pytest.mark.parametrize("alternative", ALTS)
def test_mann_whitney_matches_scipy(alternative):
    rng = np.random.default_rng(1)
    cases = list(_samples()) + [
        (rng.normal(size=4), rng.normal(size=12)),
        (rng.normal(size=6), rng.normal(1, 1, size=7)),
    ]
    for a, b in cases:
        ours = stats.mann_whitney_u(a, b, alternative=alternative)
        ref = scipy_stats.mannwhitneyu(a, b, alternative=alternative)
        assert ours["statistic"] == pytest.approx(ref.statistic)
        np.testing.assert_allclose(ours["p_value"], ref.pvalue, rtol=1e-9, atol=1e-15)


def test_confidence_intervals():
    rng = np.random.default_rng(2)
    x = rng.normal(5.0, 2.0, 12)
    low, high = stats.t_confidence_interval(x)
    ref = scipy_stats.t.interval(0.95, x.size - 1, loc=x.mean(), scale=scipy_stats.sem(x))
    np.testing.assert_allclose([low, high], ref, rtol=1e-10)
    big = rng.normal(0.0, 1.0, 400)
    b_low, b_high = stats.bootstrap_confidence_interval(big)
    t_low, t_high = stats.t_confidence_interval(big)
    assert b_low < big.mean() < b_high
    assert abs(b_low - t_low) < 0.02 and abs(b_high - t_high) < 0.02
    d = stats.describe(x)
    assert d["n"] == 12 and d["std"] == pytest.approx(x.std(ddof=1))
    assert d["ci_t_low"] == pytest.approx(low)


def test_effect_sizes_and_probability_of_improvement():
    rng = np.random.default_rng(3)
    a, b = rng.normal(1.0, 1.0, 9), rng.normal(0.0, 1.5, 11)
    pooled = math.sqrt((8 * a.var(ddof=1) + 10 * b.var(ddof=1)) / 18)
    d = (a.mean() - b.mean()) / pooled
    j = math.gamma(9.0) / (math.sqrt(9.0) * math.gamma(8.5))
    assert stats.cohens_d(a, b) == pytest.approx(d)
    assert stats.hedges_g(a, b) == pytest.approx(d * j)
    assert j == pytest.approx(1 - 3 / (4 * 20 - 9), rel=2e-3)  # the usual approximation
    ties = np.array([0.2, 0.2, 0.3]), np.array([0.2, 0.1])
    u = scipy_stats.mannwhitneyu(*ties).statistic
    assert stats.probability_of_improvement(*ties) == pytest.approx(u / 6)


def test_holm_adjustment_by_hand():
    # Sorted 0.01, 0.02, 0.04 -> 3*0.01, max(0.03, 2*0.02), max(0.04, 1*0.04).
    assert stats.holm_adjust([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert stats.holm_adjust([0.5, 0.6]) == pytest.approx([1.0, 1.0])


def test_compare_and_format():
    a = [0.98, 0.91, 0.94, 0.93, 0.96, 0.99, 0.97, 0.94, 0.99, 0.96]
    b = [0.20, 0.23, 0.23, 0.18, 0.28, 0.29, 0.23, 0.26, 0.21, 0.20]
    result = stats.compare(a, b, names=("attention", "baseline"))
    assert result["welch_t_test"]["p_value"] < 1e-10
    assert result["probability_of_improvement"] == 1.0
    assert result["mean_difference_ci_low"] < 0.73 < result["mean_difference_ci_high"]
    text = stats.format_comparison(result)
    assert "Welch t" in text and "Mann-Whitney" in text and "Hedges" in text
    many = stats.compare_many({"base": b, "att": a, "att2": a}, baseline="base")
    assert len(many["comparisons"]) == 2
    assert "p_value_holm" in many["comparisons"][0]["welch_t_test"]


def test_constant_samples():
    res = stats.welch_t_test([1.0, 1.0, 1.0], [0.0, 0.0])
    assert res["statistic"] == math.inf and res["p_value"] == 0.0
    assert math.isnan(stats.welch_t_test([1.0, 1.0], [1.0, 1.0])["p_value"])


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: stats.describe([1.0]), "at least 2 values"),
        (lambda: stats.describe([1.0, float("nan")]), "non-finite"),
        (lambda: stats.t_confidence_interval([1, 2, 3], confidence=1.5), "confidence must be in"),
        (lambda: stats.welch_t_test([1, 2], [3, 4], alternative="bigger"), "unknown alternative"),
        (lambda: stats.compare_many({"a": [1, 2]}), "at least 2 models"),
    ],
)
def test_bad_input_messages(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_mann_whitney_stays_exact_and_fast_past_the_old_size_limit():
    """The hand-written exact table grew as (n1 n2)**2 (8 x 5,000 values: 108 s), so past
    2,000 pairs it switched to the normal approximation; scipy's exact distribution takes
    milliseconds, so the method is now scipy's rule alone: exact without ties when a sample
    has at most 8 values. Cross-checked against scipy with the method named."""
    import time

    a, b = np.arange(8) + 0.5, np.arange(5_000) * 1.0
    start = time.perf_counter()
    result = stats.mann_whitney_u(a, b)
    assert time.perf_counter() - start < 1.0  # the exact table took 108 s here
    assert 0.0 < result["p_value"] < 1e-4 and result["statistic"] == 36.0
    assert result["method"] == "exact"
    ref = scipy_stats.mannwhitneyu(a, b, method="exact")
    assert result["p_value"] == ref.pvalue and result["statistic"] == ref.statistic
    # The old normal approximation's value is another method's, and far off in the tail.
    approx = scipy_stats.mannwhitneyu(a, b, method="asymptotic").pvalue
    assert approx > 1e3 * result["p_value"]


def test_holm_keeps_an_undefined_p_value_undefined_and_counts_it():
    adjusted = stats.holm_adjust([0.01, float("nan"), 0.04])
    assert adjusted[0] == pytest.approx(0.03) and adjusted[2] == pytest.approx(0.08)
    assert np.isnan(adjusted[1])
    assert np.isnan(stats.holm_adjust([float("nan")])[0])


# -- every expected value of the archived runs, recomputed ----------------------------------

ARCHIVE = pathlib.Path(ROOT) / "docs" / "runs"
# The copy task's archived comparison predates the runner: one metric, at the top level.
TOP_LEVEL_METRIC = {"copy_task": "test_exact_match"}


def _archived():
    from rnn_attn.analysis import schema

    for path in sorted(ARCHIVE.glob("*/results.json")):
        yield path.parent.name, schema.migrate(json.loads(path.read_text()))


def _same_numbers(old, new, where: str) -> int:
    """Asserts every number of ``old`` is in ``new`` at the same place (1e-12 relative);
    returns how many were checked."""
    if isinstance(old, dict):
        return sum(_same_numbers(v, new[k], f"{where}.{k}") for k, v in old.items())
    if isinstance(old, list):
        return sum(
            _same_numbers(o, n, f"{where}[{i}]")
            for i, (o, n) in enumerate(zip(old, new, strict=True))
        )
    if old is None and isinstance(new, float) and np.isnan(new):
        return 0  # results.json writes an undefined figure (NaN) as null
    if isinstance(old, bool) or not isinstance(old, int | float):
        assert old == new, where
        return 0
    np.testing.assert_allclose(new, old, rtol=1e-12, atol=1e-15, err_msg=where)
    return 1


def _comparisons(record):
    """``(metric, archived comparison of two models)`` for each one in ``record``."""
    comparison = record["comparison"] or {}
    if "names" in comparison:
        yield TOP_LEVEL_METRIC[record["experiment"]], comparison
        return
    for key, value in comparison.items():
        if isinstance(value, dict) and "names" in value:
            yield key, value
        elif isinstance(value, dict) and "comparisons" in value:
            yield from ((key, c) for c in value["comparisons"])
        elif key == "comparisons":  # weather's: {"metric", "reference_model", "comparisons"}
            yield from ((comparison["metric"], c) for c in value)


def test_every_archived_summary_and_comparison_is_reproduced():
    """Each number the archived runs (docs/runs) hold in a model's summary or in a
    comparison, recomputed from their per-seed figures by the scipy/statsmodels code:
    the methods are unchanged there (3 to 10 seeds, no ties: exact Mann-Whitney)."""
    checked = 0
    families: dict[tuple[str, str], dict] = {}  # one compare_many per row and metric
    for row, record in _archived():
        for name, model in record["models"].items():
            for metric, old in (model.get("summary") or {}).items():
                new = stats.describe(model["per_seed"][metric])
                checked += _same_numbers(old, new, f"{row}.{name}.summary.{metric}")
        for metric, old in _comparisons(record):
            models = record["models"]
            # paired by seed where the run paired them, as the runner does
            seeds = {n: models[n]["seeds"] for n in models}
            sources = {n: models[n].get("seeds_by_source") for n in models}
            if "p_value_holm" not in old["welch_t_test"]:  # two models: one compare
                a, b = (models[n]["per_seed"][metric] for n in old["names"])
                new = stats.compare(
                    a,
                    b,
                    names=old["names"],
                    seeds=tuple(seeds[n] for n in old["names"]),
                    sources=tuple(sources[n] for n in old["names"]),
                )
            else:  # a compare_many: Holm over its family
                if (row, metric) not in families:
                    family = [c for m, c in _comparisons(record) if m == metric]
                    names = [n for c in family for n in c["names"]]
                    scores = {n: models[n]["per_seed"][metric] for n in names}
                    families[row, metric] = stats.compare_many(
                        scores,
                        baseline=family[0]["names"][1],
                        seeds={n: seeds[n] for n in scores},
                        sources={n: sources[n] for n in scores},
                    )
                many = families[row, metric]
                new = next(c for c in many["comparisons"] if c["names"] == old["names"])
            checked += _same_numbers(old, new, f"{row}.comparison.{metric}")
    assert checked > 500, checked  # every archived row's summaries, and 4 rows' comparisons


# -- methods named and cross-checked against scipy / statsmodels ----------------------------


def test_the_bootstrap_is_scipys_percentile_method_with_the_old_resamples():
    """The method is unchanged: the hand-written bootstrap drew ``rng.integers(0, n,
    (n_boot, n))`` from ``default_rng(seed)`` and took the percentiles; scipy's draws the
    same resamples. BCa, on request, is scipy's own."""
    x = np.random.default_rng(7).normal(size=9)
    old_way = np.quantile(
        x[np.random.default_rng(0).integers(0, 9, size=(10_000, 9))].mean(axis=-1), [0.025, 0.975]
    )
    np.testing.assert_allclose(stats.bootstrap_confidence_interval(x), old_way, rtol=1e-14)
    bca = scipy_stats.bootstrap(
        (x,), np.mean, n_resamples=10_000, method="BCa", rng=np.random.default_rng(3)
    )
    ours = stats.bootstrap_confidence_interval(x, method="BCa", seed=3)
    assert ours == (bca.confidence_interval.low, bca.confidence_interval.high)
    assert stats.bootstrap_confidence_interval([0.5, 0.5, 0.5], method="BCa") == (0.5, 0.5)
    assert stats.describe(x)["bootstrap"] == "percentile, 10000 resamples, seed 0"
    with pytest.raises(ValueError, match="unknown bootstrap method 'bca'"):
        stats.bootstrap_confidence_interval(x, method="bca")


def test_mann_whitney_names_its_method_exact_or_asymptotic_with_ties():
    no_ties = ([0.1, 0.4, 0.3], [0.2, 0.5, 0.6, 0.7])
    ties = ([0.2, 0.2, 0.3], [0.2, 0.1, 0.4])
    big = (np.arange(9) * 1.0, np.arange(9) + 0.5)  # no ties, both samples above 8: normal
    for (a, b), method in ((no_ties, "exact"), (ties, "asymptotic"), (big, "asymptotic")):
        ours = stats.mann_whitney_u(a, b)
        assert ours["method"].split(" ")[0] == method
        ref = scipy_stats.mannwhitneyu(a, b, method=method)
        assert ours["p_value"] == ref.pvalue and ours["statistic"] == ref.statistic
    assert stats.mann_whitney_u(*ties)["method"] == (
        "asymptotic (normal, tie-corrected, continuity-corrected)"
    )


def test_the_paired_test_is_scipys_on_the_per_seed_differences():
    rng = np.random.default_rng(4)
    a = rng.normal(0.85, 0.01, 10)
    b = a - 0.004 + rng.normal(0, 0.001, 10)
    p = stats.paired_test(a, b)
    ref = scipy_stats.ttest_rel(a, b)
    assert p["t_test"] == {"statistic": ref.statistic, "df": 9, "p_value": ref.pvalue}
    ci = ref.confidence_interval(0.95)
    np.testing.assert_allclose([p["ci_low"], p["ci_high"]], [ci.low, ci.high], rtol=1e-12)
    assert p["mean_difference"] == pytest.approx(np.mean(a - b))
    w = scipy_stats.wilcoxon(a - b, method="exact")
    assert p["wilcoxon"] == {"statistic": w.statistic, "p_value": w.pvalue, "method": "exact"}
    # Pairing removes the variance the seeds share: Welch sees nothing, the pairs do.
    assert stats.welch_t_test(a, b)["p_value"] > 0.1 > 0.001 > p["t_test"]["p_value"]
    constant = stats.paired_test([0.5, 0.6, 0.7], [0.4, 0.5, 0.6])
    assert constant["t_test"]["statistic"] == math.inf and constant["t_test"]["p_value"] == 0.0
    assert constant["ci_low"] == constant["ci_high"] == pytest.approx(0.1)
    assert math.isnan(stats.paired_test([1.0, 2.0], [1.0, 2.0])["t_test"]["p_value"])
    with pytest.raises(ValueError, match="one score per seed each, got 3 and 2"):
        stats.paired_test([1, 2, 3], [1, 2])


def test_wilcoxon_names_its_method_and_matches_scipy_given_it():
    exact = np.array([0.01, -0.02, 0.03, 0.04, 0.05])
    tied = np.array([0.01, 0.01, 0.02, 0.0, -0.03])
    long_tied = np.r_[np.arange(1, 15) * 0.01, 0.01]  # 15 pairs with a tie
    cases = (
        (exact, "exact", "exact"),
        (tied, scipy_stats.PermutationMethod(n_resamples=np.inf), "exhaustive permutation"),
        (long_tied, "asymptotic", "asymptotic"),
    )
    for d, method, label in cases:
        ours = stats.wilcoxon_signed_rank(d, np.zeros_like(d))
        ref = scipy_stats.wilcoxon(d, method=method)
        assert ours["method"].startswith(label)
        assert ours["p_value"] == ref.pvalue and ours["statistic"] == ref.statistic
        assert ours["p_value"] == scipy_stats.wilcoxon(d).pvalue  # scipy's own 'auto' agrees
    assert stats.wilcoxon_signed_rank([0.1, 0.2, 0.3], [0.0, 0.1, 0.2])["p_value"] == 0.25
    assert math.isnan(stats.wilcoxon_signed_rank([1.0, 2.0], [1.0, 2.0])["p_value"])


def test_compare_pairs_by_seed_when_the_seed_numbers_match_and_says_so():
    a = [0.86, 0.87, 0.85, 0.88]
    b = [0.85, 0.865, 0.845, 0.87]
    paired = stats.compare(a, b, names=("att", "base"), seeds=([0, 1, 2, 3], [0, 1, 2, 3]))
    assert paired["headline"]["kind"] == "paired" and paired["paired"]["seeds"] == [0, 1, 2, 3]
    assert paired["headline"]["p_value"] == paired["paired"]["t_test"]["p_value"]
    assert "seeds 0-3" in paired["headline"]["why"]
    text = stats.format_comparison(paired)
    assert "headline: PAIRED by seed" in text and "Wilcoxon signed-rank" in text
    assert "unpaired: att - base" in text and "Welch t" in text and "Mann-Whitney" in text
    for seeds, why in (
        (([0, 1, 2, 3], [4, 5, 6, 7]), "the seed numbers differ (att: 0-3; base: 4-7)"),
        (None, "no seed numbers given"),
    ):
        unpaired = stats.compare(a, b, names=("att", "base"), seeds=seeds)
        assert "paired" not in unpaired and unpaired["headline"]["why"] == why
        assert unpaired["headline"]["p_value"] == unpaired["welch_t_test"]["p_value"]
        assert "headline: UNPAIRED, Welch t-test" in stats.format_comparison(unpaired)
    with pytest.raises(ValueError, match="do not match 4 and 4 scores"):
        stats.compare(a, b, seeds=([0, 1, 2], [0, 1, 2]))


def test_holm_is_statsmodels_and_runs_over_the_whole_family():
    from statsmodels.stats.multitest import multipletests

    p = [0.01, 0.04, 0.03, 0.2, 0.002]
    assert stats.holm_adjust(p) == multipletests(p, method="holm")[1].tolist()
    scores = {"base": [0.5, 0.52, 0.51], "x": [0.6, 0.61, 0.63], "y": [0.5, 0.53, 0.5]}
    many = stats.compare_many(scores, baseline="base", seeds={n: [0, 1, 2] for n in scores})
    raw = [c["paired"]["t_test"]["p_value"] for c in many["comparisons"]]
    held = [c["paired"]["t_test"]["p_value_holm"] for c in many["comparisons"]]
    assert held == multipletests(raw, method="holm")[1].tolist()
    assert all("p_value_holm" in c["headline"] for c in many["comparisons"])


def test_the_prediction_interval_is_the_yardstick_for_one_outside_run():
    x = np.array([0.95, 0.99, 0.97, 0.98, 0.99, 0.96, 0.99, 0.98, 1.0, 0.99])
    n, s = x.size, x.std(ddof=1)
    t = scipy_stats.t.ppf(0.975, n - 1)
    low, high = stats.prediction_interval(x)
    np.testing.assert_allclose(
        [low, high], x.mean() + np.array([-1, 1]) * t * s * np.sqrt(1 + 1 / n)
    )
    ten = stats.prediction_interval(x, runs=10)  # the mean of ten outside runs
    np.testing.assert_allclose(ten[1] - ten[0], 2 * t * s * np.sqrt(1 / 10 + 1 / n))
    ci = stats.t_confidence_interval(x)
    assert low < ci[0] and ci[1] < high  # wider than the interval of our mean
    one = stats.versus_reference(x, 0.957)  # the document's figure as one run: inside
    assert one["inside"] and one["runs"] == 1
    mean_of_ten = stats.versus_reference(x, 0.957, runs=10)  # as the mean of ten: outside
    assert not mean_of_ten["inside"] and mean_of_ten["low"] > 0.957
    for bad, message in ((0, "runs must be a positive integer, got 0"), (True, "got True")):
        with pytest.raises(ValueError, match=message):
            stats.prediction_interval(x, runs=bad)
    with pytest.raises(ValueError, match="reference must be a finite number, got nan"):
        stats.versus_reference(x, float("nan"))


def test_the_iqm_and_its_stratified_bootstrap_interval():
    x = [0.1, 0.5, 0.6, 0.7, 0.8, 5.0, 0.55, 0.65]
    assert stats.interquartile_mean(x) == scipy_stats.trim_mean(x, 0.25)
    assert stats.interquartile_mean(x) == pytest.approx(np.mean(sorted(x)[2:6]))
    # Seeds are resampled within each task: a task's own values only, its count kept. Two
    # constant tasks of 4 seeds always pool to four 0s and four 1s (IQM 0.5); resampling
    # the pool instead would move it.
    flat = stats.stratified_bootstrap_iqm({"a": [0.0] * 4, "b": [1.0] * 4})
    assert (flat["iqm"], flat["ci_low"], flat["ci_high"]) == (0.5, 0.5, 0.5)
    assert flat["tasks"] == {"a": 4, "b": 4} and flat["method"].startswith("stratified")
    rng = np.random.default_rng(5)
    tasks = {f"t{i}": rng.normal(0.8, 0.02, 5) for i in range(4)}
    result = stats.stratified_bootstrap_iqm(tasks)
    pooled = np.concatenate(list(tasks.values()))
    assert result["iqm"] == scipy_stats.trim_mean(pooled, 0.25)
    assert result["ci_low"] < result["iqm"] < result["ci_high"]
    assert result["ci_high"] - result["ci_low"] < 0.03
    with pytest.raises(ValueError, match="must map each task to its per-seed scores"):
        stats.stratified_bootstrap_iqm([0.1, 0.2])
    with pytest.raises(ValueError, match="scores of b needs at least 2 values, got 1"):
        stats.stratified_bootstrap_iqm({"a": [0.1, 0.2], "b": [0.3]})


def test_runs_that_varied_their_sources_pair_by_them_not_by_their_numbers():
    grid = {"init": [0, 0, 1, 1], "data": [0, 1, 0, 1], "dropout": [0, 0, 1, 1]}
    a, b = [0.80, 0.82, 0.81, 0.85], [0.78, 0.80, 0.80, 0.82]
    seeds = ([0, 1, 2, 3], [0, 1, 2, 3])
    paired = stats.compare(a, b, seeds=seeds, sources=(grid, grid))
    assert paired["paired"]["seeds_by_source"] == grid
    assert paired["paired"]["t_test"] == stats.paired_test(a, b)["t_test"]
    # The same numbers, one of them a default run (every source its number): unpaired.
    unpaired = stats.compare(a, b, seeds=seeds, sources=(grid, None))
    assert "paired" not in unpaired
    assert unpaired["headline"]["why"] == (
        "the runs' seeds by source differ (a: init 0, 1, data 0, 1, dropout 0, 1)"
    )
    # Sources that are the seed numbers change nothing.
    default = {k: [0, 1, 2, 3] for k in grid}
    plain = stats.compare(a, b, seeds=seeds, sources=(default, None))
    assert plain == stats.compare(a, b, seeds=seeds)
    with pytest.raises(ValueError, match="seeds by source of a do not match 3 scores"):
        stats.compare(a[:3], b[:3], seeds=([0, 1, 2], [0, 1, 2]), sources=(grid, grid))
