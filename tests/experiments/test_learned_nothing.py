"""A model that trained but learned nothing is marked, not refused: the vanishing-gradient
study expects some configurations to stay at chance (1/symbols), and results.json and the
printed lines say which seeds did (``learned_nothing``); a degenerate run (nothing
trained at all) is refused with one line."""

from __future__ import annotations

import copy
import json

import pytest

from experiments.copy_task import train as copy_task
from experiments.vanishing_gradients import train as vg
from rnn_attn.analysis import schema
from rnn_attn.experiment import findings
from rnn_attn.experiment.cli import main
from rnn_attn.experiment.spec import Chance


def test_seeds_at_chance_are_listed_with_the_chance_level_and_margin():
    chance = Chance("test_accuracy", 0.125, 1024)
    assert chance.margin == pytest.approx(3 * (0.125 * 0.875 / 1024) ** 0.5)
    entry = {"seeds": [0, 1, 2], "per_seed": {"test_accuracy": [0.13, 0.99, None]}}
    assert findings.learned_nothing(chance, entry) == {
        "metric": "test_accuracy",
        "chance": 0.125,
        "margin": round(chance.margin, 6),
        "seeds": [0],
    }
    entry["per_seed"]["test_accuracy"] = [0.5, 0.99, 0.9]
    assert findings.learned_nothing(chance, entry) is None
    assert findings.learned_nothing(None, entry) is None


def test_the_schema_takes_the_mark_and_checks_its_shape():
    record = {
        "schema_version": 1,
        "experiment": "toy",
        "config": {},
        "devices": {},
        "metrics": {},
        "models": {
            "a": {
                "seeds": [0, 1],
                "per_seed": {"test_accuracy": [0.12, 0.9]},
                "learned_nothing": {
                    "metric": "test_accuracy",
                    "chance": 0.125,
                    "margin": 0.031,
                    "seeds": [0],
                },
            }
        },
        "comparison": None,
        "timing": {"total_seconds": 1.0, "compile_seconds": None, "train_seconds": None},
        "files": {},
    }
    schema.validate(record)
    bad = copy.deepcopy(record)
    bad["models"]["a"]["learned_nothing"]["seeds"] = []
    with pytest.raises(ValueError):
        schema.validate(bad)


def test_the_study_marks_a_job_that_stayed_at_chance(tmp_path, capsys):
    """Five steps of a GRU on 30-step sequences: it trained (its parameters moved) but
    recalls the first of 4 symbols at chance; the run ends normally, marked."""
    args = ["--workdir", str(tmp_path), "--no-progress", "--configs", "gru", "--lengths", "30"]
    args += ["--seeds", "2", "--steps", "5", "--units", "4", "--symbols", "4"]
    assert main(vg.EXPERIMENT, args) == 0
    out = capsys.readouterr().out
    model = json.loads((tmp_path / "results.json").read_text())["models"]["gru_T30"]
    mark = model["learned_nothing"]
    assert mark["metric"] == "test_accuracy" and mark["chance"] == 0.25
    assert mark["seeds"] == [0, 1]
    assert "gru_T30: learned nothing with seeds [0, 1] of [0, 1]: test_accuracy at chance" in out


@pytest.mark.slow  # the default tier makes the same run as docs/bad_inputs.md's zero_updates_cli
# row (tests/test_bad_inputs.py: one error line, status 2, no checkpoints)
def test_a_run_that_changed_no_parameter_gets_one_line(tmp_path, capsys):
    args = ["--workdir", str(tmp_path), "--no-progress", "--models", "baseline", "--seeds", "1"]
    args += ["--steps", "5", "--units", "4", "--learning-rate", "1e-46"]
    assert main(copy_task.EXPERIMENT, args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        "error: model 'baseline', seed 0: not one parameter changed in 5 training steps"
    ), err
    assert not (tmp_path / "results.json").exists()
