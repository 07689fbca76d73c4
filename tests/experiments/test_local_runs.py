"""Every experiment's ``--local`` run, as a user would start it, on the real data of
../shared/data: it ends with status 0 and its work dir holds a ``results.json`` that fits
the schema and one TensorBoard curve per seed of every model (slow tier)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from rnn_attn.data.paths import default_data_dir
from tests._paths import ROOT
from tests._results import check_work_dir

LOCAL = {
    "copy_task": [],
    "imdb": ["--model", "embedding_flatten"],
    "imdb_attention": [],
    "imdb_glove": [],
    "weather": [],
    "char_textgen": [],
    "vanishing_gradients": [],
    "seq2seq": [],
}
NEEDS_DATA = {"imdb", "imdb_attention", "imdb_glove", "weather", "char_textgen"}


@pytest.mark.slow
@pytest.mark.parametrize("experiment", sorted(LOCAL))
def test_the_local_run_writes_a_valid_work_dir(experiment, tmp_path):
    if experiment in NEEDS_DATA and not os.path.isdir(default_data_dir()):
        pytest.skip(f"no data dir {default_data_dir()!r} (../shared/data or $RNN_ATTN_DATA)")
    workdir = str(tmp_path / "run")
    args = ["--local", "--workdir", workdir, "--no-progress", *LOCAL[experiment]]
    done = subprocess.run(
        [sys.executable, "-m", f"experiments.{experiment}", *args],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    record = check_work_dir(workdir)
    assert record["experiment"] == experiment
    assert record["timing"]["compile_seconds"] is not None
