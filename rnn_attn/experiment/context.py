"""The ready context a run gets: devices set up, the mesh built, the work dir claimed.

``open_run`` is the one place where a run's devices are prepared and its
``("seed", "data")`` mesh is built: the CPU split into the mesh's devices (before JAX
starts its backends), ``jax.distributed`` joined for a multi-host run, the mesh, the
batch checked against it, then the work dir created, locked and claimed
(``train.workdir``). An experiment sees only the ``RunContext``, never a device flag.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

from jax.sharding import Mesh

from rnn_attn.config import ConfigError, to_dict


@dataclasses.dataclass(frozen=True)
class RunContext:
    """What an experiment needs to run: where it writes, on which mesh, in which dtype.

    ``primary``: whether this process writes the run's files (process 0 of a multi-host
    run); ``record``: the config as saved with the checkpoints and compared on resume
    (with ``sweep``: and the grid, ``"sweep": {name: values}``); ``sweep``: the
    ``experiment.sweep.Grid`` each model is tuned over (None: a plain run)."""

    experiment: str
    workdir: str | None
    mesh: Mesh
    compute_dtype: str
    resume: bool
    progress: bool
    primary: bool
    record: dict[str, Any]
    sweep: Any = None

    def model(self, model: Any) -> Any:
        """``model`` computing in the run's compute dtype (float32: unchanged)."""
        from rnn_attn.parallel.distributed import with_compute_dtype

        return with_compute_dtype(model, self.compute_dtype)


def bare_context(
    experiment: str,
    cfg: Any,
    mesh: Mesh,
    *,
    workdir: str | None = None,
    resume: bool = False,
    progress: bool = False,
    compute_dtype: str = "float32",
    record: dict[str, Any] | None = None,
) -> RunContext:
    """A context on a mesh made by the caller, for library use, tests and benchmarks:
    no device set-up and no work-dir claim (``workdir`` None: no checkpoints or
    TensorBoard files); ``record``: the config as saved (default: ``cfg``'s)."""
    return RunContext(
        experiment,
        workdir,
        mesh,
        compute_dtype,
        resume,
        progress,
        True,
        to_dict(cfg) if record is None else dict(record),
    )


def check_devices(cfg: Any, devices: Any) -> None:
    """The device flags against the config, before JAX is asked for any device."""
    from rnn_attn.parallel.mesh import check_batch_size, mesh_shape

    if getattr(cfg, "seed_loop", "") == "map" and devices.mesh_devices not in (0, 1):
        raise ConfigError(  # the engine would refuse it too, once JAX has its devices
            f"--seed-loop map runs each device's seeds one after another and cannot split a "
            f"batch over --data-parallel {devices.mesh_devices}; expected --seed-loop vmap "
            f"or auto"
        )
    if devices.mesh_devices > 0 and hasattr(cfg, "batch_size"):
        check_batch_size(cfg.batch_size, devices.mesh_devices)
    if devices.seed_parallel:
        data = max(devices.mesh_devices, 0)
        mesh_shape(
            cfg.seeds,
            devices.seed_parallel * max(data, 1),
            seed_parallel=devices.seed_parallel,
            data_parallel=data,
        )


def build_mesh(cfg: Any, devices: Any) -> Mesh:
    """The CPU devices requested, ``jax.distributed`` joined, and the run's mesh."""
    from rnn_attn.parallel import devices as host
    from rnn_attn.parallel import distributed
    from rnn_attn.parallel.mesh import check_divisible

    check_devices(cfg, devices)
    host.request_cpu_devices(
        cfg.cpu_devices or distributed.local_device_request(devices, cfg.seeds)
    )
    distributed.initialize(devices)
    mesh = distributed.run_mesh(devices, cfg.seeds)
    if hasattr(cfg, "batch_size"):
        check_divisible(cfg.batch_size, mesh)  # with --data-parallel -1: the mesh's M
    return mesh


@contextlib.contextmanager
def open_run(experiment: str, cfg: Any, options: Any) -> Iterator[RunContext]:
    """The run's context while the block runs, holding the work dir (process 0)."""
    from rnn_attn.parallel.distributed import is_primary
    from rnn_attn.train import workdir as workdirs

    mesh = build_mesh(cfg, options.devices)
    path = workdirs.prepare_workdir(options.workdir)
    grid = getattr(options, "sweep", None)
    record = to_dict(cfg) | ({"sweep": grid.record()} if grid is not None else {})
    ctx = RunContext(
        experiment,
        path,
        mesh,
        options.devices.compute_dtype,
        options.resume,
        options.progress,
        is_primary(),
        record,
        grid,
    )
    if not ctx.primary:
        yield ctx
        return
    workdirs.refuse_to_overwrite(path, options.resume)
    with workdirs.owned(path, experiment, record, resume=options.resume):
        yield ctx
