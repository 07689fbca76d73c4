"""rnn_attn.analysis.results: results.json is strict JSON, non-finite values named."""

from __future__ import annotations

import copy
import json
import os

import numpy as np
import pytest

from rnn_attn.analysis.results import write_results


def _record(**changes):
    """A valid schema-v1 record (tests.analysis.test_schema.VALID) with ``changes``."""
    from tests.analysis.test_schema import VALID

    record = copy.deepcopy({k: v for k, v in VALID.items() if k != "nonfinite"})
    return record | changes


def test_non_finite_values_become_null_and_are_listed(tmp_path):
    record = _record(
        comparison={"p": np.float64(-np.inf), "n": np.int64(3)}, files={"plot": "a.png"}
    )
    record["models"]["b"]["per_seed"]["acc"] = [0.5, np.float32(np.inf)]
    record["models"]["a"]["per_seed"]["acc"] = [float("nan"), 0.25]
    path = write_results(str(tmp_path), record)
    text = open(path).read()
    assert "NaN" not in text and "Infinity" not in text
    written = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    assert written["models"]["b"]["per_seed"]["acc"] == [0.5, None]
    assert written["comparison"] == {"p": None, "n": 3}
    assert written["nonfinite"] == {
        "models.a.per_seed.acc[0]": "nan",
        "models.b.per_seed.acc[1]": "inf",
        "comparison.p": "-inf",
    }


def test_finite_results_are_written_as_given(tmp_path):
    record = _record()
    path = write_results(str(tmp_path), record)
    assert json.load(open(path)) == record


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


def test_a_record_without_the_schema_is_refused_and_nothing_is_written(tmp_path):
    with pytest.raises(ValueError, match="schema_version"):
        write_results(str(tmp_path), {"experiment": "x", "timing_seconds": {"total": 1}})
    assert not os.path.exists(tmp_path / "results.json")
