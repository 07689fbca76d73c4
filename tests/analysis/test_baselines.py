import math

import numpy as np
import pytest

from rnn_attn.analysis.baselines import versus_baseline


def test_versus_baseline_is_a_one_sample_t_on_the_differences():
    scipy_stats = pytest.importorskip("scipy.stats")
    scores, base = [2.1, 2.3, 2.2, 2.0], 2.4
    out = versus_baseline(scores, base)
    d = np.array(scores) - base
    ref = scipy_stats.ttest_1samp(d, 0.0)
    assert math.isclose(out["t_statistic"], ref.statistic, rel_tol=1e-9)
    assert math.isclose(out["p_value_two_sided"], ref.pvalue, rel_tol=1e-6)
    assert out["seeds_better"] == 4 and out["p_value_model_better"] < 0.5
    half = scipy_stats.t.ppf(0.975, 3) * d.std(ddof=1) / 2
    assert math.isclose(out["ci_t_low"], d.mean() - half, rel_tol=1e-6)
    assert "ci_t_low" not in versus_baseline([2.0], base)  # one seed: no interval
