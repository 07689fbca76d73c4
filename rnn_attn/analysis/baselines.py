"""A model's per-seed scores against a deterministic baseline measured on the same data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

from rnn_attn.analysis import stats


def versus_baseline(
    scores: Sequence[float], baseline: float, *, confidence: float = 0.95
) -> dict[str, Any]:
    """A model's per-seed MAEs against the baseline's MAE on the same windows: the
    differences ``d_i = model_i - baseline`` (negative: the model is better), their mean
    with a t interval and a one-sample t-test of ``mean(d) = 0``.

    The only randomness this accounts for is the seed (initialization, dropout, shuffle):
    it says whether the recipe reliably beats the baseline on THESE windows, not how the
    two would compare on other years' weather."""
    d = np.asarray(scores, np.float64) - float(baseline)
    out: dict[str, Any] = {
        "baseline": float(baseline),
        "differences": d.tolist(),
        "mean_difference": float(d.mean()),
        "seeds_better": int((d < 0).sum()),
        "seeds": int(d.size),
    }
    if d.size < 2:
        return out
    low, high = stats.t_confidence_interval(d, confidence=confidence)
    both = scipy_stats.ttest_1samp(d, 0.0)
    less = scipy_stats.ttest_1samp(d, 0.0, alternative="less")
    return out | {
        "confidence": confidence,
        "ci_t_low": low,
        "ci_t_high": high,
        "t_statistic": float(both.statistic),
        "df": int(d.size - 1),
        "p_value_two_sided": float(both.pvalue),
        "p_value_model_better": float(less.pvalue),
    }
