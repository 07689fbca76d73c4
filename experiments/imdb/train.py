"""The IMDB protocol: the Keras pipeline's reviews, the registry's models, binary
cross-entropy over seeds, and each seed's figures from its per-epoch history."""

from __future__ import annotations

import dataclasses

from experiments.imdb import config as imdb_config
from experiments.imdb import report
from experiments.imdb.config import ImdbConfig, build_model
from rnn_attn.analysis.histories import at_epochs, train_validation_gap
from rnn_attn.config import ConfigError
from rnn_attn.data import imdb
from rnn_attn.data.batching import validation_split
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
    head, tail = validation_split(train, cfg.validation_split)  # as Keras's
    described = f"the last {len(tail['targets']):,} training reviews (validation_split)"
    return head, tail, described, test


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
    files = imdb.source_files(cfg.data_dir or default_data_dir(), cfg.source)
    built = setup(cfg, models, data, description, files)
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


# Each seed's figure -> (history metric, at its best epoch or after the last)
FIGURES = {
    "val_accuracy_best": ("val_accuracy", "best"),
    "val_accuracy_final": ("val_accuracy", "final"),
    "val_loss_final": ("val_loss", "final"),
    "val_loss_best": ("val_loss", "best"),
    "train_accuracy_final": ("accuracy", "final"),
    "train_loss_final": ("loss", "final"),
}


def evaluate(cfg, setup: Setup, name: str, fit: engine.FitResult) -> dict:
    """Each seed's VALIDATION figures at its best epoch and after the last, TRAINING
    figures after the last, per-epoch histories and the train/validation gap."""
    figures = at_epochs(fit.history, fit.best_epoch, FIGURES)
    best = {"val_accuracy_best": figures.pop("val_accuracy_best"), "best_epoch": fit.best_epoch}
    test = setup.extras.get("test") if isinstance(setup.extras, dict) else None
    if test is not None:  # a sweep's selected setting: TEST figures of the best epoch
        rows = fit.evaluate(test, cfg.eval_batch_size)
        figures["test_accuracy_best"] = [row["test_accuracy"] for row in rows]
        figures["test_loss_best"] = [row["test_loss"] for row in rows]
    return {
        "per_seed": best | figures,
        "history_per_seed": fit.history,
        "train_validation_gap_by_epoch": train_validation_gap(fit.history),
    }


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
