"""Every experiment's work dir is owned by one run: a second live run into it, a resume of
another experiment's dir, and a new run over a finished one are refused with one line,
before anything is written or restored (rnn_attn.train.workdir, through rnn_attn.experiment.context.open_run)."""

from __future__ import annotations

import json
import os

import pytest

from rnn_attn.train import workdir as workdirs
from tests._entry import entry_point

# Each experiment with flags that pass validation (the refusal comes before any data).
ARGS = {
    "copy_task": ["--local"],
    "imdb": ["--model", "embedding_flatten", "--local"],
    "imdb_attention": ["--local"],
    "imdb_glove": ["--local"],
    "weather": ["--models", "dense", "--seeds", "1", "--epochs", "1"],
    "char_textgen": ["--local"],
    "vanishing_gradients": ["--local"],
}


def _main(experiment: str, workdir, *extra: str, capsys) -> tuple[int, str]:
    main = entry_point(f"experiments.{experiment}")
    status = main(["--workdir", str(workdir), "--no-progress", *ARGS[experiment], *extra])
    return status, capsys.readouterr().err.strip()


@pytest.mark.parametrize("experiment", sorted(ARGS))
def test_a_second_run_into_a_live_runs_dir_is_refused_naming_its_pid(experiment, tmp_path, capsys):
    with workdirs.owned(str(tmp_path), experiment, {}, resume=False):
        before = sorted(os.listdir(tmp_path))
        status, err = _main(experiment, tmp_path, capsys=capsys)
        assert status == 2 and err.count("\n") == 0, err
        assert f"is in use by another run (pid {os.getpid()})" in err
        assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.parametrize("experiment", sorted(ARGS))
def test_a_resume_into_another_experiments_dir_is_refused(experiment, tmp_path, capsys):
    other = "weather" if experiment != "weather" else "copy_task"
    workdirs.write_identity(str(tmp_path), other, {"seeds": 1})
    finished = json.dumps({"experiment": other})
    (tmp_path / "results.json").write_text(finished)
    status, err = _main(experiment, tmp_path, "--resume", capsys=capsys)
    assert status == 2 and err == (
        f"error: work dir {str(tmp_path)!r} holds a {other!r} "
        f"run, not {experiment!r}; choose another --workdir"
    )
    assert (tmp_path / "results.json").read_text() == finished


@pytest.mark.parametrize("experiment", sorted(ARGS))
def test_a_new_run_over_a_finished_run_is_refused(experiment, tmp_path, capsys):
    workdirs.write_identity(str(tmp_path), experiment, {})
    (tmp_path / "results.json").write_text("{}")
    status, err = _main(experiment, tmp_path, capsys=capsys)
    assert status == 2 and "already holds a run (run.json, results.json); pass --resume" in err
    assert (tmp_path / "results.json").read_text() == "{}"
