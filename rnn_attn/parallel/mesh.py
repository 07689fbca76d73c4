"""The 2-D device mesh every training run uses: axis ``seed`` splits the seeds (each
device trains its share of them, vmapped), axis ``data`` splits each seed's batch (XLA's
SPMD partitioner adds the gradient all-reduce). ``(K, 1)`` is pure seed parallelism,
``(1, M)`` pure data parallelism; a seed's numbers do not depend on the shape beyond the
order of float additions.

Arrays are placed with ``jax.make_array_from_callback``, so the same code places them on
one device, on several, or on the devices of several processes (``jax.distributed``):
each process supplies the pieces its own devices hold.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from rnn_attn.errors import ConfigError

PyTree = Any
SEED, DATA = "seed", "data"


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def mesh_shape(
    num_seeds: int, num_devices: int, *, seed_parallel: int = 0, data_parallel: int = 0
) -> tuple[int, int]:
    """``(K, M)``: devices on the seed and on the data axis.

    ``data_parallel``: 0 or 1 no split, -1 every device not on the seed axis, else M.
    ``seed_parallel``: 0 picks the largest K that divides the seeds and fits the devices
    left by M; else K exactly. Raises ConfigError (one line, with the fix) for a K that
    does not divide the seeds, a mesh larger than the devices, or explicit sizes whose
    product does not divide the device count.
    """
    for name, value, low in (
        ("--seed-parallel", seed_parallel, 0),
        ("--data-parallel", data_parallel, -1),
    ):
        if not isinstance(value, int) or value < low:
            raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    if seed_parallel and num_seeds % seed_parallel:
        raise ConfigError(
            f"--seed-parallel {seed_parallel} cannot split {num_seeds} seeds evenly; expected "
            f"a divisor of --seeds {num_seeds} ({_divisors(num_seeds)}), or --seeds a "
            f"multiple of {seed_parallel}"
        )
    if data_parallel == -1:
        m = num_devices // (seed_parallel or 1)
    else:
        m = max(data_parallel, 1)
    k = seed_parallel or max(d for d in _divisors(num_seeds) if d * m <= max(num_devices, m))
    if k * m > num_devices:
        raise ConfigError(
            f"a ({k} seed x {m} data) mesh needs {k * m} devices, but only {num_devices} are "
            f"available; expected --seed-parallel x --data-parallel <= {num_devices} (on CPU, "
            f"--cpu-devices {k * m} splits the host into that many)"
        )
    explicit = seed_parallel > 0 and data_parallel != 0
    if explicit and num_devices % (k * m):
        raise ConfigError(
            f"a ({k} seed x {m} data) mesh of {k * m} devices does not divide the "
            f"{num_devices} devices; expected --seed-parallel x --data-parallel to be a "
            f"divisor of {num_devices}: {_divisors(num_devices)}"
        )
    return k, m


def make_mesh(
    num_seeds: int, *, seed_parallel: int = 0, data_parallel: int = 0, devices: list | None = None
) -> Mesh:
    """The ``(seed, data)`` mesh of ``mesh_shape`` over the first devices."""
    devices = list(jax.devices() if devices is None else devices)
    k, m = mesh_shape(
        num_seeds, len(devices), seed_parallel=seed_parallel, data_parallel=data_parallel
    )
    if jax.process_count() > 1 and k * m != len(devices):
        raise ConfigError(
            f"a multi-process run must use every device: the mesh has {k * m} "
            f"of {len(devices)}; expected --seed-parallel x --data-parallel = "
            f"{len(devices)}"
        )
    return Mesh(np.array(devices[: k * m]).reshape(k, m), (SEED, DATA))


def check_batch_size(batch_size: int, num_devices: int, flag: str = "--batch-size") -> None:
    """One ConfigError when ``batch_size`` examples cannot be split over ``num_devices``.

    Training batches are not padded to fit: padding would change each real example's
    dropout draws (the masks are drawn for the padded shape), so a sharded run would no
    longer reproduce the single-device one."""
    n = num_devices
    if batch_size % n:
        lower, upper = (batch_size // n) * n, -(-batch_size // n) * n
        options = " or ".join(str(b) for b in (lower, upper) if b > 0)
        raise ConfigError(
            f"{flag} {batch_size} cannot be split over {n} devices on the "
            f"'{DATA}' axis; expected a multiple of {n} (e.g. {options})"
        )


def check_divisible(batch_size: int, mesh: Mesh, flag: str = "--batch-size") -> None:
    """Each seed's batch is split over the data axis: it must divide evenly."""
    check_batch_size(batch_size, mesh.shape[DATA], flag)


def round_up(batch_size: int, mesh: Mesh) -> int:
    """The smallest multiple of the data axis >= ``batch_size`` (evaluation batches)."""
    m = mesh.shape[DATA]
    return m * -(-batch_size // m)


def sharding(mesh: Mesh, *axes: str | None) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec(*axes))


def per_seed(mesh: Mesh) -> NamedSharding:
    """Leading axis over ``seed``, the rest whole on each device."""
    return sharding(mesh, SEED)


def replicated(mesh: Mesh) -> NamedSharding:
    return sharding(mesh, None)


def put(tree: PyTree, target: NamedSharding) -> PyTree:
    """Host arrays placed with ``target`` on every process's devices."""

    def one(x):
        x = np.asarray(x)
        return jax.make_array_from_callback(x.shape, target, lambda index: x[index])

    return jax.tree.map(one, tree)


def fetch(tree: PyTree) -> PyTree:
    """Device arrays back as numpy, also when other processes hold some of their pieces
    (then gathered over the processes)."""
    if jax.process_count() == 1:
        return jax.device_get(tree)
    from jax.experimental import multihost_utils

    return jax.tree.map(
        lambda x: np.asarray(multihost_utils.process_allgather(x, tiled=True)), tree
    )
