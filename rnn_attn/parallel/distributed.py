"""The device flags, several hosts, and bf16 compute.

The flags every experiment takes (``config.experiment_parser``) become a ``DeviceSettings``;
``experiments._common.run_main`` applies them before JAX starts its backends (the CPU
device count, ``jax.distributed``) and the training engine runs on ``run_mesh``, the
``("seed", "data")`` mesh of ``rnn_attn.parallel.mesh``. Several hosts (a TPU pod slice,
several GPU machines, or several processes on one CPU machine) join with
``jax.distributed.initialize``; each process then places only its own devices' pieces of
every array, the metrics are gathered to every process, and files are written once
(``is_primary``; Orbax coordinates its checkpoint writes itself).

Also here, for the copy task's seed-parallel programs (``shard_map``): a 1-D ``data`` mesh,
a 1-D ``seed`` mesh of an exact size, and helpers that replicate a state or shard a
sampled batch over ``data``. ``pmap`` is not used: ``jit`` with shardings runs the same
step function unchanged on 1 device, N devices or N hosts.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import jax
import jax.numpy as jnp
from jax.sharding import Mesh

from rnn_attn.errors import ConfigError
from rnn_attn.parallel.mesh import check_batch_size, make_mesh  # noqa: F401 - re-exported

PyTree = Any
DATA_AXIS = "data"
COMPUTE_DTYPES = ("float32", "bfloat16")


# -- the flags --------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class DeviceSettings:
    """How a run uses devices and hosts; execution only (results do not depend on it,
    up to float rounding, except ``compute_dtype``)."""

    data_parallel: int = 0  # 0: off; -1: every device (not on the seed axis); N: N devices
    seed_parallel: int = 0  # devices on the seed axis; 0: as many as divide the seeds
    distributed: bool = False
    coordinator_address: str = ""  # host:port, or "auto" (TPU pods, Slurm, Open MPI)
    num_processes: int = 0  # 0: from the environment / auto-detection
    process_id: int = -1  # -1: from the environment / auto-detection
    compute_dtype: str = "float32"

    def validate(self) -> DeviceSettings:
        """Raises ConfigError naming the first bad value."""
        if self.seed_parallel < 0:
            raise ConfigError(f"--seed-parallel must be 0 (as many devices as divide the "
                              f"seeds) or a device count >= 1, got {self.seed_parallel}")
        if self.data_parallel < -1:
            raise ConfigError(f"--data-parallel must be -1 (every device), 0 (off) or a "
                              f"device count >= 1, got {self.data_parallel}")
        if self.compute_dtype not in COMPUTE_DTYPES:
            raise ConfigError(f"--compute-dtype must be one of {COMPUTE_DTYPES}, got "
                              f"{self.compute_dtype!r}")
        if self.distributed:
            resolve_coordinator(self)
        else:  # a multi-host flag alone would be ignored without a word
            given = [flag for flag, value, unset in (
                ("--coordinator-address", self.coordinator_address, ""),
                ("--num-processes", self.num_processes, 0),
                ("--process-id", self.process_id, -1)) if value != unset]
            if given:
                raise ConfigError(f"{given[0]} applies to a multi-host run only; expected "
                                  f"--distributed with it, or no {given[0]}")
        return self

    @property
    def mesh_devices(self) -> int:
        """Devices on the ``data`` axis: 0 (no data mesh), -1 (all) or N. A distributed run
        is data-parallel over every process's devices unless told otherwise."""
        return self.data_parallel or (-1 if self.distributed else 0)

    @property
    def is_default(self) -> bool:
        return self == DeviceSettings()


def settings_from_namespace(namespace) -> DeviceSettings:
    """The ``DeviceSettings`` of parsed flags (``config.experiment_parser``'s)."""
    names = {f.name for f in dataclasses.fields(DeviceSettings)}
    return DeviceSettings(**{k: v for k, v in vars(namespace).items() if k in names})


def resolve_coordinator(settings: DeviceSettings) -> tuple[str | None, int | None, int | None]:
    """``(address, num_processes, process_id)`` from the flags, else ``$JAX_COORDINATOR_ADDRESS``,
    ``$JAX_NUM_PROCESSES``, ``$JAX_PROCESS_ID``; ``None`` where JAX should auto-detect
    (address ``auto``). One ConfigError for a missing or malformed value."""
    address = settings.coordinator_address or os.environ.get("JAX_COORDINATOR_ADDRESS", "")
    num = settings.num_processes or int(os.environ.get("JAX_NUM_PROCESSES", "0") or 0)
    pid = settings.process_id if settings.process_id >= 0 else int(
        os.environ.get("JAX_PROCESS_ID", "-1") or -1)
    if address == "auto":  # TPU VM pods, Slurm, Open MPI: JAX finds all three itself
        return None, (num or None), (pid if pid >= 0 else None)
    if not address:
        raise ConfigError("--distributed needs a coordinator address: pass "
                          "--coordinator-address HOST:PORT (process 0's host) or set "
                          "$JAX_COORDINATOR_ADDRESS, or 'auto' on a TPU pod / Slurm / Open MPI")
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"coordinator address {address!r} is not HOST:PORT; expected e.g. "
                          f"10.0.0.2:8476 or 127.0.0.1:8476")
    if num < 1:
        raise ConfigError(f"--distributed with coordinator {address!r} needs --num-processes "
                          f">= 1 (or $JAX_NUM_PROCESSES), got {num}")
    if not 0 <= pid < num:
        raise ConfigError(f"--process-id must be in [0, {num}) for {num} processes (or "
                          f"$JAX_PROCESS_ID), got {pid}")
    return address, num, pid


def initialize(settings: DeviceSettings, *, timeout_s: int = 300) -> bool:
    """Joins the JAX distributed system when ``settings.distributed``; must run before JAX
    starts its backends. Returns whether it did.

    On CPU the cross-process collectives go through Gloo over TCP (JAX's default in this
    version; set explicitly so a changed default cannot silently break the all-reduce).
    A loopback coordinator is bound to loopback only, so a local run opens no port to the
    network.
    """
    if not settings.distributed:
        return False
    address, num, pid = resolve_coordinator(settings)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    bind = None
    if address is not None and address.rpartition(":")[0] in ("127.0.0.1", "localhost"):
        bind = "127.0.0.1:" + address.rpartition(":")[2]
    jax.distributed.initialize(coordinator_address=address, num_processes=num,
                               process_id=pid, initialization_timeout=timeout_s,
                               coordinator_bind_address=bind)
    return True


def local_device_request(settings: DeviceSettings, num_seeds: int) -> int:
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
    seeds = settings.seed_parallel or next(d for d in divisors if d * data >= cores
                                           or d == num_seeds)
    return max(1, seeds * data // processes)


# -- meshes and shardings ---------------------------------------------------------------------

def run_mesh(settings: DeviceSettings, num_seeds: int) -> Mesh:
    """The ``(seed, data)`` mesh of a training run under the device flags."""
    return make_mesh(num_seeds, seed_parallel=settings.seed_parallel,
                     data_parallel=settings.mesh_devices)


def is_primary() -> bool:
    """Whether this process writes the run's files (process 0)."""
    return jax.process_index() == 0


# -- mixed precision --------------------------------------------------------------------------

def _cast_floats(tree: PyTree, dtype) -> PyTree:
    return jax.tree.map(
        lambda x: x.astype(dtype) if jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating) else x,
        tree)


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
        out = self.model.apply(_cast_floats(params, self.dtype), inputs, train=train, key=key,
                               **kwargs)
        return _cast_floats(out, jnp.float32)

    def regularization(self, params: PyTree) -> jax.Array:
        penalty = getattr(self.model, "regularization", None)
        return jnp.zeros((), jnp.float32) if penalty is None else penalty(params)


def with_compute_dtype(model, dtype: str):
    """``model`` unchanged for float32, else wrapped in ``ComputeDtype``."""
    if dtype not in COMPUTE_DTYPES:
        raise ConfigError(f"compute dtype must be one of {COMPUTE_DTYPES}, got {dtype!r}")
    return model if dtype == "float32" else ComputeDtype(model, dtype)

