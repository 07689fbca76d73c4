"""One process of tests/parallel/test_distributed.py's multi-process runs (CPU, loopback).

    python tests/_two_process_worker.py EXPERIMENT PORT PROCESS_ID NUM_PROCESSES WORKDIR ARGS...

Runs ``python -m experiments.EXPERIMENT`` (weather or char_textgen) in this process with
``ARGS``; with NUM_PROCESSES > 1 it joins ``jax.distributed`` through a coordinator on
127.0.0.1:PORT first (``--distributed``: every process's devices on the mesh's data axis,
each process feeding its rows of each batch, Orbax checkpoints written together, the
report written by process 0). With NUM_PROCESSES 1 it is the single-process reference.
"""

from __future__ import annotations

import os
import sys


def main(
    experiment: str, port: int, process_id: int, num_processes: int, workdir: str, args: list[str]
) -> int:
    argv = ["--workdir", workdir, "--no-progress", *args]
    if num_processes > 1:
        argv += [
            "--distributed",
            "--coordinator-address",
            f"127.0.0.1:{port}",
            "--num-processes",
            str(num_processes),
            "--process-id",
            str(process_id),
        ]
    from tests._entry import entry_point

    status = entry_point(f"experiments.{experiment}")(argv)
    if num_processes > 1:
        import jax

        jax.distributed.shutdown()
    return status


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(
        main(
            sys.argv[1],
            int(sys.argv[2]),
            int(sys.argv[3]),
            int(sys.argv[4]),
            sys.argv[5],
            sys.argv[6:],
        )
    )
