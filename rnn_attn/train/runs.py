"""Several models, each trained over every seed with the engine: what the experiments call.

Each model is one ``engine.fit`` over all seeds on the run's mesh, with its checkpoints
in ``workdir/checkpoints/<model>/`` (every seed in one Orbax checkpoint), a progress
callback, and whatever callbacks the experiment adds. Models train one after another;
their seeds train together.
"""

from __future__ import annotations

import concurrent.futures
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import optax
from jax.sharding import Mesh

from rnn_attn.errors import DegenerateRunError
from rnn_attn.train import engine
from rnn_attn.train.callbacks import BestEpoch, Checkpointing, ProgressLog
from rnn_attn.train.objectives import Objective
from rnn_attn.train.run import Callback
from rnn_attn.train.steps import SeedKeys, default_seed_keys

ExtraCallbacks = Callable[[str], Sequence[Callback]]


def train_models(
    models: Mapping[str, Any],
    objective: Objective,
    data: engine.FitData | Mapping[str, engine.FitData],
    config: engine.FitConfig | Mapping[str, engine.FitConfig],
    *,
    optimizer: optax.GradientTransformation | Mapping[str, Any],
    mesh: Mesh,
    workdir: str | None = None,
    record: Mapping[str, Any] = (),
    resume: bool = False,
    progress: bool = True,
    callbacks: ExtraCallbacks = lambda name: (),
    seed_keys: SeedKeys = default_seed_keys,
    timing: dict[str, float] | None = None,
    bind: Mapping[str, Any] | None = None,
) -> dict[str, engine.FitResult]:
    """``{name: FitResult}`` for every model of ``models`` (name -> model), each over
    ``config.seeds``; ``data``, ``config`` and ``optimizer`` are shared, or given per
    model as mappings name -> value (e.g. each model's own epochs); ``record`` (the
    experiment's config) is saved with the checkpoints and compared on ``resume``;
    ``callbacks(name)`` adds an experiment's own. ``timing``, when given, receives the
    seconds spent compiling the training programs (``compile_seconds``, in the background
    thread, overlapping training) and training (``train_seconds``, wall time). ``bind``:
    name -> ``trials.Bind`` of the models whose config sweeps hyperparameters (trials).

    Models are initialized and their training programs compiled in one background
    thread, in order: the first alone, each later one while an earlier one trains (XLA
    compiles a program on one core, so the other keeps training; preparing the first two
    at once made the copy task 1.5 s slower on 2 cores: the first model waited longer)."""
    names = list(models)

    def prepare(name: str) -> engine.Prepared:
        return engine.prepare(
            objective,
            models[name],
            _of(data, name),
            _of(config, name),
            optimizer=_of(optimizer, name),
            mesh=mesh,
            seed_keys=seed_keys,
            compile_ahead=True,
            bind=(bind or {}).get(name),
        )

    results, spent = {}, {"compile_seconds": 0.0, "train_seconds": 0.0}
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        upcoming = [pool.submit(prepare, name) for name in names]
        for name, prepared in zip(names, upcoming, strict=True):
            ready = prepared.result()
            start = time.perf_counter()
            results[name] = _train_one(
                name, ready, workdir, record, resume, progress, callbacks(name)
            )
            spent["train_seconds"] += time.perf_counter() - start
            spent["compile_seconds"] += ready.compile_seconds
    if timing is not None:
        timing.update({k: round(v, 3) for k, v in spent.items()})
    return results


def _of(value: Any, name: str) -> Any:
    """``value[name]`` when ``value`` is given per model, else ``value``."""
    return value[name] if isinstance(value, Mapping) else value


def _train_one(
    name: str,
    prepared: engine.Prepared,
    workdir: str | None,
    record: Mapping[str, Any],
    resume: bool,
    progress: bool,
    extra: Sequence[Callback],
) -> engine.FitResult:
    """One model's run, with its checkpoints in ``workdir/checkpoints/<name>/``; a
    degenerate run's error names the model."""
    callbacks = [BestEpoch(), ProgressLog(name, bar=progress), *extra]
    try:
        if workdir is None:
            return engine.train(prepared, callbacks)
        directory = os.path.join(workdir, "checkpoints", name)
        with Checkpointing(directory, dict(record), resume=resume) as checkpoints:
            return engine.train(prepared, [callbacks[0], checkpoints, *callbacks[1:]])
    except DegenerateRunError as e:
        raise DegenerateRunError(f"model {name!r}, {e}") from None
