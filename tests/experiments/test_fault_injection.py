"""Fault injection: an experiment killed with SIGKILL again and again, at random steps and
in the middle of a checkpoint write, and resumed with ``--resume`` each time, ends with
parameters and metrics bit-identical to a run that was never interrupted.

Three experiments, one of each kind of training: weather (epochs over arrays, five
kills), the copy task (a sampler drawing fresh pairs each step, three kills) and
imdb_attention (text, epochs over tokenized reviews, three kills)."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np
import pytest

from rnn_attn.train.checkpoints import Checkpointer
from tests._paths import ROOT
from tests.experiments.test_sentiment import _data_dir as write_imdb
from tests.experiments.test_weather import write_jena

# Whole runs repeated many times: `pytest -m slow` (.ci/run runs them after the suite).
pytestmark = pytest.mark.slow


@dataclasses.dataclass(frozen=True)
class Scenario:
    """One experiment under fault injection: its command (data written into tmp_path),
    the model whose checkpoint dir is watched, its steps in all and the kills."""

    command: Callable[[object, object], list[str]]  # (tmp_path, workdir) -> argv
    model: str
    total_steps: int
    kills: int  # one of them while a checkpoint is being written


def _weather(tmp_path, workdir):
    # 600 hourly rows -> 350 training windows: 22 steps an epoch in batches of 16, 66 in
    # all; a checkpoint every 3 steps and at each epoch end.
    data = tmp_path / "jena.csv"
    if not data.exists():
        write_jena(data, rows=600)
    return [
        "experiments.weather",
        "--data",
        str(data),
        "--format",
        "jena",
        "--models",
        "gru",
        "--seeds",
        "1",
        "--epochs",
        "3",
        "--lookback",
        "12",
        "--step",
        "2",
        "--delay",
        "3",
        "--batch-size",
        "16",
        "--checkpoint-every",
        "3",
    ]


def _copy_task(tmp_path, workdir):
    # 2 seeds, 60 steps of fresh pairs, a checkpoint every 3 steps.
    return [
        "experiments.copy_task",
        "--models",
        "attention",
        "--seeds",
        "2",
        "--steps",
        "60",
        "--checkpoint-every",
        "3",
        "--units",
        "16",
        "--cardinality",
        "6",
        "--eval-examples",
        "20",
        "--spot-checks",
        "1",
    ]


def _imdb_attention(tmp_path, workdir):
    # 12 training reviews in batches of 2 (6 steps an epoch), 5 epochs: 30 steps, a
    # checkpoint after each.
    data = tmp_path / "data"
    if not data.exists():
        write_imdb(tmp_path)
    return [
        "experiments.imdb_attention",
        "--models",
        "bilstm",
        "--data-dir",
        str(data),
        "--num-words",
        "30",
        "--maxlen",
        "8",
        "--epochs",
        "5",
        "--seeds",
        "2",
        "--batch-size",
        "2",
        "--checkpoint-every",
        "1",
    ]


SCENARIOS = {
    "weather": Scenario(_weather, "gru", 66, 5),
    "copy_task": Scenario(_copy_task, "attention", 60, 3),
    "imdb_attention": Scenario(_imdb_attention, "bilstm", 30, 3),
}


def _command(scenario, tmp_path, workdir, *extra):
    module, *args = scenario.command(tmp_path, workdir)
    return [
        sys.executable,
        "-m",
        module,
        "--workdir",
        str(workdir),
        *args,
        "--no-progress",
        "--cpu-devices",
        "1",
        *extra,
    ]


def _start(command, log, cache_dir):
    # The runs share a compilation cache (only startup time; the same executables).
    env = dict(
        os.environ,
        PYTHONPATH=ROOT,
        JAX_COMPILATION_CACHE_DIR=str(cache_dir),
        JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
        # the data cache of each work dir its own (the reference runs beside)
        RNN_ATTN_CACHE=command[command.index("--workdir") + 1] + ".data-cache",
    )
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def _checkpoints(directory):
    """(complete checkpoint steps, temporary directories of writes under way)."""
    if not os.path.isdir(directory):
        return [], []
    names = os.listdir(directory)
    return (
        sorted(int(n) for n in names if n.isdigit()),
        [n for n in names if "orbax-checkpoint-tmp" in n],
    )


def _kill_when(process, condition, timeout=180.0):
    """SIGKILLs ``process`` as soon as ``condition()`` holds; False if it ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if condition():
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.002)
    process.kill()
    raise AssertionError("the training run made no progress within the timeout")


def _final_state(directory):
    with Checkpointer(directory) as ckpt:
        step = ckpt.latest_step()
        tree, record = ckpt.restore(step)
    return step, tree, record


@pytest.mark.parametrize("experiment", sorted(SCENARIOS))
def test_sigkill_at_random_steps_and_mid_write_then_resume_is_bit_identical(experiment, tmp_path):
    scenario = SCENARIOS[experiment]
    rng = np.random.default_rng(2026)
    log = open(tmp_path / "log.txt", "ab")
    cache = tmp_path / "cache"
    # The uninterrupted reference runs beside the killed runs (results do not depend on
    # timing).
    reference = _start(_command(scenario, tmp_path, tmp_path / "reference"), log, cache)

    workdir = tmp_path / "killed"
    # every seed in one checkpoint
    checkpoint_dir = str(workdir / "checkpoints" / scenario.model)
    targets = sorted(
        rng.choice(np.arange(4, scenario.total_steps - 8), scenario.kills - 1, replace=False)
    )
    plan = [("step", int(t)) for t in targets]
    plan.insert(2, ("mid-write", 0))
    killed_at, mid_write_kills, runs = [], 0, 0
    while plan:
        kind, target = plan.pop(0)
        runs += 1
        assert runs <= 12, f"could not place the kills: {killed_at}"
        done_before, _ = _checkpoints(checkpoint_dir)
        newest_before = done_before[-1] if done_before else 0
        process = _start(_command(scenario, tmp_path, workdir, "--resume"), log, cache)
        if kind == "step":
            target = max(target, newest_before + 1)  # each kill after a newer checkpoint
            delay = rng.uniform(0.0, 0.05)  # lands anywhere in the steps that follow

            def reached(target=target, delay=delay):
                steps, _ = _checkpoints(checkpoint_dir)
                if steps and steps[-1] >= target:
                    time.sleep(delay)
                    return True
                return False

            assert _kill_when(process, reached), "the run ended before its kill"
            killed_at.append(_checkpoints(checkpoint_dir)[0][-1])  # at least this step
        else:
            writing = []

            def write_under_way(writing=writing, newest_before=newest_before):
                _, temporary = _checkpoints(checkpoint_dir)
                writing[:] = [
                    int(n.split(".")[0]) for n in temporary if int(n.split(".")[0]) > newest_before
                ]
                return bool(writing)

            assert _kill_when(process, write_under_way), "the run ended before its kill"
            _, temporary = _checkpoints(checkpoint_dir)
            if any(n.startswith(f"{writing[0]}.") for n in temporary):
                # The kill cut the write of checkpoint `writing[0]` short: its temporary
                # directory was never renamed, so the resume starts before it.
                mid_write_kills += 1
                killed_at.append(writing[0])
            else:  # the write finished between the poll and the signal: try again
                plan.insert(0, ("mid-write", 0))

    assert mid_write_kills == 1
    assert len(set(killed_at)) == scenario.kills, killed_at
    print(
        f"{runs} runs killed; at steps (at least) {killed_at}, one during the write of a checkpoint"
    )
    finished = _start(_command(scenario, tmp_path, workdir, "--resume"), log, cache)
    assert finished.wait(300) == 0, (tmp_path / "log.txt").read_text()[-3000:]
    assert reference.wait(300) == 0, (tmp_path / "log.txt").read_text()[-3000:]
    log.close()

    step, params, record = _final_state(checkpoint_dir)
    ref_step, ref_params, ref_record = _final_state(
        str(tmp_path / "reference" / "checkpoints" / scenario.model)
    )
    assert step == ref_step == scenario.total_steps
    flat, ref_flat = _leaves(params), _leaves(ref_params)
    assert flat.keys() == ref_flat.keys()
    for path in flat:  # params, optimizer state, keys, step, best params: bit for bit
        np.testing.assert_array_equal(flat[path], ref_flat[path], err_msg=path)
    assert record.get("history") == ref_record.get("history")
    results = json.loads((workdir / "results.json").read_text())["models"]
    ref_results = json.loads((tmp_path / "reference" / "results.json").read_text())["models"]
    assert results[scenario.model]["per_seed"] == ref_results[scenario.model]["per_seed"]
    assert results[scenario.model].get("history_per_seed") == ref_results[scenario.model].get(
        "history_per_seed"
    )


def _leaves(tree, prefix=""):
    if isinstance(tree, dict):
        out = {}
        for key, value in tree.items():
            out |= _leaves(value, f"{prefix}/{key}")
        return out
    if isinstance(tree, (list, tuple)):
        out = {}
        for i, value in enumerate(tree):
            out |= _leaves(value, f"{prefix}/{i}")
        return out
    return {} if tree is None else {prefix: np.asarray(tree)}
