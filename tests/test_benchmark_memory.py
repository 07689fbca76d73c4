"""benchmarks/memory.py: its rows (every model at every length, by default and with each
remat chunk), its table line, and (slow) a ``--small`` run end to end."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests._paths import ROOT

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import memory  # noqa: E402


def test_every_model_runs_at_every_length_by_default_and_with_each_chunk():
    rows = memory.rows([500, 4000], [25, 64])
    variants = {(r["workload"], r["variant"], r["remat"]) for r in rows}
    assert variants == {
        ("imdb_lstm", "scan", 0),
        ("imdb_lstm", "remat 25", 25),
        ("imdb_lstm", "remat 64", 64),
        ("bilstm", "fused", 0),
        ("bilstm", "generic", 0),
        ("bilstm", "remat 25", 25),
        ("bilstm", "remat 64", 64),
    }
    assert len(rows) == 2 * len(variants)


def test_a_result_is_one_table_line():
    result = dict(
        workload="bilstm",
        maxlen=4000,
        variant="remat 64",
        temp=3 * memory.MIB,
        io=1.5 * memory.MIB,
        seeds_temp=None,
        rss=500 * memory.MIB,
        rss_before=300 * memory.MIB,
        step_s=1.2345,
        load=2.04,
    )
    line = memory.line(result)
    assert (
        line
        == "| 000 BiLSTM(64) | 4,000 | remat 64 | 3.0 | 1.5 | n/a | 500.0 | 300.0 | 1,234 | 2.0 |"
    )
    assert line.count("|") == memory.HEADER.splitlines()[0].count("|")


@pytest.mark.slow
def test_a_small_run_prints_the_table():
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "memory.py"), "--small"]
        + ["--repeats", "1", "--seeds", "0"],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| 00")]
    assert len(rows) == 5  # LSTM: scan, remat 8; BiLSTM: fused, generic, remat 8
    assert all(" | 30 | " in row for row in rows)
