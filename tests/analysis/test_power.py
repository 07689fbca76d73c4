"""rnn_attn.analysis.power: the seeds a stated difference needs (statsmodels), checked
against statsmodels' own solver and Cohen's tables, and the group-sequential boundaries
checked against the published ones."""

import math

import numpy as np
import pytest

from rnn_attn.analysis import power

statsmodels_power = pytest.importorskip("statsmodels.stats.power")


@pytest.mark.parametrize("effect", [0.2, 0.5, 0.8, 1.0, 1.5])
def test_the_seeds_needed_are_statsmodels_solution_rounded_up(effect):
    paired = statsmodels_power.TTestPower().solve_power(effect_size=effect, alpha=0.05, power=0.8)
    unpaired = statsmodels_power.TTestIndPower().solve_power(
        effect_size=effect, alpha=0.05, power=0.8, ratio=1.0
    )
    assert power.seeds_for_power(effect, 1.0, paired=True) == math.ceil(paired)
    assert power.seeds_for_power(effect, 1.0, paired=False) == math.ceil(unpaired)
    # The units cancel: a difference of 0.5 points with sd 1 point is the same plan.
    assert power.seeds_for_power(0.005 * effect, 0.005, paired=False) == math.ceil(unpaired)


def test_cohens_tables_and_the_smallest_plans():
    # Cohen (1988), table 2.4.1: d = 0.5, two-sided 0.05, power 0.80 -> 64 per group.
    assert power.seeds_for_power(0.5, 1.0, paired=False) == 64
    # A huge effect still needs a t-test's worth of seeds (statsmodels' solver gives nan,
    # and its power too where scipy's noncentral t fails in the wrong-sign tail).
    assert power.power_at(10.0, 1.0, 3, paired=True) == pytest.approx(0.9999995771690124)
    for paired in (True, False):
        n = power.seeds_for_power(10.0, 1.0, paired=paired)
        assert n >= 2 and power.power_at(10.0, 1.0, n, paired=paired) >= 0.8
        if n > 2:
            assert power.power_at(10.0, 1.0, n - 1, paired=paired) < 0.8
    with pytest.raises(ValueError, match="needs more than 10,000,000 seeds"):
        power.seeds_for_power(1e-5, 1.0, paired=False)


def test_the_plan_pairs_by_seed_and_reports_the_pilots_power():
    a = [0.8685, 0.8690, 0.8680]
    b = [0.8660, 0.8668, 0.8652]  # the seeds move both models together
    result = power.plan(a, b, 0.002)
    d = np.subtract(a, b)
    assert result["paired"]["sd"] == pytest.approx(d.std(ddof=1))
    pooled = math.sqrt((np.var(a, ddof=1) + np.var(b, ddof=1)) / 2)
    assert result["unpaired"]["sd"] == pytest.approx(pooled)
    assert result["paired"]["seeds"] < result["unpaired"]["seeds"]
    expected = statsmodels_power.TTestPower().power(
        effect_size=0.002 / d.std(ddof=1), nobs=3, alpha=0.05
    )
    assert result["paired"]["pilot_power"] == pytest.approx(expected)
    assert result["paired"]["sd_upper_80"] > result["paired"]["sd"]
    assert result["paired"]["seeds_at_sd_upper_80"] >= result["paired"]["seeds"]
    assert result["observed_difference"] == pytest.approx(np.mean(d))
    unpaired_only = power.plan(a, [0.86, 0.87], 0.002, paired=False)
    assert "paired" not in unpaired_only


def test_the_sds_upper_confidence_limit_is_the_chi_square_one():
    from scipy import stats as scipy_stats

    limit = power.sd_upper_limit(2.0, 3)
    assert limit == pytest.approx(2.0 * math.sqrt(2 / scipy_stats.chi2.ppf(0.2, 2)))
    assert limit > 2.0


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: power.plan([0.8, 0.9], [0.7, 0.8], 0.0), "difference must be a finite number > 0"),
        (lambda: power.plan([0.8, 0.9], [0.7, 0.8], 0.1, power=1.2), "power must be a number in"),
        (lambda: power.plan([0.8, 0.9], [0.7, 0.8], 0.1, alpha=0), "alpha must be a number in"),
        (lambda: power.plan([0.8], [0.7, 0.8], 0.1), "at least 2 finite numbers"),
        (
            lambda: power.plan([1.0, 2.0], [0.5, 1.5], 0.1),
            "per-seed differences is 0.0; a plan needs",
        ),
        (lambda: power.sequential_plan(10, 60), "make 6 looks; at most 5"),
        (lambda: power.sequential_plan(10, 5), "the maximum (5) is below one round"),
        (lambda: power.spending_boundaries([0.5, 0.4, 1.0]), "must rise strictly to 1"),
    ],
)
def test_bad_plans_get_one_clear_message(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()


def test_lan_demets_obrien_fleming_boundaries_match_the_published_ones():
    """Two-sided 0.05, equally spaced looks: 4.877, 3.357, 2.680, 2.290, 2.031 (5 looks)
    and 3.710, 2.511, 1.993 (3 looks), as gsDesign (sfLDOF) and ldbounds print them."""
    five = power.spending_boundaries([0.2, 0.4, 0.6, 0.8, 1.0])
    np.testing.assert_allclose(five, [4.877, 3.357, 2.680, 2.290, 2.031], atol=6e-4)
    three = power.spending_boundaries([1 / 3, 2 / 3, 1.0])
    np.testing.assert_allclose(three, [3.710, 2.511, 1.993], atol=6e-4)
    assert power.spending_boundaries([1.0]) == pytest.approx([1.959964], abs=1e-5)


def test_classical_obrien_fleming_boundaries_match_the_published_ones():
    """O'Brien & Fleming (1979); Jennison & Turnbull (2000) table 2.3, C_B(5, 0.05) =
    2.040: 4.56, 3.23, 2.63, 2.28, 2.04."""
    np.testing.assert_allclose(
        power.obrien_fleming_boundaries(5), [4.562, 3.226, 2.634, 2.281, 2.040], atol=1e-3
    )


def test_the_sequential_plan_states_its_rounds_and_spends_all_its_alpha_by_the_last():
    plan = power.sequential_plan(10, 30)
    assert [look["seeds"] for look in plan["looks"]] == [10, 20, 30]
    assert plan["looks"][-1]["alpha_spent"] == pytest.approx(0.05)
    spent = [look["alpha_spent"] for look in plan["looks"]]
    assert spent == sorted(spent) and plan["round_size"] == 10 and plan["maximum"] == 30
    nominal = [look["nominal_p"] for look in plan["looks"]]
    assert nominal == sorted(nominal) and nominal[-1] < 0.05  # the price of looking early
    assert [look["seeds"] for look in power.sequential_plan(10, 25)["looks"]] == [10, 20, 25]
