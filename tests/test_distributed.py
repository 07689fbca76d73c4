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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(ROOT, "tests", "_two_process_worker.py")
TIMEOUT_S = 240


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(*args: object) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS="cpu")
    for name in ("XLA_FLAGS", "JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES",
                 "JAX_PROCESS_ID"):
        env.pop(name, None)
    return subprocess.Popen([sys.executable, WORKER, *map(str, args)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


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


def test_two_processes_train_checkpoint_once_and_agree(tmp_path):
    port = _free_port()
    procs = [_start(port, 0, 2, tmp_path), _start(port, 1, 2, tmp_path)]
    _finish(procs)
    _finish([_start(0, 0, 1, tmp_path)])  # the single-process reference, same global batch
    views = [json.loads((tmp_path / f"metrics_2_{i}.json").read_text()) for i in (0, 1)]
    reference = json.loads((tmp_path / "metrics_1_0.json").read_text())
    assert [v["process_index"] for v in views] == [0, 1]
    for v in views:
        assert (v["process_count"], v["global_devices"], v["local_devices"]) == (2, 4, 2)
        assert v["mesh_size"] == 4
        assert v["restored_epoch"] == 2 and v["restored_equals_final"]
    assert views[0]["history"] == views[1]["history"]  # both processes see the same metrics
    for key, values in reference["history"].items():
        assert views[0]["history"][key] == pytest.approx(values, rel=1e-5)
    # One checkpoint per epoch, written together (each process its own shards, the
    # metadata and the commit marker once), not one copy per process; numbered by steps
    # taken (96 examples in batches of 16: 6 an epoch).
    steps = sorted(os.listdir(tmp_path / "checkpoints_2"), key=int)
    assert steps == ["6", "12"]
    for step in steps:
        files = os.listdir(tmp_path / "checkpoints_2" / step)
        assert files.count("_CHECKPOINT_METADATA") == 1 and "commit_success.txt" in files


def _run_cli(module: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS="cpu")
    env.pop("JAX_COORDINATOR_ADDRESS", None)
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=120)


@pytest.mark.parametrize("module,args,message", [
    ("experiments.copy_task", ["--distributed"], "--distributed needs a coordinator address"),
    ("experiments.copy_task", ["--data-parallel", "2"],
     "--data-parallel 2 does not apply here: this experiment splits its seeds"),
    ("experiments.imdb_attention", ["--data-parallel", "4", "--cpu-devices", "2"],
     "--data-parallel 4 needs 4 devices, but only 2 cpu device(s) are available"),
    ("experiments.imdb", ["--model", "lstm", "--distributed", "--coordinator-address",
                          "127.0.0.1:1", "--num-processes", "2"],
     "--process-id must be in [0, 2) for 2 processes"),
    ("experiments.copy_task", ["--compute-dtype", "float16"],
     "argument --compute-dtype: invalid choice: 'float16'"),
    ("experiments.imdb_attention", ["--data-parallel", "4", "--batch-size", "10"],
     "--batch-size 10 cannot be split over 4 devices"),
])
def test_device_flags_bad_values_get_one_line(module, args, message, tmp_path):
    result = _run_cli(module, *args, "--workdir", str(tmp_path), "--no-progress")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
