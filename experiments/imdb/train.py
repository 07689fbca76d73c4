"""The IMDB protocol: the Keras pipeline's reviews, the registry's models, binary
cross-entropy over seeds, and each seed's figures from its per-epoch history."""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from experiments.imdb import config as imdb_config
from experiments.imdb import report
from experiments.imdb.config import ImdbConfig, build_model
from rnn_attn.config import ConfigError
from rnn_attn.data import imdb
from rnn_attn.data.paths import default_data_dir
from rnn_attn.experiment.spec import Experiment, Setup, Sweepable, describe
from rnn_attn.train import engine
from rnn_attn.train.feed import Split
from rnn_attn.train.objectives import binary_classification
from rnn_attn.train.optimizers import keras_optimizer


def load_arrays(cfg: ImdbConfig) -> tuple[dict, dict, str, dict]:
    """``(train, validation, description, test)`` as ``{"inputs", "targets"}`` numpy
    arrays (the test reviews are the validation data under ``--validation test``)."""
    try:
        data = imdb.load_padded(
            cfg.data_dir or default_data_dir(),
            num_words=cfg.num_words,
            maxlen=cfg.maxlen,
            source=cfg.source,
        )
    except (FileNotFoundError, ValueError) as e:
        raise ConfigError(str(e)) from None
    train, test = data["train"], data["test"]
    if cfg.validation == "test":
        return train, test, f"the {len(test['targets']):,} test reviews (as document 000)", test
    # Keras's validation_split: the last fraction of the training data, before shuffling.
    n = len(train["targets"])
    cut = n - int(round(n * cfg.validation_split))
    head, tail = ({k: v[s] for k, v in train.items()} for s in (slice(cut), slice(cut, n)))
    return head, tail, f"the last {n - cut:,} training reviews (validation_split)", test


def data_files(cfg: ImdbConfig) -> list[str]:
    """The files ``load_arrays`` read, as ``imdb.resolve_npz`` chooses them: Keras's
    ``imdb.npz``, or the raw reviews (``aclImdb/`` tree or archive) and the word index the
    cached npz is built from (the cache itself is derived from them)."""
    data_dir = cfg.data_dir or default_data_dir()
    npz = os.path.join(data_dir, "imdb.npz")
    if cfg.source == "keras_npz" or (cfg.source == "auto" and os.path.isfile(npz)):
        return [npz]
    return [imdb.aclimdb_source(data_dir), os.path.join(data_dir, imdb.WORD_INDEX_FILE)]


def optimizer(cfg):
    """The run's optimizer: ``--optimizer`` with Keras's defaults at ``--learning-rate``
    (and ``--momentum`` for SGD)."""
    return keras_optimizer(cfg.optimizer, cfg.learning_rate, getattr(cfg, "momentum", 0.0))


def setup(cfg, models: dict, data: engine.FitData, description: str, files: list[str]) -> Setup:
    """The protocol's training of ``models`` on ``data`` (shared by every IMDB experiment),
    read from ``files``."""
    return Setup(
        models=models,
        data=data,
        objective=binary_classification(),
        optimizer=optimizer(cfg),
        data_description=description,
        data_files=files,
    )


def build(cfg: ImdbConfig, ctx) -> Setup:
    """The reviews and models; with ``--sweep`` (which needs ``--validation split``) the
    test reviews too, for the selected setting's TEST figures (``evaluate``)."""
    train, validation, described, test = load_arrays(cfg)
    description = f"{len(train['targets']):,} training reviews; validation on {described}"
    models = {name: build_model(name, cfg) for name in cfg.model_names}
    data = engine.FitData(Split(train), Split(validation))
    built = setup(cfg, models, data, description, data_files(cfg))
    if getattr(ctx, "sweep", None) is not None and cfg.validation == "split":
        built = dataclasses.replace(built, extras={"test": Split(test)})
    return built


def require_validation_split(cfg) -> None:
    """``--sweep`` chooses each model's setting on VALIDATION data that is not the test
    data: refused under ``--validation test`` (the test reviews as validation)."""
    if getattr(cfg, "validation", "split") == "test":
        raise ConfigError(
            "--sweep chooses each model's setting on VALIDATION data apart from the test "
            "reviews, but --validation test validates on the test reviews; expected "
            "--validation split"
        )


def sweepable(config: type) -> Sweepable:
    """What ``--sweep`` may vary in an IMDB experiment: the learning rate (and SGD's
    momentum where the config has it) and the models' dropout rates and bias penalties."""
    fields = {f.name for f in dataclasses.fields(config)}
    return Sweepable(
        optimizer=optimizer,
        fields=("learning_rate", "momentum") if "momentum" in fields else ("learning_rate",),
        model_arguments=("dropout", "recurrent_dropout", "bias_l1", "bias_l2"),
        check=require_validation_split,
    )


def evaluate(cfg, setup: Setup, name: str, fit: engine.FitResult) -> dict:
    """Each seed's VALIDATION figures at its best epoch and after the last, TRAINING
    figures after the last, per-epoch histories and the train/validation gap."""
    per_seed: dict[str, list] = {
        k: []
        for k in (
            "val_accuracy_best",
            "best_epoch",
            "val_accuracy_final",
            "val_loss_final",
            "val_loss_best",
            "train_accuracy_final",
            "train_loss_final",
        )
    }
    for h, best in zip(fit.history, fit.best_epoch, strict=True):
        for key, value in (
            ("val_accuracy_best", h["val_accuracy"][best - 1]),
            ("best_epoch", best),
            ("val_accuracy_final", h["val_accuracy"][-1]),
            ("val_loss_final", h["val_loss"][-1]),
            ("val_loss_best", h["val_loss"][best - 1]),
            ("train_accuracy_final", h["accuracy"][-1]),
            ("train_loss_final", h["loss"][-1]),
        ):
            per_seed[key].append(value)
    test = setup.extras.get("test") if isinstance(setup.extras, dict) else None
    if test is not None:  # a sweep's selected setting: TEST figures of the best epoch
        rows = fit.evaluate(test, cfg.eval_batch_size)
        per_seed["test_accuracy_best"] = [row["test_accuracy"] for row in rows]
        per_seed["test_loss_best"] = [row["test_loss"] for row in rows]
    return {
        "per_seed": per_seed,
        "history_per_seed": fit.history,
        "train_validation_gap_by_epoch": generalization_gap(fit.history),
    }


def generalization_gap(histories: list[dict]) -> list[dict[str, float]]:
    """Per epoch, mean over seeds of TRAINING accuracy, VALIDATION accuracy and their gap
    (what document 000 conflated: its "99%" was training accuracy)."""
    rows = []
    for e in range(min(len(h["accuracy"]) for h in histories)):
        train = np.array([h["accuracy"][e] for h in histories])
        val = np.array([h["val_accuracy"][e] for h in histories])
        rows.append(
            {
                "epoch": e + 1,
                "train_accuracy": float(train.mean()),
                "val_accuracy": float(val.mean()),
                "gap": float((train - val).mean()),
            }
        )
    return rows


def protocol(
    name: str, config: type, build, *, doc: str | None, reference: str, local: dict, **options
) -> Experiment:
    """An IMDB experiment: its own config, data and models, this protocol's training,
    figures, comparison and report."""
    return Experiment(
        name=name,
        config=config,
        build=build,
        evaluate=evaluate,
        metrics=report.METRICS,
        compare=report.COMPARED,
        summarize=report.SUMMARIZED,
        report=report.report,
        reference=reference,
        description=describe(doc),
        default_workdir=f"runs/{name}",
        local=local,
        sweep=sweepable(config),
        **options,
    )


EXPERIMENT = protocol(
    "imdb",
    ImdbConfig,
    build,
    doc=imdb_config.__doc__,
    reference=imdb_config.REFERENCE,
    local=imdb_config.LOCAL,
    exclude=("models",),
    customize=imdb_config.customize,
    adjust=imdb_config.apply_recipe,
)
