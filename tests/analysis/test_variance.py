"""The variance decomposition of a crossed grid: against a hand-computed example, against
statsmodels (its ANOVA table and its REML fit of the same model), and on simulated grids
whose components are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnn_attn.analysis import variance

# A 3 x 3 grid by hand: row means 3, 5, 10; column means 4, 5, 9; grand mean 6.
# SS_init = 3 * (9 + 1 + 16) = 78 (df 2, MS 39); SS_data = 3 * (4 + 1 + 9) = 42 (df 2,
# MS 21); SS_total = 25+16+0 + 9+1+1 + 4+4+64 = 124, so SS_residual = 4 (df 4, MS 1).
# Components: init (39 - 1) / 3 = 38/3, data (21 - 1) / 3 = 20/3, residual 1; their sum
# 61/3, so the shares are 38/61, 20/61 and 3/61. F(2, 4) survival is (1 + F/2)^-2:
# p = 20.5^-2 for F = 39 and 11.5^-2 for F = 21.
HAND = [[1, 2, 6], [3, 5, 7], [8, 8, 14]]


def grid_runs(table):
    """``(values, init seeds, data seeds)`` of a table, one run per cell, row-major."""
    table = np.asarray(table, float)
    rows, cols = np.indices(table.shape)
    return table.ravel().tolist(), rows.ravel().tolist(), cols.ravel().tolist()


def test_the_hand_computed_grid():
    out = variance.decompose(*grid_runs(HAND), n_boot=200)
    c = out["components"]
    assert [c[k]["df"] for k in ("init", "data", "residual")] == [2, 2, 4]
    assert [c[k]["sum_sq"] for k in ("init", "data", "residual")] == pytest.approx([78, 42, 4])
    assert [c[k]["mean_sq"] for k in ("init", "data", "residual")] == pytest.approx([39, 21, 1])
    assert [c[k]["variance"] for k in ("init", "data", "residual")] == pytest.approx(
        [38 / 3, 20 / 3, 1]
    )
    assert [c[k]["share"] for k in ("init", "data", "residual")] == pytest.approx(
        [38 / 61, 20 / 61, 3 / 61]
    )
    assert c["init"]["F"] == pytest.approx(39) and c["data"]["F"] == pytest.approx(21)
    assert c["init"]["p_value"] == pytest.approx(20.5**-2)
    assert c["data"]["p_value"] == pytest.approx(11.5**-2)
    assert out["total"]["variance"] == pytest.approx(61 / 3)
    assert out["mean"] == 6 and out["n"] == 9 and out["truncated"] == []
    assert out["levels"] == {"init": [0, 1, 2], "data": [0, 1, 2]}
    for k in ("init", "data", "residual"):
        assert c[k]["ci_low"] <= c[k]["variance"] <= c[k]["ci_high"]
        assert 0 <= c[k]["share_ci_low"] <= c[k]["share_ci_high"] <= 1


def test_a_negative_estimate_is_set_to_zero_and_said():
    # Row and column means all 0.5: MS_init = MS_data = 0; residuals +-0.5, MS 1. The
    # moments give (0 - 1) / 2 = -0.5 for both sources.
    out = variance.decompose(*grid_runs([[0, 1], [1, 0]]), n_boot=200)
    c = out["components"]
    assert c["init"]["raw_estimate"] == pytest.approx(-0.5)
    assert c["init"]["variance"] == 0 and c["data"]["variance"] == 0
    assert c["residual"]["share"] == 1 and c["init"]["share"] == 0
    assert out["truncated"] == ["init", "data"]
    assert "negative estimate set to 0: init, data" in variance.format_decomposition(out)


def test_the_closed_form_mean_squares_are_statsmodels_anova_table():
    rng = np.random.default_rng(5)
    table = rng.normal(size=(4, 7)) + rng.normal(size=(4, 1))
    table_ms = variance.anova_table(table, ("init", "data"))
    closed = variance.mean_squares(table)
    for got, key in zip(closed, ("init", "data", "residual"), strict=True):
        assert float(got) == pytest.approx(table_ms[key]["mean_sq"], rel=1e-12)


def test_the_moments_equal_statsmodels_reml_on_a_balanced_grid():
    import pandas as pd
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(3)
    table = rng.normal(0, 1.5, (6, 1)) + rng.normal(0, 1.0, (1, 5)) + rng.normal(0, 0.7, (6, 5))
    values, init, data = grid_runs(table)
    frame = pd.DataFrame({"y": values, "a": init, "b": data, "g": 1})
    reml = smf.mixedlm(
        "y ~ 1", frame, groups="g", re_formula="0", vc_formula={"a": "0 + C(a)", "b": "0 + C(b)"}
    ).fit(reml=True)
    c = variance.decompose(values, init, data, n_boot=200)["components"]
    assert c["init"]["variance"] == pytest.approx(reml.vcomp[0], rel=1e-3)
    assert c["data"]["variance"] == pytest.approx(reml.vcomp[1], rel=1e-3)
    assert c["residual"]["variance"] == pytest.approx(reml.scale, rel=1e-3)


def simulated(rows, cols, components, seed):
    rng = np.random.default_rng(seed)
    sd = np.sqrt(components)
    return (
        rng.normal(0, sd[0], (rows, 1))
        + rng.normal(0, sd[1], (1, cols))
        + rng.normal(0, sd[2], (rows, cols))
    )


def test_a_simulated_grid_gives_back_its_components():
    truth = {"init": 4.0, "data": 1.0, "residual": 0.25}
    out = variance.decompose(*grid_runs(simulated(40, 40, list(truth.values()), 11)))
    total = sum(truth.values())
    for key, value in truth.items():
        c = out["components"][key]
        # sd of an estimate from 39 degrees of freedom is about 23% of it: within 2 sd.
        assert c["variance"] == pytest.approx(value, rel=0.1 if key == "residual" else 0.45)
        assert c["ci_low"] <= value <= c["ci_high"], key
        assert c["share_ci_low"] <= value / total <= c["share_ci_high"], key
    assert out["total"]["ci_low"] <= total <= out["total"]["ci_high"]


def test_the_same_seed_gives_the_same_intervals_and_the_runs_may_come_in_any_order():
    values, init, data = grid_runs(simulated(3, 4, [1.0, 1.0, 1.0], 2))
    a = variance.decompose(values, init, data, n_boot=300, seed=7)
    order = np.random.default_rng(0).permutation(len(values))
    b = variance.decompose(
        [values[i] for i in order],
        [init[i] for i in order],
        [data[i] for i in order],
        n_boot=300,
        seed=7,
    )
    assert a == b


@pytest.mark.parametrize(
    "values, init, data, message",
    [
        ([1, 2, 3], [0, 0, 1], [0, 1, 0], "the grid has no run with seeds (1, 1)"),
        ([1, 2, 3, 4, 5], [0, 0, 1, 1, 1], [0, 1, 0, 1, 1], "seeds (1, 1) hold more than one run"),
        ([1, 2], [0, 0], [0, 1], "at least 2 seeds of each source"),
        ([1, 2, math.nan, 4], [0, 0, 1, 1], [0, 1, 0, 1], "every value must be a finite number"),
        ([1, 2, 3], [0, 1], [0, 1], "one value per run"),
    ],
)
def test_an_incomplete_or_bad_grid_is_refused(values, init, data, message):
    with pytest.raises(ValueError) as info:
        variance.decompose(values, init, data)
    assert message in str(info.value)


def test_a_constant_metric_has_no_shares():
    out = variance.decompose(*grid_runs(np.ones((2, 3))), n_boot=100)
    assert all(c["share"] is None for c in out["components"].values())
    assert out["total"]["variance"] == 0


def test_of_model_decomposes_each_complete_metric():
    values, init, data = grid_runs(HAND)
    per_seed = {"acc": values, "gap": [None] + values[1:], "name": ["x"] * 9}
    sources = {"init": init, "data": data, "dropout": init}
    out = variance.of_model(per_seed, sources, ["init", "data"], ["acc", "gap", "name"])
    assert list(out) == ["acc"]
    assert out["acc"]["components"]["init"]["variance"] == pytest.approx(38 / 3)


@pytest.mark.slow
def test_interval_coverage_on_small_simulated_grids():
    """The parametric bootstrap's coverage on 5 x 5 grids with equal components (nominal
    95 %), measured over 300 grids: the components' intervals cover less (0.80 to 0.91:
    few degrees of freedom), the shares' and the total's about 0.89 to 0.94."""
    truth = np.ones(3)
    hits, share_hits = np.zeros(3), np.zeros(3)
    for n in range(300):
        out = variance.decompose(*grid_runs(simulated(5, 5, truth, 100 + n)), n_boot=500, seed=n)
        c = list(out["components"].values())
        hits += [x["ci_low"] <= 1 <= x["ci_high"] for x in c]
        share_hits += [x["share_ci_low"] <= 1 / 3 <= x["share_ci_high"] for x in c]
    assert (hits / 300 >= 0.75).all(), hits / 300
    assert (share_hits / 300 >= 0.85).all(), share_hits / 300
