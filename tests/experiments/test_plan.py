"""``python -m experiments.plan``: the seeds a stated difference needs, from a pilot run's
results.json (the archived document-000 run, and small pilots written here)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from experiments.plan import run
from rnn_attn.analysis import power
from tests._paths import ROOT
from tests._results import minimal_record

DOC000 = os.path.join(ROOT, "docs", "runs", "000_imdb_attention", "results.json")


def _pilot(tmp_path, seeds_b=(0, 1, 2)) -> str:
    models = {
        "base": {"seeds": [0, 1, 2], "per_seed": {"acc": [0.80, 0.82, 0.81]}},
        "att": {"seeds": list(seeds_b), "per_seed": {"acc": [0.81, 0.825, 0.815]}},
    }
    path = tmp_path / "results.json"
    path.write_text(json.dumps(minimal_record(models)))
    return str(path)


def test_document_000s_pilot_gives_the_plan_of_its_per_seed_figures(capsys):
    if not os.path.isfile(DOC000):
        pytest.skip(f"{DOC000} is not in this checkout")
    argv = ["--results", DOC000, "--metric", "val_accuracy_best", "--difference", "0.005"]
    assert run.main(argv) == 0
    out = capsys.readouterr().out
    record = json.load(open(DOC000))
    a = record["models"]["bilstm_attention"]["per_seed"]["val_accuracy_best"]
    b = record["models"]["bilstm"]["per_seed"]["val_accuracy_best"]
    expected = power.plan(a, b, 0.005)
    assert "bilstm_attention - bilstm = 0.005" in out and "(the same: paired by seed)" in out
    assert f"needs {expected['paired']['seeds']} seeds;" in out
    assert f"needs {expected['unpaired']['seeds']} seeds per model;" in out
    assert f"had power {expected['paired']['pilot_power']:.3f}" in out
    sd = np.std(np.subtract(a, b), ddof=1)
    assert expected["paired"]["sd"] == pytest.approx(sd)


def test_a_pilot_whose_seeds_differ_is_planned_unpaired_only(tmp_path, capsys):
    assert (
        run.main(
            ["--results", _pilot(tmp_path, (3, 4, 5)), "--metric", "acc", "--difference", "0.01"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "(not the same: unpaired)" in out and "paired by seed (" not in out
    assert "att - base = 0.01" in out and "seeds per model" in out


def test_the_sequential_plan_prints_each_looks_boundary(tmp_path, capsys):
    argv = ["--results", _pilot(tmp_path), "--metric", "acc", "--difference", "0.01"]
    assert run.main([*argv, "--sequential", "--round", "10", "--maximum", "30"]) == 0
    out = capsys.readouterr().out
    bounds = power.spending_boundaries([1 / 3, 2 / 3, 1.0])
    for i, (seeds, z) in enumerate(zip((10, 20, 30), bounds, strict=True), 1):
        assert f"look {i} at {seeds} seeds: |z| >= {z:.3f}" in out
    assert "O'Brien-Fleming" in out


def test_the_command_line_lists_every_flag_and_writes_nothing(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "experiments.plan", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ROOT},
        check=True,
    )
    for flag in (
        "--results",
        "--metric",
        "--difference",
        "--models",
        "--power",
        "--alpha",
        "--sequential",
        "--round",
        "--maximum",
    ):
        assert flag in result.stdout
    pilot = _pilot(tmp_path)
    before = sorted(os.listdir(tmp_path))
    assert run.main(["--results", pilot, "--metric", "acc", "--difference", "0.01"]) == 0
    assert sorted(os.listdir(tmp_path)) == before
