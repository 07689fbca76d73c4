"""Several models, each trained over every seed with the engine: what the experiments call.

Each model is one ``engine.fit`` over all seeds on the run's mesh, with its checkpoints
in ``workdir/checkpoints/<model>/`` (every seed in one Orbax checkpoint), a progress
callback, and whatever callbacks the experiment adds. Models train one after another;
their seeds train together.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import optax
from jax.sharding import Mesh

from rnn_attn.train import engine
from rnn_attn.train.callbacks import BestEpoch, Checkpointing, ProgressLog
from rnn_attn.train.objectives import Objective
from rnn_attn.train.run import Callback

ExtraCallbacks = Callable[[str], Sequence[Callback]]


def train_models(models: Mapping[str, Any], objective: Objective, data: engine.FitData,
                 config: engine.FitConfig, *, optimizer: optax.GradientTransformation,
                 mesh: Mesh, workdir: str | None = None, record: Mapping[str, Any] = (),
                 resume: bool = False, progress: bool = True,
                 callbacks: ExtraCallbacks = lambda name: ()) -> dict[str, engine.FitResult]:
    """``{name: FitResult}`` for every model of ``models`` (name -> model), each over
    ``config.seeds``; ``record`` (the experiment's config) is saved with the checkpoints
    and compared on ``resume``; ``callbacks(name)`` adds an experiment's own."""
    results = {}
    for name, model in models.items():
        extra = [BestEpoch(), ProgressLog(name, bar=progress), *callbacks(name)]
        if workdir is None:
            results[name] = engine.fit(objective, model, data, config, optimizer=optimizer,
                                       mesh=mesh, callbacks=extra)
            continue
        directory = os.path.join(workdir, "checkpoints", name)
        with Checkpointing(directory, dict(record), resume=resume) as checkpoints:
            results[name] = engine.fit(objective, model, data, config, optimizer=optimizer,
                                       mesh=mesh, callbacks=[extra[0], checkpoints, *extra[1:]])
    return results
