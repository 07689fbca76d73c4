"""The device flags, several hosts, and bf16 compute.

The device flags every experiment takes (``rnn_attn.experiment.cli.DeviceSettings``;
"settings" below is any object with those fields) are applied by
``rnn_attn.experiment.context.open_run`` before JAX starts its backends (the CPU device
count, ``jax.distributed``); the training engine runs on ``run_mesh``, the
``("seed", "data")`` mesh of ``rnn_attn.parallel.mesh``. Several hosts (a TPU pod slice,
several GPU machines, or several processes on one CPU machine) join with
``jax.distributed.initialize``; each process then places only its own devices' pieces of
every array, the metrics are gathered to every process, and files are written once
(``is_primary``; Orbax coordinates its checkpoint writes itself).

``pmap`` is not used: ``jit`` with shardings runs the same step function unchanged on 1
device, N devices or N hosts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
from jax.sharding import Mesh

from rnn_attn.errors import ConfigError
from rnn_attn.parallel.mesh import check_batch_size, make_mesh  # noqa: F401 - re-exported

PyTree = Any
COMPUTE_DTYPES = ("float32", "bfloat16")


# -- several hosts -----------------------------------------------------------------------------


def resolve_coordinator(settings) -> tuple[str | None, int | None, int | None]:
    """``(address, num_processes, process_id)`` from the flags, else ``$JAX_COORDINATOR_ADDRESS``,
    ``$JAX_NUM_PROCESSES``, ``$JAX_PROCESS_ID``; ``None`` where JAX should auto-detect
    (address ``auto``). One ConfigError for a missing or malformed value."""
    address = settings.coordinator_address or os.environ.get("JAX_COORDINATOR_ADDRESS", "")
    num = settings.num_processes or int(os.environ.get("JAX_NUM_PROCESSES", "0") or 0)
    pid = (
        settings.process_id
        if settings.process_id >= 0
        else int(os.environ.get("JAX_PROCESS_ID", "-1") or -1)
    )
    if address == "auto":  # TPU VM pods, Slurm, Open MPI: JAX finds all three itself
        return None, (num or None), (pid if pid >= 0 else None)
    if not address:
        raise ConfigError(
            "--distributed needs a coordinator address: pass "
            "--coordinator-address HOST:PORT (process 0's host) or set "
            "$JAX_COORDINATOR_ADDRESS, or 'auto' on a TPU pod / Slurm / Open MPI"
        )
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            f"coordinator address {address!r} is not HOST:PORT; expected e.g. "
            f"10.0.0.2:8476 or 127.0.0.1:8476"
        )
    if num < 1:
        raise ConfigError(
            f"--distributed with coordinator {address!r} needs --num-processes "
            f">= 1 (or $JAX_NUM_PROCESSES), got {num}"
        )
    if not 0 <= pid < num:
        raise ConfigError(
            f"--process-id must be in [0, {num}) for {num} processes (or "
            f"$JAX_PROCESS_ID), got {pid}"
        )
    return address, num, pid


# Seconds jax.distributed waits beyond --coordinator-timeout before it aborts the process
# (a C++ check failure, no Python exception): our own watchdog gives up first, in one line.
ABORT_GRACE_S = 30


def initialize(settings, *, timeout_s: int | None = None) -> bool:
    """Joins the JAX distributed system when ``settings.distributed``; must run before JAX
    starts its backends. Returns whether it did.

    Waits up to ``timeout_s`` seconds (default ``settings.coordinator_timeout``, else 300)
    for the coordinator and every process, saying so in one line; when they do not all
    answer in time, prints one ``error:`` line naming the coordinator and ends the
    process with status 2 (JAX itself would abort it with a C++ stack trace).

    On CPU the cross-process collectives go through Gloo over TCP (JAX's default in this
    version; set explicitly so a changed default cannot silently break the all-reduce).
    A loopback coordinator is bound to loopback only, so a local run opens no port to the
    network.
    """
    if not settings.distributed:
        return False
    address, num, pid = resolve_coordinator(settings)
    if timeout_s is None:
        timeout_s = getattr(settings, "coordinator_timeout", 300)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    bind = None
    if address is not None and address.rpartition(":")[0] in ("127.0.0.1", "localhost"):
        bind = "127.0.0.1:" + address.rpartition(":")[2]
    where = address or "the auto-detected address"
    who = "" if pid is None or num is None else f" (process {pid} of {num})"
    print(f"waiting up to {timeout_s} s for the coordinator at {where}{who} ...", flush=True)
    with give_up_after(timeout_s, where, who):
        jax.distributed.initialize(
            coordinator_address=address,
            num_processes=num,
            process_id=pid,
            initialization_timeout=timeout_s + ABORT_GRACE_S,
            coordinator_bind_address=bind,
        )
    return True


@contextlib.contextmanager
def give_up_after(seconds: float, where: str, who: str) -> Iterator[None]:
    """Ends the process with one ``error:`` line (status 2) unless the block returns
    within ``seconds``: ``jax.distributed.initialize`` blocks in C++ (releasing the GIL),
    where no exception or signal handler can reach it. Nothing is written yet when it
    runs (the work dir is claimed after the mesh is built), so nothing is lost."""

    def give_up() -> None:
        print(
            f"error: no answer from the coordinator at {where}{who} within {seconds} s; "
            f"expected process 0 to run with the same --coordinator-address and every "
            f"process to start within --coordinator-timeout",
            file=sys.stderr,
            flush=True,
        )
        os._exit(2)

    timer = threading.Timer(seconds, give_up)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def local_device_request(settings, num_seeds: int) -> int:
    """How many CPU devices this process should ask for: the ``(seed, data)`` mesh's share
    of this process. With ``--seed-parallel`` left at 0, the seed axis gets the smallest
    divisor of the seeds that gives every core at least one device (3 seeds on 2 cores: 3
    devices, one seed each; 10 seeds: 2 devices, 5 seeds each): XLA runs one device's
    program on one core at a time, so fewer devices than cores leaves cores idle."""
    cores = os.cpu_count() or 1
    processes = max(1, settings.num_processes or 1)
    if settings.mesh_devices == -1:
        return cores
    data = max(settings.mesh_devices, 1)
    divisors = [d for d in range(1, num_seeds + 1) if num_seeds % d == 0]
    seeds = settings.seed_parallel or next(
        d for d in divisors if d * data >= cores or d == num_seeds
    )
    return max(1, seeds * data // processes)


# -- meshes and shardings ---------------------------------------------------------------------


def run_mesh(settings, num_seeds: int) -> Mesh:
    """The ``(seed, data)`` mesh of a training run under the device flags."""
    return make_mesh(
        num_seeds, seed_parallel=settings.seed_parallel, data_parallel=settings.mesh_devices
    )


def is_primary() -> bool:
    """Whether this process writes the run's files (process 0)."""
    return jax.process_index() == 0


# -- mixed precision --------------------------------------------------------------------------


def _cast_floats(tree: PyTree, dtype) -> PyTree:
    return jax.tree.map(
        lambda x: x.astype(dtype) if jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating) else x, tree
    )


@dataclasses.dataclass(frozen=True)
class ComputeDtype:
    """``model`` computing in ``dtype`` (e.g. bfloat16) with float32 parameters and outputs.

    ``apply`` casts the parameters (so every matmul, and the recurrent state, runs in
    ``dtype``) and casts the outputs back to float32, so the loss, its reduction over the
    batch, the gradients w.r.t. the float32 parameters and the optimizer all stay float32.
    ``init`` and ``regularization`` are the model's own, in float32.
    """

    model: Any
    dtype: str = "bfloat16"

    def __getattr__(self, name):  # vocab_size, maxlen, ... of the wrapped model
        if name.startswith("__") or name == "model":  # copy/pickle probe before init
            raise AttributeError(name)
        return getattr(self.model, name)

    def init(self, key: jax.Array) -> PyTree:
        return self.model.init(key)

    def apply(self, params: PyTree, inputs, *, train: bool = False, key=None, **kwargs):
        out = self.model.apply(
            _cast_floats(params, self.dtype), inputs, train=train, key=key, **kwargs
        )
        return _cast_floats(out, jnp.float32)

    def regularization(self, params: PyTree) -> jax.Array:
        penalty = getattr(self.model, "regularization", None)
        return jnp.zeros((), jnp.float32) if penalty is None else penalty(params)


def with_compute_dtype(model, dtype: str):
    """``model`` unchanged for float32, else wrapped in ``ComputeDtype``."""
    if dtype not in COMPUTE_DTYPES:
        raise ConfigError(f"compute dtype must be one of {COMPUTE_DTYPES}, got {dtype!r}")
    return model if dtype == "float32" else ComputeDtype(model, dtype)
