"""rnn_attn.analysis.results: results.json is strict JSON, non-finite values named."""

from __future__ import annotations

import json

import numpy as np

from rnn_attn.analysis.results import write_results


def test_non_finite_values_become_null_and_are_listed(tmp_path):
    results = {"models": {"gru": {"per_seed": {"val_mae": [0.5, float("nan"),
                                                           np.float32(np.inf)]}}},
               "comparison": {"p": np.float64(-np.inf), "n": np.int64(3)},
               "files": ("a.png",)}
    path = write_results(str(tmp_path), results)
    text = open(path).read()
    assert "NaN" not in text and "Infinity" not in text
    record = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    assert record["models"]["gru"]["per_seed"]["val_mae"] == [0.5, None, None]
    assert record["comparison"] == {"p": None, "n": 3}
    assert record["nonfinite"] == {"models.gru.per_seed.val_mae[1]": "nan",
                                   "models.gru.per_seed.val_mae[2]": "inf",
                                   "comparison.p": "-inf"}


def test_finite_results_are_written_as_given(tmp_path):
    results = {"experiment": "x", "models": {"m": {"per_seed": {"acc": [0.25, 0.5]}}}}
    path = write_results(str(tmp_path), results)
    assert json.load(open(path)) == results
