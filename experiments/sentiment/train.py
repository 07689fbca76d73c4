"""IMDB models trained over seeds on the engine: the data, the fit, per-seed figures."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import optax

from experiments.sentiment.config import SentimentConfig
from rnn_attn.config import (
    ConfigError,
)
from rnn_attn.data import imdb
from rnn_attn.data.paths import default_data_dir
from rnn_attn.parallel import distributed
from rnn_attn.train import engine
from rnn_attn.train.objectives import binary_classification
from rnn_attn.train.optimizers import keras_optimizer
from rnn_attn.train.runs import train_models


def load_arrays(config: SentimentConfig) -> tuple[dict, dict, str]:
    """``(train, validation, description)`` as ``{"inputs", "targets"}`` numpy arrays."""
    data_dir = config.data_dir or default_data_dir()
    try:
        data = imdb.load_padded(data_dir, num_words=config.num_words, maxlen=config.maxlen,
                                source=config.source)
    except (FileNotFoundError, ValueError) as e:
        raise ConfigError(str(e)) from None
    train, test = data["train"], data["test"]
    if config.validation == "test":
        return train, test, f"the {len(test['targets']):,} test reviews (as document 000)"
    # Keras's validation_split: the last fraction of the training data, before shuffling.
    n = len(train["targets"])
    cut = n - int(round(n * config.validation_split))
    head = {k: v[:cut] for k, v in train.items()}
    tail = {k: v[cut:] for k, v in train.items()}
    return head, tail, f"the last {n - cut:,} training reviews (validation_split)"


@dataclasses.dataclass
class SeedRun:
    """One (model, seed) pair's outcome."""

    model: str
    seed: int
    history: dict[str, list[float]]
    best_epoch: int


def fit_config(config, mesh) -> engine.FitConfig:
    """The engine's settings from an IMDB experiment's config (one without ``seed_loop``,
    the GloVe experiment's, batches its seeds)."""
    return engine.FitConfig(
        seeds=tuple(config.first_seed + i for i in range(config.seeds)),
        epochs=config.epochs, batch_size=config.batch_size,
        eval_batch_size=config.eval_batch_size, monitor=config.monitor,
        patience=config.patience, on_nonfinite=config.on_nonfinite,
        checkpoint_every=config.checkpoint_every,
        seed_loop=engine.resolve_seed_loop(getattr(config, "seed_loop", "vmap"), mesh))


def run(config, models: Mapping[str, Any], data: engine.FitData, *,
        workdir: str | None = None, resume: bool = False, progress: bool = True,
        record: Mapping[str, Any] | None = None,
        device_settings: distributed.DeviceSettings | None = None) -> dict[str, list[SeedRun]]:
    """Trains every model over every seed (one program per model, all seeds in it).

    ``models``: name -> model; ``config`` gives ``seeds``, ``first_seed``, ``optimizer``,
    ``learning_rate``, ``epochs``, ``batch_size``, ``eval_batch_size``, ``monitor``,
    ``patience``, ``on_nonfinite`` and ``checkpoint_every``.
    """
    settings = device_settings or distributed.DeviceSettings()
    mesh = distributed.run_mesh(settings, config.seeds)
    models = {name: distributed.with_compute_dtype(model, settings.compute_dtype)
              for name, model in models.items()}
    results = train_models(models, binary_classification(), data, fit_config(config, mesh),
                           optimizer=optimizer_of(config),
                           mesh=mesh, workdir=workdir, record=record or dataclasses.asdict(config),
                           resume=resume, progress=progress)
    return {name: [SeedRun(name, seed, r.history[i], r.best_epoch[i])
                   for i, seed in enumerate(r.seeds)] for name, r in results.items()}


def optimizer_of(config) -> optax.GradientTransformation:
    """The config's Keras optimizer (``momentum``: the IMDB experiment's SGD option; the
    GloVe experiment has none)."""
    return keras_optimizer(config.optimizer, config.learning_rate,
                           getattr(config, "momentum", 0.0))


def per_seed_metrics(runs: list[SeedRun]) -> dict[str, list[float]]:
    """Each seed's headline figures, named by what data they were measured on."""
    metrics: dict[str, list[float]] = {
        "val_accuracy_best": [], "best_epoch": [], "val_accuracy_final": [],
        "val_loss_final": [], "val_loss_best": [], "train_accuracy_final": [],
        "train_loss_final": [],
    }
    for r in runs:
        h, b = r.history, r.best_epoch
        metrics["val_accuracy_best"].append(h["val_accuracy"][b - 1])
        metrics["val_loss_best"].append(h["val_loss"][b - 1])
        metrics["best_epoch"].append(b)
        metrics["val_accuracy_final"].append(h["val_accuracy"][-1])
        metrics["val_loss_final"].append(h["val_loss"][-1])
        metrics["train_accuracy_final"].append(h["accuracy"][-1])
        metrics["train_loss_final"].append(h["loss"][-1])
    return metrics


def generalization_gap(runs: list[SeedRun]) -> list[dict[str, float]]:
    """Per epoch, mean over seeds of training accuracy, validation accuracy and their gap
    (what document 000 conflated: its "99%" was training accuracy)."""
    epochs = min(len(r.history["accuracy"]) for r in runs)
    rows = []
    for e in range(epochs):
        train = np.array([r.history["accuracy"][e] for r in runs])
        val = np.array([r.history["val_accuracy"][e] for r in runs])
        rows.append({"epoch": e + 1, "train_accuracy": float(train.mean()),
                     "val_accuracy": float(val.mean()), "gap": float((train - val).mean())})
    return rows


# -- the experiment: run, report, write ---------------------------------------------------------
