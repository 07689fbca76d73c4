"""rnn_attn.train.workdir: the lock, the run record, and what they refuse."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from rnn_attn.errors import ConfigError
from rnn_attn.train import workdir as workdirs


def test_a_second_holder_is_refused_naming_the_first_runs_pid(tmp_path):
    with workdirs.owned(str(tmp_path), "copy_task", {"seeds": 2}, resume=False):
        with pytest.raises(ConfigError, match=rf"in use by another run \(pid {os.getpid()}\)"):
            with workdirs.locked(str(tmp_path)):
                pass
    with workdirs.locked(str(tmp_path)):  # released at the block's end
        pass


def test_the_lock_is_released_when_its_process_is_killed(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from rnn_attn.train import workdir as w\n"
            "with w.locked(sys.argv[1]):\n    print('held', flush=True); time.sleep(60)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=os.getcwd()),
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ConfigError, match="in use by another run"):
            with workdirs.locked(str(tmp_path)):
                pass
    finally:
        holder.kill()
        holder.wait()
    with workdirs.locked(str(tmp_path)):
        pass
    assert os.listdir(tmp_path) == []  # no lock file left behind


def test_claim_records_the_run_and_refuses_a_new_run_into_a_claimed_dir(tmp_path):
    workdirs.claim(str(tmp_path), "weather", {"seeds": 3}, resume=False)
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["experiment"] == "weather" and record["config"] == {"seeds": 3}
    with pytest.raises(ConfigError, match=r"already holds a run \(run.json\); pass --resume"):
        workdirs.claim(str(tmp_path), "weather", {"seeds": 3}, resume=False)
    workdirs.claim(str(tmp_path), "weather", {"seeds": 3}, resume=True)


def test_a_resume_of_another_experiment_or_config_is_refused(tmp_path):
    workdirs.claim(str(tmp_path), "weather", {"seeds": 3, "epochs": 20}, resume=False)
    with pytest.raises(ConfigError, match="holds a 'weather' run, not 'copy_task'"):
        workdirs.claim(str(tmp_path), "copy_task", {"seeds": 3}, resume=True)
    with pytest.raises(ConfigError, match="epochs: saved 20, now 5"):
        workdirs.claim(str(tmp_path), "weather", {"seeds": 3, "epochs": 5}, resume=True)


def test_an_older_runs_results_json_identifies_the_dir(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps({"experiment": "imdb", "config": {}}))
    with pytest.raises(ConfigError, match="holds a 'imdb' run, not 'weather'"):
        workdirs.claim(str(tmp_path), "weather", {}, resume=True)
    with pytest.raises(ConfigError, match=r"already holds a run \(results.json\)"):
        workdirs.claim(str(tmp_path), "imdb", {}, resume=False)


def test_an_unreadable_run_record_is_named(tmp_path):
    (tmp_path / "run.json").write_text("{not json")
    with pytest.raises(ConfigError, match="is not a readable run record"):
        workdirs.claim(str(tmp_path), "imdb", {}, resume=True)


def test_a_run_that_fails_before_writing_work_takes_its_record_back(tmp_path):
    with pytest.raises(ConfigError, match="bad data"):
        with workdirs.owned(str(tmp_path), "imdb", {}, resume=False):
            raise ConfigError("bad data")
    assert os.listdir(tmp_path) == []
    with pytest.raises(RuntimeError):
        with workdirs.owned(str(tmp_path), "imdb", {}, resume=False):
            (tmp_path / "checkpoints").mkdir()
            raise RuntimeError("killed after the first checkpoint")
    assert (tmp_path / "run.json").exists()  # its work is there: the record stays
