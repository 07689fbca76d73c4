"""Two ``jax.distributed`` processes on this machine (CPU backend, Gloo over loopback)
train one data-parallel run, checkpoint it together, and agree on every metric; and the
device flags every experiment takes give one clear error for bad values."""

import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from tests._paths import ROOT
from tests._subprocesses import FAST_COMPILE

# Whole runs repeated many times: `pytest -m slow` (.ci/run runs them after the suite).
pytestmark = pytest.mark.slow

WORKER = os.path.join(ROOT, "tests", "_two_process_worker.py")
TIMEOUT_S = 240


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(*args: object) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS="cpu")
    for name in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        env.pop(name, None)
    env["XLA_FLAGS"] = FAST_COMPILE  # no device count of the parent's: one device each
    return subprocess.Popen(
        [sys.executable, WORKER, *map(str, args)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _finish(procs: list[subprocess.Popen]) -> list[str]:
    """Waits for every process (bounded); kills the lot on a timeout or a failure, so no
    process outlives the test."""
    logs = []
    try:
        for p in procs:
            out, _ = p.communicate(timeout=TIMEOUT_S)
            logs.append(out)
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    for p, log in zip(procs, logs, strict=True):
        assert p.returncode == 0, log[-3000:]
    return logs


def _write_book(path) -> str:
    body = " ".join(["alice was beginning to get very tired of sitting by her sister"] * 30)
    path.write_text(f"header\nCHAPTER I. Down\n{body}\nTHE END\nlicence\n")
    return str(path)


def _run_both_ways(tmp_path, experiment: str, args: list[str]) -> tuple[dict, dict]:
    """``results.json`` of a two-process run and of the single-process reference."""
    port = _free_port()
    two, one = tmp_path / "two", tmp_path / "one"
    _finish(
        [_start(experiment, port, i, 2, two, *args) for i in (0, 1)]
        + [_start(experiment, 0, 0, 1, one, *args)]
    )  # the reference, side by side
    return (
        json.loads((two / "results.json").read_text()),
        json.loads((one / "results.json").read_text()),
    )


def _assert_same_per_seed(two: dict, one: dict) -> None:
    for name, model in one["models"].items():
        for metric, values in model["per_seed"].items():
            assert two["models"][name]["per_seed"][metric] == pytest.approx(
                values, rel=1e-5, abs=1e-6
            ), (name, metric)


@pytest.mark.parametrize("experiment", ["weather", "char_textgen"])
def test_two_processes_train_one_run_and_match_one_process(tmp_path, experiment):
    from tests.experiments.test_weather import SMALL, write_jena

    if experiment == "weather":
        args = [
            "--data",
            write_jena(tmp_path / "jena.csv"),
            "--models",
            "gru",
            "--seeds",
            "2",
            "--epochs",
            "2",
            *SMALL,
        ]
    else:
        args = [
            "--text",
            _write_book(tmp_path / "book.txt"),
            "--seeds",
            "2",
            "--iterations",
            "2",
            "--units",
            "8",
            "--preds-per-iteration",
            "5",
            "--eval-chars",
            "20",
        ]
    two, one = _run_both_ways(tmp_path, experiment, args)
    assert two["devices"]["process_count"] == 2 and two["devices"]["device_count"] == 4
    _assert_same_per_seed(two, one)
    # One set of checkpoints, written by the two processes together.
    root = tmp_path / "two" / "checkpoints"
    steps = sorted(d for _, dirs, _ in os.walk(root) for d in dirs if d.isdigit())
    assert steps, list(os.walk(root))


def _run_cli(module: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS="cpu")
    env.pop("JAX_COORDINATOR_ADDRESS", None)
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )


@pytest.mark.parametrize(
    "module,args,message",
    [
        ("experiments.copy_task", ["--distributed"], "--distributed needs a coordinator address"),
        (
            "experiments.copy_task",
            ["--data-parallel", "2", "--seed-loop", "map"],
            "--seed-loop map runs each device's seeds one after another and cannot split a batch",
        ),
        (
            "experiments.copy_task",
            ["--data-parallel", "2", "--batch-size", "3"],
            "--batch-size 3 cannot be split over 2 devices",
        ),
        (
            "experiments.vanishing_gradients",
            ["--data-parallel", "2", "--batch-size", "5"],
            "--batch-size 5 cannot be split over 2 devices",
        ),
        (
            "experiments.imdb_attention",
            ["--data-parallel", "4", "--cpu-devices", "2"],
            "a (1 seed x 4 data) mesh needs 4 devices, but only 2 are available",
        ),
        (
            "experiments.weather",
            ["--seed-parallel", "2", "--seeds", "3"],
            "--seed-parallel 2 cannot split 3 seeds evenly; expected a divisor of --seeds 3 ([1, 3])",
        ),
        (
            "experiments.char_textgen",
            ["--seed-parallel", "3", "--data-parallel", "2", "--seeds", "3", "--cpu-devices", "8"],
            "a (3 seed x 2 data) mesh of 6 devices does not divide the 8 devices",
        ),
        (
            "experiments.weather",
            ["--seed-parallel", "1000000"],  # refused before asking for devices
            "--seed-parallel 1000000 cannot split 3 seeds evenly",
        ),
        (
            "experiments.imdb_glove",
            ["--seed-parallel", "-1"],
            "--seed-parallel must be an integer >= 0 (0: as many devices as divide the seeds)",
        ),
        (
            "experiments.imdb",
            [
                "--model",
                "lstm",
                "--distributed",
                "--coordinator-address",
                "127.0.0.1:1",
                "--num-processes",
                "2",
            ],
            "--process-id must be in [0, 2) for 2 processes",
        ),
        (
            "experiments.copy_task",
            ["--compute-dtype", "float16"],
            "argument --compute-dtype: invalid choice: 'float16'",
        ),
        (
            "experiments.imdb_attention",
            ["--data-parallel", "4", "--batch-size", "10"],
            "--batch-size 10 cannot be split over 4 devices",
        ),
    ],
)
def test_device_flags_bad_values_get_one_line(module, args, message, tmp_path):
    result = _run_cli(module, *args, "--workdir", str(tmp_path / "run"), "--no-progress")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not (tmp_path / "run").exists()  # refused before anything was written
