"""benchmarks/workloads.py's bookkeeping, without timing anything: every workload's arrays
have its shapes, the frameworks are interleaved (rotated by repeat), a ratio's median and
bootstrap interval, and the table from made-up runs (a framework left out says why)."""

from __future__ import annotations

import os
import sys
import types

import numpy as np
import pytest

from tests._paths import ROOT

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import _harness  # noqa: E402
import _workloads  # noqa: E402
import workloads  # noqa: E402


@pytest.mark.parametrize("name", sorted(_workloads.WORKLOADS))
def test_every_workload_has_its_shapes(name):
    w = _workloads.get(name, small=True)
    data = _workloads.arrays(w, 3)
    assert len(data["inputs"]) == len(data["targets"]) == 3
    if w.family == "seq2seq":
        assert data["inputs"].shape == (3, w.length + w.out_length)
    elif w.family == "weather":
        assert data["inputs"].shape == (3, w.length, w.features)
    else:
        assert data["inputs"].shape == (3, w.length)


def _args(**kw):
    base = dict(frameworks=["ours", "engine", "torch"], seeds=[1, 3], repeats=3)
    return types.SimpleNamespace(**(base | kw))


def test_the_frameworks_are_interleaved_and_the_engine_runs_once_per_seed_count():
    assert workloads.entries(_args()) == [("ours", 1), ("engine", 1), ("engine", 3), ("torch", 1)]


def test_a_median_ratio_has_a_bootstrap_interval_around_it():
    ratio = _harness.median_ratio([2.0, 2.2, 1.8, 2.1, 1.9], [1.0] * 5)
    assert ratio["median"] == pytest.approx(2.0)
    assert ratio["low"] <= 2.0 <= ratio["high"]
    assert _harness.median_ratio([2.0], [1.0])["low"] is None  # one repeat: no interval


def _run(workload, framework, repeat, rate, **extra):
    state = {"load": [0.1, 0.1, 0.1], "busy": [], "quiet": True}
    return {
        "workload": workload,
        "framework": framework,
        "repeat": repeat,
        "examples_per_s": rate,
        "compile_s": 1.0,
        "before": state,
        "after": state,
    } | extra


def test_the_table_compares_with_the_fastest_peer_and_says_what_was_left_out():
    runs = [_run("copy_attention", "ours", r, 100.0 + r) for r in range(3)]
    runs += [_run("copy_attention", "torch", r, 50.0) for r in range(3)]
    runs += [_run("copy_attention", "flax", r, 25.0) for r in range(3)]
    runs += [
        _run("copy_attention", "engine3", r, 150.0, mesh=[3, 1], seed_loop="map") for r in range(3)
    ]
    skipped = {
        k: v for k, v in _run("copy_attention", "keras", 0, 0).items() if k != "examples_per_s"
    }
    runs.append(skipped | {"skipped": "Unsupported: no Keras layer"})
    labels = ["ours", "engine3", "flax", "torch", "keras"]
    summary = {"copy_attention": workloads.summarize_workload(runs, "copy_attention", labels)}
    row = summary["copy_attention"]
    assert row["fastest_peer"] == "torch" and row["quiet"]
    assert row["ratios"]["ours"]["median"] == pytest.approx(101.0 / 50.0)
    text = workloads.table(summary, _args(frameworks=["ours", "engine"], seeds=[3]))
    assert "| copy_attention | torch | 2.02 [" in text and "3: map (3x1)" in text
    assert workloads.left_out(summary) == ["copy_attention / keras: Unsupported: no Keras layer"]
    assert np.isfinite(row["frameworks"]["flax"]["examples_per_s"])
