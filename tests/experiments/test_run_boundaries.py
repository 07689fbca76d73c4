"""The run's file-system and process boundaries: relative paths resolved once, from the
directory the command ran in; a write failure mid-run ends in one line naming the path
and the checkpoint kept, the checkpoints intact; ``--distributed`` waits for the
coordinator as long as ``--coordinator-timeout`` says, then gives up in one line."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import socket
import subprocess
import sys

import orbax.checkpoint as ocp
import pytest

from experiments.char_textgen.train import EXPERIMENT as TEXTGEN
from experiments.copy_task.train import EXPERIMENT as COPY_TASK
from experiments.imdb_glove.train import EXPERIMENT as GLOVE
from rnn_attn.experiment import cli
from tests._paths import ROOT
from tests._small_runs import CHAR_ARGS, write_book

TEXTGEN_ARGS = ["--iterations", "1", *CHAR_ARGS]
# 2 seeds, 30 steps of fresh pairs, a checkpoint every 3 steps.
COPY_ARGS = [
    *("--models", "attention", "--seeds", "2", "--steps", "30", "--checkpoint-every", "3"),
    *("--units", "16", "--cardinality", "6", "--eval-examples", "20", "--spot-checks", "1"),
]


def test_relative_paths_are_made_absolute_from_the_directory_the_command_ran_in(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    cfg, options = cli.parse(TEXTGEN, ["--workdir", "run", "--text", "book.txt"])
    assert options.workdir == str(tmp_path / "run")
    assert cfg.text == str(tmp_path / "book.txt")
    cfg, _ = cli.parse(GLOVE, ["--data-dir", "data", "--glove", "vectors/g.txt"])
    assert (cfg.data_dir, cfg.glove) == (str(tmp_path / "data"), str(tmp_path / "vectors/g.txt"))
    cfg, _ = cli.parse(GLOVE, ["--glove", "g.txt"])  # a bare name: a file in --data-dir
    assert (cfg.data_dir, cfg.glove) == ("", "g.txt")


def test_a_run_reads_and_writes_where_its_command_ran_whatever_the_cwd_later(
    tmp_path, monkeypatch, capsys
):
    """Something that changes the working directory during the run (a library, a
    subprocess's set-up) does not move the run's files: they were resolved once."""
    write_book(tmp_path / "book.txt")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path)

    def build_elsewhere(cfg, ctx):
        os.chdir(tmp_path / "elsewhere")
        return TEXTGEN.build(cfg, ctx)

    spec = dataclasses.replace(TEXTGEN, build=build_elsewhere)
    argv = ["--workdir", "run", "--text", "book.txt", "--no-progress", *TEXTGEN_ARGS]
    status = cli.main(spec, argv)
    assert status == 0, capsys.readouterr().err
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["config"]["text"] == str(tmp_path / "book.txt")
    assert list(results["fingerprints"]) == [str(tmp_path / "book.txt")]
    assert os.listdir(tmp_path / "elsewhere") == []


def _copy_task(workdir, *extra) -> int:
    return cli.main(COPY_TASK, ["--workdir", str(workdir), "--no-progress", *COPY_ARGS, *extra])


@pytest.mark.slow  # three checkpointed copy-task runs; the default tier checks write errors on the work dir itself
def test_a_write_failure_mid_run_ends_in_one_line_and_keeps_the_checkpoints(
    tmp_path, monkeypatch, capsys
):
    """The disk fills up at the third checkpoint (step 9): one ``error:`` line names the
    path and the newest checkpoint kept (step 6), and a resume from it finishes."""
    save, calls = ocp.CheckpointManager.save, []

    def disk_full_at_the_third(self, step, *args, **kwargs):
        calls.append(step)
        if len(calls) >= 3:
            target = os.path.join(str(self.directory), f"{step}.orbax-checkpoint-tmp-0")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), target)
        return save(self, step, *args, **kwargs)

    monkeypatch.setattr(ocp.CheckpointManager, "save", disk_full_at_the_third)
    workdir = tmp_path / "run"
    status = _copy_task(workdir)
    err = capsys.readouterr().err.strip()
    kept = workdir / "checkpoints" / "attention"
    assert status == 1 and err.count("\n") == 0, err
    assert err.startswith(f"error: the run stopped: {str(kept / '9.orbax-checkpoint-tmp-0')!r}")
    assert "No space left on device" in err
    assert f"the checkpoints saved are kept (newest: {str(kept / '6')!r})" in err
    assert sorted(os.listdir(kept)) == ["3", "6"]
    monkeypatch.setattr(ocp.CheckpointManager, "save", save)  # room again
    assert _copy_task(workdir, "--resume") == 0, capsys.readouterr().err
    assert (workdir / "results.json").is_file()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_distributed_gives_up_on_a_silent_coordinator_in_one_line(tmp_path):
    """Process 1 of 2, a coordinator address nobody listens on, 1 s: one line while it
    waits, one ``error:`` line naming the coordinator when it gives up (JAX itself
    aborts the process with a C++ stack trace), nothing written."""
    address = f"127.0.0.1:{_free_port()}"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments.copy_task",
            *("--local", "--workdir", str(tmp_path / "run"), "--no-progress", "--distributed"),
            *("--coordinator-address", address, "--num-processes", "2", "--process-id", "1"),
            *("--coordinator-timeout", "1"),
        ],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS="cpu"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr[-3000:]
    assert f"waiting up to 1 s for the coordinator at {address} (process 1 of 2)" in done.stdout
    assert done.stderr.startswith(f"error: no answer from the coordinator at {address} (process")
    assert done.stderr.strip().count("\n") == 0, done.stderr[-3000:]
    assert not (tmp_path / "run").exists()
