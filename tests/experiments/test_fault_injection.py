"""Fault injection: an experiment killed with SIGKILL again and again, at random steps and
in the middle of a checkpoint write, and resumed with ``--resume`` each time, ends with
parameters and metrics bit-identical to a run that was never interrupted."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np

from rnn_attn.train.checkpoints import Checkpointer
from tests._paths import ROOT
from tests.experiments.test_weather import write_jena

# 600 hourly rows -> 350 training windows: 22 steps an epoch in batches of 16, 66 in all;
# a checkpoint every 3 steps and at each epoch end.
EPOCHS, STEPS_PER_EPOCH, EVERY = 3, 22, 3
TOTAL_STEPS = EPOCHS * STEPS_PER_EPOCH
KILLS = 5  # one of them while a checkpoint is being written


def _command(data, workdir, *extra):
    return [sys.executable, "-m", "experiments.weather", "--workdir", str(workdir),
            "--data", data, "--format", "jena", "--models", "gru", "--seeds", "1",
            "--epochs", str(EPOCHS), "--lookback", "12", "--step", "2", "--delay", "3",
            "--batch-size", "16", "--checkpoint-every", str(EVERY), "--no-progress",
            "--cpu-devices", "1", *extra]


def _start(command, log, cache_dir):
    # The runs share a compilation cache (only startup time; the same executables).
    env = dict(os.environ, PYTHONPATH=ROOT, JAX_COMPILATION_CACHE_DIR=str(cache_dir),
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def _checkpoints(directory):
    """(complete checkpoint steps, temporary directories of writes under way)."""
    if not os.path.isdir(directory):
        return [], []
    names = os.listdir(directory)
    return (sorted(int(n) for n in names if n.isdigit()),
            [n for n in names if "orbax-checkpoint-tmp" in n])


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


def test_sigkill_at_random_steps_and_mid_write_then_resume_is_bit_identical(tmp_path):
    data = write_jena(tmp_path / "jena.csv", rows=600)
    rng = np.random.default_rng(2026)
    log = open(tmp_path / "log.txt", "ab")
    # The uninterrupted reference runs beside the killed runs (results do not depend on
    # timing).
    reference = _start(_command(data, tmp_path / "reference"), log, tmp_path / "jax_cache")

    workdir = tmp_path / "killed"
    checkpoint_dir = str(workdir / "checkpoints" / "gru")  # every seed in one checkpoint
    targets = sorted(rng.choice(np.arange(4, TOTAL_STEPS - 8), KILLS - 1, replace=False))
    plan = [("step", int(t)) for t in targets]
    plan.insert(2, ("mid-write", 0))
    killed_at, mid_write_kills, runs = [], 0, 0
    while plan:
        kind, target = plan.pop(0)
        runs += 1
        assert runs <= 12, f"could not place the kills: {killed_at}"
        done_before, _ = _checkpoints(checkpoint_dir)
        newest_before = done_before[-1] if done_before else 0
        process = _start(_command(data, workdir, "--resume"), log, tmp_path / "jax_cache")
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
                writing[:] = [int(n.split(".")[0]) for n in temporary
                              if int(n.split(".")[0]) > newest_before]
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
    assert len(set(killed_at)) == KILLS, killed_at
    print(f"{runs} runs killed; at steps (at least) {killed_at}, one during the write of "
          f"a checkpoint")
    finished = _start(_command(data, workdir, "--resume"), log, tmp_path / "jax_cache")
    assert finished.wait(300) == 0, (tmp_path / "log.txt").read_text()[-3000:]
    assert reference.wait(300) == 0, (tmp_path / "log.txt").read_text()[-3000:]
    log.close()

    step, params, record = _final_state(checkpoint_dir)
    ref_step, ref_params, ref_record = _final_state(
        str(tmp_path / "reference" / "checkpoints" / "gru"))
    assert step == ref_step == TOTAL_STEPS
    flat, ref_flat = _leaves(params), _leaves(ref_params)
    assert flat.keys() == ref_flat.keys()
    for path in flat:  # params, optimizer state, keys, step, best params: bit for bit
        np.testing.assert_array_equal(flat[path], ref_flat[path], err_msg=path)
    assert record["history"] == ref_record["history"]
    results = json.loads((workdir / "results.json").read_text())["models"]["gru"]
    ref_results = json.loads((tmp_path / "reference" / "results.json").read_text())["models"]["gru"]
    assert results["per_seed"] == ref_results["per_seed"]
    assert results["history_per_seed"] == ref_results["history_per_seed"]


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
