import math

import numpy as np
import pytest

from rnn_attn.analysis import stats

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


def test_t_distribution_matches_scipy():
    for df in [1.0, 2.5, 7.3, 18.0, 123.4]:
        for t in [-4.0, -1.2, 0.0, 0.7, 2.3, 9.0]:
            np.testing.assert_allclose(
                stats.t_cdf(t, df), scipy_stats.t.cdf(t, df), rtol=1e-10, atol=1e-15
            )
        for q in [0.001, 0.025, 0.3, 0.5, 0.975, 0.9995]:
            np.testing.assert_allclose(
                stats.t_ppf(q, df), scipy_stats.t.ppf(q, df), rtol=1e-9, atol=1e-12
            )


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


def test_mann_whitney_switches_to_the_normal_approximation_past_its_size_limit():
    import time

    a, b = np.arange(8) + 0.5, np.arange(5_000) * 1.0
    start = time.perf_counter()
    result = stats.mann_whitney_u(a, b)
    assert time.perf_counter() - start < 1.0  # the exact table took 108 s here
    assert 0.0 < result["p_value"] < 1e-4 and result["statistic"] == 36.0


def test_holm_keeps_an_undefined_p_value_undefined_and_counts_it():
    adjusted = stats.holm_adjust([0.01, float("nan"), 0.04])
    assert adjusted[0] == pytest.approx(0.03) and adjusted[2] == pytest.approx(0.08)
    assert np.isnan(adjusted[1])
    assert np.isnan(stats.holm_adjust([float("nan")])[0])
