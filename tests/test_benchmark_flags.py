"""The benchmarks' flags: a bad value gets one ``error:`` line and exit status 2, never a
traceback (``benchmarks/_flags.py``; hostile round 3 of issue 31, where every one of these
ended in a traceback)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests._paths import ROOT

CASES = [
    (
        "char_generation_speed.py",
        ["--repeats", "0"],
        "argument --repeats: expected an integer >= 1, got '0'",
    ),
    (
        "char_generation_speed.py",
        ["--vocab", "1"],
        "argument --vocab: expected an integer >= 2, got '1'",
    ),
    (
        "projection_speed.py",
        ["--repeats", "0"],
        "argument --repeats: expected an integer >= 1, got '0'",
    ),
    (
        "memory.py",
        ["--maxlens", "500,0"],
        "argument --maxlens: expected comma-separated integers >= 1, got '500,0'",
    ),
    (
        "memory.py",
        ["--remat", "x"],
        "argument --remat: expected comma-separated integers >= 1, got 'x'",
    ),
    (
        "copy_task_speed.py",
        ["--steps", "-1"],
        "argument --steps: expected an integer >= 1, got '-1'",
    ),
    (
        "imdb_scaling.py",
        ["--devices", "a,b"],
        "argument --devices: expected comma-separated integers >= 1, got 'a,b'",
    ),
    (
        "imdb_scaling.py",
        ["--devices", "0"],
        "argument --devices: expected comma-separated integers >= 1, got '0'",
    ),
    (
        "tokenize_imdb.py",
        ["--num-words", "0"],
        "argument --num-words: expected an integer >= 1, got '0'",
    ),
    (
        "imdb_bilstm_speed.py",
        ["--batch-size", "0"],
        "argument --batch-size: expected an integer >= 1, got '0'",
    ),
    (
        "imdb_bilstm_speed.py",
        ["--warmup", "-1"],
        "argument --warmup: expected an integer >= 0, got '-1'",
    ),
    (
        "workloads.py",
        ["--workloads", "imdb_lstm,nope"],
        "argument --workloads: unknown name 'nope'; expected comma-separated names from",
    ),
    (
        "workloads.py",
        ["--frameworks", "torch,torch"],
        "argument --frameworks: a name is repeated in 'torch,torch'",
    ),
    (
        "workloads.py",
        ["--repeats", "0"],
        "argument --repeats: expected an integer >= 1, got '0'",
    ),
    (
        "workloads.py",
        ["--seeds", "1", "0"],
        "argument --seeds: expected an integer >= 1, got '0'",
    ),
    (
        "workloads.py",
        ["--quiet-load", "-1"],
        "argument --quiet-load: expected a number > 0, got '-1'",
    ),
    (
        "workloads.py",
        ["--wait-quiet", "nan"],
        "argument --wait-quiet: expected a number >= 0, got 'nan'",
    ),
    (
        "workloads.py",
        ["--seed-loop", "pmap"],
        "argument --seed-loop: invalid choice: 'pmap'",
    ),
    (
        "gpu.py",
        ["--steps", "environment,gpu"],
        "argument --steps: unknown name 'gpu'; expected comma-separated names from",
    ),
    (
        "gpu.py",
        ["--budget-s", "0"],
        "argument --budget-s: expected a number > 0, got '0'",
    ),
    (
        "cudnn_lstm.py",
        ["--shapes", "128,500,32"],
        "a shape is batch,maxlen,features,units",
    ),
]


@pytest.mark.parametrize(("script", "argv", "message"), CASES)
def test_a_bad_flag_gets_one_error_line(script, argv, message):
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", script), *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert message in lines[0]


def test_a_value_the_library_refuses_is_one_error_line():
    """``--temperature nan`` passes argparse; ``make_generator`` refuses it (ConfigError),
    which ``_flags.run`` turns into one line."""
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "char_generation_speed.py")]
        + ["--temperature", "nan", "--chars", "5", "--repeats", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        "error: temperature must be a finite number >= 0 (0: greedy), got nan"
    ), done.stderr
