"""Devices and meshes for seed-parallel and data-parallel programs (the data-parallel
mesh, batch shardings and multi-host helpers are in ``rnn_attn.parallel.distributed``).

On CPU, JAX exposes one device by default; splitting the host into several CPU devices
lets a seed-parallel program give each device a slice of the seeds (each slice's working
set then fits a core's cache, and XLA runs the slices side by side). On GPU/TPU the real
devices are used as they are.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.sharding import Mesh, PartitionSpec


def request_cpu_devices(count: int) -> bool:
    """Asks JAX for ``count`` CPU devices; must run before JAX's backends start.

    Returns False (changing nothing) when the backends are already initialized, when an
    explicit ``--xla_force_host_platform_device_count`` is in force, or when the default
    platform is not the CPU.
    """
    import os

    if count < 1:
        raise ValueError(f"cpu device count must be >= 1, got {count}")
    if "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return False
    if os.environ.get("JAX_PLATFORMS", "cpu").split(",")[0] not in ("", "cpu"):
        return False
    try:
        from jax._src import xla_bridge

        if xla_bridge.backends_are_initialized():
            return False
    except (ImportError, AttributeError):  # private API moved: fall back to trying
        pass
    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:  # backends already up
        return False
    return True


def describe_devices() -> dict:
    devs = jax.devices()
    return {
        "platform": devs[0].platform,
        "device_count": len(devs),
        "device_kind": devs[0].device_kind,
        "process_count": jax.process_count(),
    }


SEED_AXIS = PartitionSpec("seed")


def per_seed_shards(fn, mesh: Mesh, in_specs, out_specs=SEED_AXIS):
    """``fn`` (vmapped over a leading seed axis) run on each device's slice of the seeds
    with ``shard_map``: every device runs the same small program and no cross-device
    communication or sharding propagation is needed."""
    return jax.shard_map(fn, mesh=mesh, in_specs=in_specs, out_specs=out_specs, check_vma=False)


def compile_per_seed(fn, init, num_seeds: int, mesh: Mesh, compiler_options=None):
    """``fn(params, key)`` of one seed, compiled for every seed at once: ``(params
    [seeds, ...], keys <uint32>[seeds, 2]) -> fn's outputs [seeds, ...]``, each device
    running its slice of the seeds (``per_seed_shards``). Lowered from shapes alone
    (``init(key)`` gives the parameters' shapes), so it can compile while models train."""
    from rnn_attn.parallel import mesh as meshes

    program = per_seed_shards(jax.vmap(fn), mesh, in_specs=(SEED_AXIS, SEED_AXIS))
    seeds = meshes.per_seed(mesh)
    keys = jax.ShapeDtypeStruct((num_seeds, 2), jnp.uint32, sharding=seeds)
    params = jax.tree.map(
        lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=seeds),
        jax.eval_shape(jax.vmap(init), keys),
    )
    return jax.jit(program).lower(params, keys).compile(compiler_options)
