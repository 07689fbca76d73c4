"""Our side of the benchmarks: one jitted train step of one seed (``rnn_attn.train.steps``,
forward, backward and optimizer in one program) and the training engine's compiled
segment for N seeds in one program (``rnn_attn.train.engine``), on the mesh an experiment
with N seeds builds. Used by ``benchmarks/workloads.py`` and
``benchmarks/imdb_bilstm_speed.py``.
"""

from __future__ import annotations

import contextlib
import time


def request_devices(
    num_seeds: int, seed_parallel: int = 0, data_parallel: int = 0, cpu_devices: int = 0
) -> None:
    """Asks for the CPU devices an experiment with ``num_seeds`` seeds would (3 seeds on 2
    cores: 3 devices; 8 seeds: 2); must run before JAX starts, hence a process per N."""
    from rnn_attn.experiment.cli import DeviceSettings
    from rnn_attn.parallel import devices, distributed

    settings = DeviceSettings(seed_parallel=seed_parallel, data_parallel=data_parallel)
    devices.request_cpu_devices(
        cpu_devices or distributed.local_device_request(settings, num_seeds)
    )


def train_step(model, objective, optimizer, data, kernels=contextlib.nullcontext):
    """``(run, compile_s)``: our train step of one seed, jitted with the state donated, as
    the engine builds it (``make_train_step``, non-finite steps not skipped: the
    experiments' ``on_nonfinite="stop"``); ``run()`` trains on ``data`` and blocks."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from rnn_attn.train import steps

    state = steps.init_state(model, optimizer, *steps.default_seed_keys(0))
    n = len(data["targets"])
    batch = {
        "inputs": jnp.asarray(data["inputs"]),
        "targets": jnp.asarray(data["targets"]),
        "weight": jnp.ones((n,), np.float32),
    }
    step = steps.make_train_step(model, objective, optimizer, skip_nonfinite=False)
    with kernels():  # the kernels are chosen when the step is traced
        lowered = jax.jit(step, donate_argnums=0).lower(state, batch)
    t0 = time.perf_counter()
    compiled = lowered.compile()
    compile_s = time.perf_counter() - t0
    box = {"state": state}

    def run():
        box["state"], sums = compiled(box["state"], batch)
        jax.block_until_ready(sums)

    return run, compile_s


def engine_segment(
    model,
    objective,
    optimizer,
    data,
    batch_size: int,
    num_seeds: int,
    *,
    seed_parallel: int = 0,
    data_parallel: int = 0,
    seed_loop: str = "auto",
    kernels=contextlib.nullcontext,
    fit_options: dict | None = None,
):
    """The engine's compiled segment (every batch of ``data``, one epoch, each seed's
    ``len(data) / batch_size`` steps, batches gathered on the device) for ``num_seeds``
    seeds on the run's default mesh. Returns ``(run, compile_s, info)``: ``run()`` trains
    one segment and blocks; ``compile_s`` includes initialization; ``info`` holds the mesh
    shape and the seed loop. ``fit_options``: more ``FitConfig`` fields (an experiment's
    ``compiler_options``)."""
    import jax

    from rnn_attn.parallel.mesh import make_mesh
    from rnn_attn.train import engine, feed

    mesh = make_mesh(num_seeds, seed_parallel=seed_parallel, data_parallel=data_parallel)
    loop = engine.resolve_seed_loop(seed_loop, mesh)  # as the experiments' --seed-loop
    config = engine.FitConfig(
        seeds=tuple(range(num_seeds)),
        epochs=1,
        batch_size=batch_size,
        monitor="loss",
        seed_loop=loop,
        **(fit_options or {}),
    )
    t0 = time.perf_counter()
    with kernels():  # the kernels are chosen when the segment is traced
        prepared = engine.prepare(
            objective,
            model,
            engine.FitData(feed.Split(dict(data))),
            config,
            optimizer=optimizer,
            mesh=mesh,
            compile_ahead=True,
        )
    compile_s = time.perf_counter() - t0
    run_state, feeder = prepared.run, prepared.feeder
    plan = feeder.segment(run_state, run_state.num_batches, run_state.num_batches)

    def run():
        run_state.state, run_state.carry, _ = run_state.programs.segment(
            run_state.state, run_state.carry, plan, feeder.train_arrays, feeder.hyper
        )
        jax.block_until_ready(run_state.carry)

    return run, compile_s, {"mesh": list(mesh.shape.values()), "seed_loop": loop}
