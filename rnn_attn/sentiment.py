"""IMDB sentiment experiments: train text models over seeds and compare them honestly.

The protocol behind ``experiments.imdb_attention`` (document 000) and ``experiments.imdb``
(documents 002 and 003): the reviews go through Keras's pipeline (``load_data`` with
``num_words``, then ``pad_sequences`` to ``maxlen``), each model trains over all its seeds
at once with the engine (``rnn_attn.train``: one compiled program, Orbax checkpoints,
resumable), and every figure a reader sees is labelled as training or validation.

Repeat ``i`` uses seed ``first_seed + i`` for every model (initialization, dropout and
the shuffle), so the models are compared seed for seed.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from rnn_attn import distributed
from rnn_attn.config import (
    ConfigError,
    check_fit_flags,
    checkpoint_every_field,
    cpu_devices_field,
    field,
    on_nonfinite_field,
    require,
)
from rnn_attn.data import imdb
from rnn_attn.models.text_classifiers import TEXT_MODELS, make_text_model
from rnn_attn.results import print_written, write_results
from rnn_attn.summary import parameter_count
from rnn_attn.train import engine
from rnn_attn.train.feed import Split
from rnn_attn.train.objectives import binary_classification
from rnn_attn.train.optimizers import KERAS_OPTIMIZERS as OPTIMIZERS
from rnn_attn.train.optimizers import keras_optimizer
from rnn_attn.train.runs import train_models


def default_data_dir() -> str:
    """``$RNN_ATTN_DATA``, else ``../shared/data`` beside the repository."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.environ.get("RNN_ATTN_DATA", os.path.join(here, "..", "shared", "data"))


@dataclasses.dataclass(frozen=True)
class SentimentConfig:
    """Settings of an IMDB comparison (defaults: document 000)."""

    models: str = field("bilstm,bilstm_attention",
                        f"comma-separated models from {sorted(TEXT_MODELS)}")
    seeds: int = field(3, "independent repeats per model")
    first_seed: int = field(0, "seed of the first repeat; repeat i uses first_seed + i")
    epochs: int = field(12, "training epochs")
    batch_size: int = field(128, "training batch size")
    eval_batch_size: int = field(1000, "batch size for validation (no effect on results)")
    num_words: int = field(10_000, "vocabulary: the num_words most frequent words")
    maxlen: int = field(200, "reviews padded / truncated to this many tokens ('pre')")
    optimizer: str = field("adam", f"one of {OPTIMIZERS} (Keras defaults)")
    learning_rate: float = field(1e-3, "optimizer learning rate")
    validation: str = field(
        "test", "validation data: 'test' (the 25,000 test reviews, as document 000 does) or "
        "'split' (the last --validation-split of the training reviews, as Keras's "
        "validation_split)")
    validation_split: float = field(0.2, "fraction held out with --validation split")
    monitor: str = field("val_accuracy", "metric that picks the best epoch (and early stops)")
    patience: int = field(0, "stop after this many epochs without improvement (0: never)")
    checkpoint_every: int = checkpoint_every_field()
    on_nonfinite: str = on_nonfinite_field()
    data_dir: str = field("", "directory with the IMDB files (default: $RNN_ATTN_DATA or "
                              "../shared/data)")
    source: str = field("auto", f"IMDB source, one of {imdb.SOURCES}")
    cpu_devices: int = cpu_devices_field()

    @property
    def model_names(self) -> list[str]:
        return [m.strip() for m in self.models.split(",") if m.strip()]

    def validate(self) -> SentimentConfig:
        check_fit_flags(self)
        for name in ("seeds", "epochs", "batch_size", "eval_batch_size", "maxlen"):
            value = getattr(self, name)
            require(isinstance(value, int) and value >= 1,
                    f"--{name.replace('_', '-')} must be an integer >= 1, got {value!r}")
        require(isinstance(self.num_words, int) and self.num_words > 3,
                f"--num-words must be an integer > 3 (indices 0-2 are reserved), got "
                f"{self.num_words!r}")
        require(self.first_seed >= 0, f"--first-seed must be >= 0, got {self.first_seed}")
        require(self.patience >= 0, f"--patience must be >= 0, got {self.patience}")
        require(self.cpu_devices >= 0, f"--cpu-devices must be >= 0, got {self.cpu_devices}")
        require(self.optimizer in OPTIMIZERS,
                f"unknown optimizer {self.optimizer!r}; expected one of {OPTIMIZERS}")
        require(self.learning_rate > 0 and np.isfinite(self.learning_rate),
                f"--learning-rate must be a positive number, got {self.learning_rate}")
        require(self.validation in ("test", "split"),
                f"--validation must be 'test' or 'split', got {self.validation!r}")
        require(0.0 < self.validation_split < 1.0,
                f"--validation-split must be in (0, 1), got {self.validation_split}")
        require(self.monitor in ("val_loss", "val_accuracy"),
                f"--monitor must be val_loss or val_accuracy, got {self.monitor!r}")
        require(self.source in imdb.SOURCES,
                f"unknown --source {self.source!r}; expected one of {imdb.SOURCES}")
        names = self.model_names
        require(len(names) >= 1, "--models is empty; expected e.g. 'bilstm,bilstm_attention'")
        for name in names:
            require(name in TEXT_MODELS,
                    f"unknown model {name!r}; expected one of {sorted(TEXT_MODELS)}")
        require(len(set(names)) == len(names), f"--models repeats a model: {self.models!r}")
        for name in names:
            build_model(name, self)  # shape errors (e.g. a fixed maxlen) surface now
        return self


def build_model(name: str, config: SentimentConfig):
    """The named model sized for the config's vocabulary and length."""
    try:
        return make_text_model(name, vocab_size=config.num_words, maxlen=config.maxlen)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"model {name!r}: {e}") from None


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


def fit_config(config) -> engine.FitConfig:
    """The engine's settings from an IMDB experiment's config."""
    return engine.FitConfig(
        seeds=tuple(config.first_seed + i for i in range(config.seeds)),
        epochs=config.epochs, batch_size=config.batch_size,
        eval_batch_size=config.eval_batch_size, monitor=config.monitor,
        patience=config.patience, on_nonfinite=config.on_nonfinite,
        checkpoint_every=config.checkpoint_every)


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
    results = train_models(models, binary_classification(), data, fit_config(config),
                           optimizer=keras_optimizer(config.optimizer, config.learning_rate),
                           mesh=mesh, workdir=workdir, record=record or dataclasses.asdict(config),
                           resume=resume, progress=progress)
    return {name: [SeedRun(name, seed, r.history[i], r.best_epoch[i])
                   for i, seed in enumerate(r.seeds)] for name, r in results.items()}


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

HEADLINE = "val_accuracy_best"


def model_report(config, seed_runs: list[SeedRun], parameters: int) -> dict[str, Any]:
    """One model's per-seed figures, per-epoch histories and (2+ seeds) summaries."""
    from rnn_attn import stats

    per_seed = per_seed_metrics(seed_runs)
    report = {"seeds": [r.seed for r in seed_runs], "parameters": parameters,
              "per_seed": per_seed, "history_per_seed": [r.history for r in seed_runs],
              "train_validation_gap_by_epoch": generalization_gap(seed_runs)}
    if config.seeds >= 2:
        report["summary"] = {k: stats.describe(per_seed[k]) for k in (
            "val_accuracy_best", "val_accuracy_final", "train_accuracy_final")}
    return report


def compare_models(config, reports: Mapping[str, dict]) -> dict | None:
    """The first model against the others over seeds (best-epoch and final validation
    accuracy); None with one model or one seed."""
    from rnn_attn import stats

    names = list(reports)
    if len(names) < 2 or config.seeds < 2:
        return None
    comparison = {}
    for metric in ("val_accuracy_best", "val_accuracy_final"):
        scores = {n: reports[n]["per_seed"][metric] for n in names}
        comparison[metric] = (stats.compare(scores[names[1]], scores[names[0]],
                                            names=(names[1], names[0]))
                              if len(names) == 2 else
                              stats.compare_many(scores, baseline=names[0]))
    return comparison


def write_plots(experiment: str, config, workdir: str, runs: Mapping[str, list[SeedRun]],
                reports: Mapping[str, dict]) -> dict[str, str]:
    from rnn_attn import plots

    return {
        "history": plots.history(
            {n: [r.history for r in rs] for n, rs in runs.items()},
            os.path.join(workdir, "history.png"),
            title=f"{experiment}: training (dashed) vs validation (solid), "
                  f"mean and min-max over {config.seeds} seed(s)"),
        "accuracy_by_seed": plots.scores_by_seed(
            {n: 100 * np.asarray(m["per_seed"][HEADLINE]) for n, m in reports.items()},
            os.path.join(workdir, "accuracy_by_seed.png"),
            ylabel="validation accuracy at the best epoch (%)",
            title=f"{experiment}: best-epoch validation accuracy per seed"),
    }


def metric_notes(config, data_description: str) -> dict[str, str]:
    return {
        "val_accuracy_best": "validation accuracy at the epoch with the best "
                             f"{config.monitor} (data: {data_description})",
        "best_epoch": f"that epoch (1-based), chosen by {config.monitor}",
        "val_accuracy_final": "validation accuracy after the last epoch",
        "val_loss_best / val_loss_final": "validation loss (binary cross-entropy) there",
        "train_accuracy_final / train_loss_final": "TRAINING data: running average over the "
                                                    "last epoch, dropout on (as Keras prints "
                                                    "it); not a generalization figure",
    }


def run_experiment(config, workdir: str, *, experiment: str, reference: str,
                   resume: bool = False, progress: bool = True,
                   models: Mapping[str, Any] | None = None,
                   data: engine.FitData | None = None,
                   data_description: str = "",
                   device_settings: distributed.DeviceSettings | None = None) -> dict:
    """Trains every model over every seed, prints the report and writes ``results.json``,
    ``history.png`` and ``accuracy_by_seed.png`` into ``workdir``.

    By default the models are ``config.model_names`` from the registry and the data the
    Keras pipeline of ``load_arrays``; an experiment with its own passes ``models``,
    ``data`` (an ``engine.FitData``, per-seed rows allowed) and a ``data_description``.
    """
    import time

    from rnn_attn import devices, stats

    start = time.perf_counter()
    record = dataclasses.asdict(config)
    if models is None:
        models = {name: build_model(name, config) for name in config.model_names}
    if data is None:
        train, validation, val_description = load_arrays(config)
        data = engine.FitData(Split(train), Split(validation))
        data_description = (f"{len(train['targets']):,} training reviews; validation on "
                            f"{val_description}")
    info = devices.describe_devices()
    print(f"{experiment}: models {list(models)} x {config.seeds} seeds, {config.epochs} "
          f"epochs, {data_description}; {info['device_count']} {info['platform']} device(s)")
    counts = {name: parameter_count(model.init(jax.random.PRNGKey(0)))
              for name, model in models.items()}
    for name, count in counts.items():
        print(f"  {name}: {count:,} parameters")
    runs = run(config, models, data, workdir=workdir, resume=resume, progress=progress,
               record=record, device_settings=device_settings)
    reports = {name: model_report(config, seed_runs, counts[name])
               for name, seed_runs in runs.items()}
    comparison = compare_models(config, reports)
    if not distributed.is_primary():  # process 0 writes the report and the files
        return {"experiment": experiment, "models": reports, "comparison": comparison}
    files = write_plots(experiment, config, workdir, runs, reports)
    results = {"experiment": experiment, "reference": reference, "config": record,
               "data": data_description, "devices": info,
               "metrics": metric_notes(config, data_description), "models": reports,
               "comparison": comparison,
               "timing_seconds": round(time.perf_counter() - start, 1), "files": files}
    path = write_results(workdir, results)
    print_report(config, reports, comparison, stats)
    print_written(path, files, results["timing_seconds"])
    return results


def print_report(config: SentimentConfig, models: Mapping[str, dict], comparison, stats) -> None:
    names = list(models)
    print("\nPer seed (VALIDATION accuracy %, best epoch by "
          f"{config.monitor} / after the last epoch; TRAINING accuracy after the last epoch):")
    for name in names:
        m = models[name]["per_seed"]
        for i, seed in enumerate(models[name]["seeds"]):
            print(f"  {name:>24} seed {seed}: val best {100 * m['val_accuracy_best'][i]:.2f} "
                  f"(epoch {m['best_epoch'][i]}), val final "
                  f"{100 * m['val_accuracy_final'][i]:.2f}, train final "
                  f"{100 * m['train_accuracy_final'][i]:.2f}")
    print("\nTraining vs validation accuracy by epoch (mean over seeds, %):")
    for name in names:
        rows = models[name]["train_validation_gap_by_epoch"]
        print(f"  {name}:")
        print("    epoch  train    val    gap")
        for r in rows:
            print(f"    {r['epoch']:5d}  {100 * r['train_accuracy']:5.2f}  "
                  f"{100 * r['val_accuracy']:5.2f}  {100 * r['gap']:+5.2f}")
    if comparison:
        for metric, result in comparison.items():
            label = ("VALIDATION accuracy at the best epoch" if metric == "val_accuracy_best"
                     else "VALIDATION accuracy after the last epoch")
            print(f"\nComparison over seeds, {label}:")
            print(stats.format_comparison(result))
    elif config.seeds < 2:
        print("\n(one seed: no intervals or tests; use --seeds 3 or more to compare)")


# -- the documents' recipes for single models (experiments.imdb) --------------------------------

_DOC002_RNN = dict(num_words=10_000, maxlen=500, optimizer="rmsprop", batch_size=128,
                   epochs=10, validation="split")
_DOC000 = dict(num_words=10_000, maxlen=200, optimizer="adam", batch_size=128, epochs=12,
               validation="test")
RECIPES: dict[str, dict[str, Any]] = {
    # document 002 (after Chollet ch. 6): RMSprop, validation_split 0.2
    "embedding_flatten": dict(num_words=10_000, maxlen=20, optimizer="rmsprop",
                              batch_size=32, epochs=10, validation="split"),
    "simple_rnn": _DOC002_RNN,
    "lstm": _DOC002_RNN,
    "gru": _DOC002_RNN,
    "lstm_reversed": _DOC002_RNN,
    "bidirectional_lstm": _DOC002_RNN,
    # document 003: 20,000 words, maxlen 80, Adam, batch 16, one epoch, test as validation
    "lstm_regularized": dict(num_words=20_000, maxlen=80, optimizer="adam", batch_size=16,
                             epochs=1, validation="test"),
    # document 000
    "bilstm": _DOC000,
    "bilstm_attention": _DOC000,
    "bilstm_masked_attention": _DOC000,
}
RECIPE_KEYS = ("num_words", "maxlen", "optimizer", "batch_size", "epochs", "validation")
