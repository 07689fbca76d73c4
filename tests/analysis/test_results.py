"""rnn_attn.analysis.results: results.json is strict JSON, non-finite values named."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

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


def test_a_record_with_schema_version_is_validated_before_anything_is_written(tmp_path):
    from tests.analysis.test_schema import VALID

    record = {k: v for k, v in VALID.items() if k != "nonfinite"}
    record["models"]["b"]["per_seed"]["acc"] = [0.6, np.float64(np.nan)]
    path = write_results(str(tmp_path), record)
    written = json.load(open(path))
    assert written["models"]["b"]["per_seed"]["acc"] == [0.6, None]
    assert written["nonfinite"] == {"models.b.per_seed.acc[1]": "nan"}
    bad = {**record, "timing": 3.5}
    with pytest.raises(ValueError, match="timing: expected an object, got a number 3.5"):
        write_results(str(tmp_path / "bad"), bad)
    assert not (tmp_path / "bad").exists() or not os.listdir(tmp_path / "bad")


def test_a_pre_schema_record_is_written_unchecked(tmp_path):
    """Records without schema_version are the pre-v1 envelopes of experiments not yet
    moved to the runner."""
    path = write_results(str(tmp_path), {"experiment": "x", "timing_seconds": {"total": 1}})
    assert json.load(open(path)) == {"experiment": "x", "timing_seconds": {"total": 1}}
