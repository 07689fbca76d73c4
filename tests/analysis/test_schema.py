"""rnn_attn.analysis.schema: results.json's versioned schema, its checks, its migration."""

from __future__ import annotations

import copy
import glob
import json
import os
import re

import jsonschema
import pytest

from rnn_attn.analysis import schema
from tests._paths import ROOT

VALID = {
    "schema_version": 1,
    "experiment": "toy",
    "reference": "document 000: about 0.8",
    "config": {"seeds": 2, "epochs": 2},
    "devices": {"platform": "cpu", "device_count": 1, "mesh": {"seed": 1, "data": 1}},
    "metrics": {"acc": "VALIDATION accuracy", "loss": "TRAINING loss", "note": "a word"},
    "models": {
        "a": {
            "seeds": [0, 3],
            "per_seed": {"acc": [0.5, None], "note": ["x", "y"], "epoch": [1, 2]},
            "parameters": 10,
            "summary": {"acc": {"mean": 0.5, "n": 1}},
            "history_per_seed": [{"loss": [1.0, 0.5]}, {"loss": [1.1, None]}],
            "vs_baseline": {"anything": [1, "two"]},
        },
        "b": {"seeds": [0, 3], "per_seed": {"acc": [0.6, 0.7]}, "summary": None},
    },
    "comparison": None,
    "timing": {
        "total_seconds": 3.5,
        "compile_seconds": None,
        "train_seconds": 2,
        "evaluate_seconds": 0.5,
    },
    "files": {},
    "data": {"fingerprint": "later"},
    "nonfinite": {"models.a.per_seed.acc[1]": "nan"},
}


def changed(path: str, value=None, delete: bool = False) -> dict:
    """VALID with the value at dotted ``path`` (integers index lists) replaced or removed."""
    record = copy.deepcopy(VALID)
    *parents, last = path.split(".")
    target = record
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    key = int(last) if isinstance(target, list) else last
    if delete:
        del target[key]
    else:
        target[key] = value
    return record


def test_a_valid_record_passes():
    schema.validate(VALID)
    schema.validate(changed("comparison", {"acc": {"p": 0.1}}))
    schema.validate(changed("data", "the raw IMDB reviews"))
    for optional in ("reference", "data", "nonfinite"):
        schema.validate(changed(optional, delete=True))
    for optional in ("parameters", "summary", "history_per_seed", "vs_baseline"):
        schema.validate(changed(f"models.a.{optional}", delete=True))


VIOLATIONS = [
    # (path, new value or "DELETE", the message's expected text)
    ("experiment", "DELETE", "experiment: required key missing"),
    ("comparison", "DELETE", "comparison: required key missing"),
    ("files", "DELETE", "files: required key missing"),
    ("models.a.seeds", "DELETE", "models.a.seeds: required key missing"),
    ("models.b.per_seed", "DELETE", "models.b.per_seed: required key missing"),
    ("timing.compile_seconds", "DELETE", "timing.compile_seconds: required key missing"),
    (
        "schema_version",
        "DELETE",
        "schema_version: required key missing (a record without "
        "it predates the schema: read it through schema.migrate)",
    ),
    ("experiment", 3, "experiment: expected a string, got an integer 3"),
    ("config", [1], "config: expected an object, got a list [1]"),
    ("models.a.parameters", 1.5, "models.a.parameters: expected an integer, got a number 1.5"),
    (
        "models.a.per_seed.acc.1",
        [1],
        "models.a.per_seed.acc[1]: expected a number or a string or null, got a list [1]",
    ),
    (
        "models.a.history_per_seed.1.loss.0",
        "x",
        "models.a.history_per_seed[1].loss[0]: expected a number or null, got a string 'x'",
    ),
    ("models.a.seeds.0", True, "models.a.seeds[0]: expected an integer, got true or false"),
    ("metrics.acc", None, "metrics.acc: expected a string, got null"),
    ("files.plot", 1, "files.plot: expected a string, got an integer 1"),
    ("timing", 3.5, "timing: expected an object, got a number 3.5"),
    ("timing", {"total": 3.5}, "timing.total_seconds: required key missing"),
    ("timing.total_seconds", None, "timing.total_seconds: expected a number, got null"),
    (
        "timing.evaluate_seconds",
        "1 s",
        "timing.evaluate_seconds: expected a number, got a string '1 s'",
    ),
    ("schema_version", 2, "schema_version: expected 1, got 2"),
    ("trials", [], "trials: not a key of schema version 1 (allowed here: schema_version, "),
    ("timing_seconds", 3.5, "timing_seconds: not a key of schema version 1"),
    (
        "models.a.seeds",
        [3, 0],
        "models.a.seeds: expected strictly ascending seed numbers, got [3, 0]",
    ),
    ("models.a.seeds", [0, 0], "models.a.seeds: expected strictly ascending"),
    (
        "models.b.per_seed.acc",
        [0.6],
        "models.b.per_seed.acc: expected 2 entries (one per "
        "seed, in the order of seeds [0, 3]), got 1",
    ),
    (
        "models.a.history_per_seed",
        [{"loss": [1.0]}],
        "models.a.history_per_seed: expected 2 entries",
    ),
]


@pytest.mark.parametrize(
    "path, value, message", VIOLATIONS, ids=[f"{p}={v!r}"[:40] for p, v, _ in VIOLATIONS]
)
def test_each_violation_names_its_path_and_what_was_expected(path, value, message):
    record = changed(path, delete=True) if value == "DELETE" else changed(path, value)
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        schema.validate(record)
    assert str(raised.value).startswith("results.json (schema version 1): ")
    assert "\n" not in str(raised.value)


SWEPT = {  # a model tuned with --sweep (models.<name>.trials and .selected)
    "trials": [
        {
            "hyperparameters": {"learning_rate": 0.001, "dropout": 0.0},
            "seeds": [0, 1],
            "per_seed": {"val_acc_best": [0.5, 0.6], "best_epoch": [1, 2]},
        },
        {
            "hyperparameters": {"learning_rate": 0.003, "dropout": 0.0},
            "seeds": [0, 1],
            "per_seed": {"val_acc_best": [0.7, None], "best_epoch": [2, 2]},
        },
    ],
    "selected": {
        "hyperparameters": {"learning_rate": 0.001, "dropout": 0.0},
        "figure": "val_acc_best",
        "higher_is_better": True,
        "mean": 0.55,
        "tuning_seeds": [0, 1],
        "seeds": [0, 3],
        "rule": "the setting whose mean val_acc_best over the tuning seeds is highest",
    },
}
SWEPT_VIOLATIONS = [
    (
        "trials.0.per_seed.val_acc_best",
        [0.5],
        "models.a.trials[0].per_seed.val_acc_best: expected 2 entries (one per seed of the "
        "trial, [0, 1]), got 1",
    ),
    (
        "selected.seeds",
        [2, 3],
        "models.a.selected.seeds: expected the model's seeds [0, 3], got [2, 3]",
    ),
    (
        "trials.1.hyperparameters.dropout",
        None,
        "models.a.trials[1].hyperparameters.dropout: expected a number or a string, got null",
    ),
    (
        "selected.hyperparameters.optimizer",
        ["adam"],
        "models.a.selected.hyperparameters.optimizer: expected a number or a string, got a list",
    ),
    ("trials.0.seeds", "DELETE", "models.a.trials[0].seeds: required key missing"),
    ("selected.rule", "DELETE", "models.a.selected.rule: required key missing"),
    ("selected.higher_is_better", 1, "models.a.selected.higher_is_better: expected true or"),
]


@pytest.mark.parametrize(
    "path, value, message", SWEPT_VIOLATIONS, ids=[p for p, _, _ in SWEPT_VIOLATIONS]
)
def test_a_swept_models_trials_and_selected_setting(path, value, message):
    schema.validate(changed("models.a", VALID["models"]["a"] | copy.deepcopy(SWEPT)))
    record = changed("models.a", VALID["models"]["a"] | copy.deepcopy(SWEPT))
    *parents, last = path.split(".")
    target = record["models"]["a"]
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if value == "DELETE":
        del target[last]
    else:
        target[int(last) if isinstance(target, list) else last] = value
    with pytest.raises(ValueError, match=re.escape(message)):
        schema.validate(record)


def test_a_swept_choice_is_a_word_in_the_trials_and_the_selected_setting():
    """``--sweep optimizer=adam,rmsprop``: the optimizer is a string beside the numbers."""
    swept = copy.deepcopy(SWEPT)
    for entry, word in zip(swept["trials"], ("adam", "rmsprop"), strict=True):
        entry["hyperparameters"]["optimizer"] = word
    swept["selected"]["hyperparameters"]["optimizer"] = "adam"
    schema.validate(changed("models.a", VALID["models"]["a"] | swept))


def test_several_problems_are_counted_the_first_named():
    record = changed("experiment", delete=True)
    record["timing"] = 1
    with pytest.raises(ValueError, match=r": [a-z]+: .* \(and 1 more problem\)$"):
        schema.validate(record)
    with pytest.raises(ValueError, match=r"\(the record\): expected an object, got a list"):
        schema.validate([])


OLD_NUMBER = {  # the shape four experiments wrote before the schema (imdb, weather ...)
    "experiment": "imdb",
    "reference": "r",
    "config": {},
    "data": "d",
    "devices": {},
    "metrics": {"acc": "VALIDATION"},
    "models": {"lstm": {"seeds": [0, 1], "per_seed": {"acc": [0.5, 0.6]}}},
    "comparison": None,
    "timing_seconds": 12.5,
    "files": {"history": "/x/history.png"},
}
OLD_COPY = {  # the copy task's: timing a dict, written after the files
    "experiment": "copy_task",
    "reference": "r",
    "config": {},
    "devices": {},
    "metrics": {"acc": "TEST"},
    "models": {
        "baseline": {"seeds": [0, 1], "per_seed": {"acc": [0.1, 0.2]}},
        "attention": {"seeds": [0, 1], "per_seed": {"acc": [0.9, 1.0]}},
    },
    "comparison": {"acc": {}},
    "files": {"plot": "p.png"},
    "timing_seconds": {"total": 50.9},
}
NOT_MEASURED = {"compile_seconds": None, "train_seconds": None}


def test_migrate_upgrades_a_pre_schema_record_with_timing_a_number():
    before = copy.deepcopy(OLD_NUMBER)
    new = schema.migrate(OLD_NUMBER)
    schema.validate(new)
    assert OLD_NUMBER == before  # the argument is not changed
    assert new["timing"] == {"total_seconds": 12.5, **NOT_MEASURED}
    assert list(new) == [
        "schema_version",
        "experiment",
        "reference",
        "config",
        "data",
        "devices",
        "metrics",
        "models",
        "comparison",
        "timing",
        "files",
    ]
    assert {k: v for k, v in new.items() if k not in ("schema_version", "timing")} == {
        k: v for k, v in OLD_NUMBER.items() if k != "timing_seconds"
    }


def test_migrate_upgrades_the_copy_tasks_timing_dict():
    new = schema.migrate(OLD_COPY)
    schema.validate(new)
    assert new["timing"] == {"total_seconds": 50.9, **NOT_MEASURED}
    assert list(new)[-2:] == ["files", "timing"]  # the key order is kept
    parts = schema.migrate(
        {**OLD_COPY, "timing_seconds": {"total": 5, "compile": 1, "evaluate": 0.5}}
    )
    assert parts["timing"] == {
        "total_seconds": 5,
        "compile_seconds": 1,
        "train_seconds": None,
        "evaluate_seconds": 0.5,
    }
    schema.validate(parts)


def test_migrate_fills_only_what_is_honest():
    old = {k: v for k, v in OLD_NUMBER.items() if k not in ("comparison", "files")}
    old["nonfinite"] = {"models.lstm.per_seed.acc[0]": "nan", "timing_seconds": "inf"}
    new = schema.migrate(old)
    assert new["comparison"] is None and new["files"] == {}
    assert list(new)[-5:] == ["models", "comparison", "timing", "files", "nonfinite"]
    assert new["nonfinite"] == {"models.lstm.per_seed.acc[0]": "nan", "timing.total_seconds": "inf"}
    partial = schema.migrate({"timing_seconds": 5})  # no experiment, config ... invented
    assert partial == {
        "schema_version": 1,
        "timing": {"total_seconds": 5, **NOT_MEASURED},
        "comparison": None,
        "files": {},
    }
    with pytest.raises(ValueError, match="experiment: required key missing"):
        schema.validate(partial)


def test_migrate_leaves_a_current_record_and_refuses_what_it_cannot_read():
    assert schema.migrate(VALID) == VALID
    with pytest.raises(ValueError, match="schema_version: 2 is newer than this code reads"):
        schema.migrate({**VALID, "schema_version": 2})
    with pytest.raises(ValueError, match="schema_version: expected an integer, got '1'"):
        schema.migrate({**VALID, "schema_version": "1"})
    with pytest.raises(ValueError, match="timing_seconds: expected a number or"):
        schema.migrate({**OLD_NUMBER, "timing_seconds": "12 s"})
    with pytest.raises(ValueError, match="schema_version: required key missing"):
        schema.validate(OLD_NUMBER)
    assert set(schema.MIGRATIONS) == set(range(schema.SCHEMA_VERSION))


ARCHIVED = sorted(glob.glob(os.path.join(ROOT, "docs", "runs", "*", "results.json")))


def test_the_archive_is_there():
    assert len(ARCHIVED) >= 17


@pytest.mark.parametrize("path", ARCHIVED, ids=[p.split(os.sep)[-2] for p in ARCHIVED])
def test_every_archived_results_file_validates(path):
    with open(path, encoding="utf-8") as f:
        record = json.load(f)
    schema.validate(record)
    assert record["schema_version"] == schema.SCHEMA_VERSION
    assert schema.migrate(record) == record


def test_the_schema_file_is_a_valid_schema_shipped_as_package_data():
    jsonschema.Draft202012Validator.check_schema(schema.schema())
    assert schema.schema()["properties"]["schema_version"]["const"] == schema.SCHEMA_VERSION
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        pyproject = f.read()
    assert re.search(
        r'\[tool\.setuptools\.package-data\]\n"rnn_attn\.analysis" = '
        r'\["results_schema_v\*\.json"\]',
        pyproject,
    )


def test_the_docs_name_every_top_level_key():
    with open(os.path.join(ROOT, "docs", "results_schema.md"), encoding="utf-8") as f:
        doc = f.read()
    for key in schema.schema()["properties"]:
        assert f"`{key}`" in doc, key
        assert f"``{key}``" in schema.__doc__, key
