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
from rnn_attn.data.paths import default_data_dir
from rnn_attn.experiment.spec import Experiment, Setup, describe
from rnn_attn.train import engine
from rnn_attn.train.feed import Split
from rnn_attn.train.objectives import binary_classification


def setup(cfg, models: dict, data: engine.FitData, description: str, files: list[str]) -> Setup:
    """The protocol's training of ``models`` on ``data`` (shared by every IMDB experiment),
    read from ``files``."""
    return Setup(
        models=models,
        data=data,
        objective=binary_classification(),
        optimizer=imdb_config.optimizer(cfg),
        data_description=description,
        data_files=files,
    )


def load_splits(cfg) -> dict:
    """``imdb.load_splits`` of the config's reviews (a missing or bad file: ConfigError)."""
    options = ("num_words", "maxlen", "source", "validation", "validation_split")
    try:
        return imdb.load_splits(
            cfg.data_dir or default_data_dir(), **{k: getattr(cfg, k) for k in options}
        )
    except (FileNotFoundError, ValueError) as e:
        raise ConfigError(str(e)) from None


def build(cfg: ImdbConfig, ctx) -> Setup:
    """The reviews and models; with ``--sweep`` (which needs ``--validation split``) the
    test reviews too, for the selected setting's TEST figures (``Setup.test``)."""
    splits = load_splits(cfg)
    description = (
        f"{len(splits['train']['targets']):,} training reviews; "
        f"validation on {splits['validation_described']}"
    )
    models = {name: build_model(name, cfg) for name in cfg.model_names}
    data = engine.FitData(Split(splits["train"]), Split(splits["validation"]))
    files = imdb.source_files(cfg.data_dir or default_data_dir(), cfg.source)
    built = setup(cfg, models, data, description, files)
    if getattr(ctx, "sweep", None) is None:
        return built
    return dataclasses.replace(built, test=Split(splits["test"]))  # --validation split


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
        sweep=imdb_config.sweepable(config),
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
