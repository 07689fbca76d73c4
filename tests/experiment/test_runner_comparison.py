"""The runner's comparison: models that ran the same seed numbers are compared seed by
seed (the paired t-test leads the headline) beside the unpaired tests, and the record it
goes into validates."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from rnn_attn.analysis import schema, stats
from rnn_attn.experiment import runner
from tests._results import minimal_record

SPEC = SimpleNamespace(compare=("acc",))
SETUP = SimpleNamespace(reference_model="base")


def _models(**per_model) -> dict:
    return {
        name: {"seeds": seeds, "per_seed": {"acc": scores}}
        for name, (seeds, scores) in per_model.items()
    }


def test_two_models_with_the_same_seeds_are_compared_seed_by_seed():
    models = _models(base=([0, 1, 2], [0.85, 0.87, 0.86]), att=([0, 1, 2], [0.86, 0.885, 0.87]))
    out = runner.compare(SPEC, SETUP, models)
    acc = out["acc"]
    assert acc["names"] == ["att", "base"] and acc["headline"]["kind"] == "paired"
    assert acc["paired"]["seeds"] == [0, 1, 2]
    expected = stats.paired_test([0.86, 0.885, 0.87], [0.85, 0.87, 0.86])
    assert acc["paired"]["t_test"] == expected["t_test"]
    assert "welch_t_test" in acc and "mann_whitney_u" in acc and "hedges_g" in acc
    schema.validate(minimal_record(models, out))


def test_models_with_other_seeds_are_compared_unpaired_and_the_headline_says_why():
    models = _models(base=([0, 1, 2], [0.85, 0.87, 0.86]), att=([3, 4, 5], [0.86, 0.88, 0.87]))
    acc = runner.compare(SPEC, SETUP, models)["acc"]
    assert "paired" not in acc and acc["headline"]["kind"] == "unpaired"
    assert acc["headline"]["why"] == "the seed numbers differ (att: 3, 4, 5; base: 0, 1, 2)"


def test_three_models_are_paired_against_the_reference_and_holm_adjusted():
    models = _models(
        base=([0, 1, 2], [0.85, 0.87, 0.86]),
        att=([0, 1, 2], [0.86, 0.885, 0.87]),
        big=([0, 1, 2], [0.80, 0.83, 0.81]),
    )
    out = runner.compare(SPEC, SETUP, models)
    comparisons = out["acc"]["comparisons"]
    assert [c["names"] for c in comparisons] == [["att", "base"], ["big", "base"]]
    assert all(c["headline"]["kind"] == "paired" for c in comparisons)
    assert all("p_value_holm" in c["paired"]["t_test"] for c in comparisons)
    schema.validate(minimal_record(models, out))


def test_the_schema_refuses_a_paired_comparison_whose_seeds_are_not_the_models():
    models = _models(base=([0, 1, 2], [0.85, 0.87, 0.86]), att=([0, 1, 2], [0.86, 0.88, 0.87]))
    out = runner.compare(SPEC, SETUP, models)
    out["acc"]["paired"]["seeds"] = [0, 1, 3]
    with pytest.raises(ValueError, match=r"comparison\.acc\.paired\.seeds: expected the seeds"):
        schema.validate(minimal_record(models, out))
    out = runner.compare(SPEC, SETUP, models)
    out["acc"]["headline"]["kind"] = "unpaired"
    with pytest.raises(ValueError, match=r"headline\.kind: expected paired"):
        schema.validate(minimal_record(models, out))
    out = runner.compare(SPEC, SETUP, models)
    del out["acc"]["paired"]["wilcoxon"]
    with pytest.raises(ValueError, match="wilcoxon"):
        schema.validate(minimal_record(models, out))
