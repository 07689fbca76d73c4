"""One case's command run in one checkout: its own code, this interpreter, this
checkout's data dir; output to a log file, wall time measured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from experiments.regression.checkouts import Checkout
from experiments.regression.config import Case

LOG = "output.log"
# Each run compiles its own programs: a compilation cache shared by the two sides would
# make the second side's wall time the faster one (the figures do not depend on it).
UNSET = ("JAX_COMPILATION_CACHE_DIR",)


class RunFailed(Exception):
    """A run that did not end with a readable results.json (the message names the log)."""


def environment(checkout: Checkout, data_dir: str) -> dict[str, str]:
    """The invoking environment with the checkout's code first on the path and the data
    dir resolved here (a worktree under DIR has no ../shared beside it)."""
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env["PYTHONPATH"] = checkout.path
    env["RNN_ATTN_DATA"] = data_dir
    return env


def check_imports(checkout: Checkout, data_dir: str) -> None:
    """The checkout's ``experiments`` and ``rnn_attn`` are the ones its runs import (not
    an installed copy); RunFailed otherwise."""
    code = "import experiments, rnn_attn; print(experiments.__file__); print(rnn_attn.__file__)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=checkout.path,
        text=True,
        capture_output=True,
        env=environment(checkout, data_dir),
    )
    root = os.path.realpath(checkout.path) + os.sep
    paths = done.stdout.split()
    if (
        done.returncode != 0
        or len(paths) != 2
        or not all(os.path.realpath(p).startswith(root) for p in paths)
    ):
        message = (done.stderr.strip().splitlines() or paths or ["no output"])[-1]
        raise RunFailed(
            f"{checkout.side} ({checkout.revision}): the packages do not "
            f"import from {checkout.path} ({message})"
        )


def command(case: Case, workdir: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        f"experiments.{case.module}",
        *case.args,
        "--workdir",
        workdir,
        "--no-progress",
    ]


def run_side(case: Case, checkout: Checkout, directory: str, data_dir: str) -> dict[str, Any]:
    """Runs the case's command for one side into ``directory/<case>/<side>/``; returns
    the run's record (command, log, wall time) and its results (``results``, not
    written to regression.json). RunFailed when it fails."""
    workdir = os.path.join(directory, case.name, checkout.side)
    os.makedirs(workdir, exist_ok=True)
    log = os.path.join(workdir, LOG)
    argv = command(case, workdir)
    print(
        f"[regression] {case.name} {checkout.side} ({checkout.revision}): {' '.join(argv[1:])}",
        flush=True,
    )
    start = time.perf_counter()
    with open(log, "w", encoding="utf-8") as out:
        status = _wait(
            subprocess.Popen(
                argv,
                cwd=checkout.path,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=environment(checkout, data_dir),
            )
        )
    seconds = time.perf_counter() - start
    print(
        f"[regression] {case.name} {checkout.side}: exit {status} after {seconds:.1f} s", flush=True
    )
    what = f"{case.name} ({checkout.side}, {checkout.revision})"
    if status != 0:
        raise RunFailed(f"{what} exited with status {status}; see {log}")
    return {
        "command": " ".join(["python", *argv[1:]]),
        "workdir": workdir,
        "log": log,
        "seconds": round(seconds, 2),
        "results": load_results(workdir, what, log),
    }


def _wait(process: subprocess.Popen) -> int:
    """The process's exit status; ended (terminated, then killed) if we are interrupted."""
    try:
        return process.wait()
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def load_results(workdir: str, what: str, log: str) -> dict[str, Any]:
    path = os.path.join(workdir, "results.json")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise RunFailed(f"{what} wrote no readable results.json ({e}); see {log}") from None
