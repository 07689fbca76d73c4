"""Configuration of the IMDB experiments: one model of documents 002 and 003 over seeds
(``experiments.imdb``), and the settings every IMDB comparison shares.

    python -m experiments.imdb --model lstm --workdir runs/imdb_lstm --seeds 3
    python -m experiments.imdb --model embedding_flatten --local --workdir /tmp/imdb  # quick

The reviews go through Keras's pipeline (``load_data`` with ``num_words``, then
``pad_sequences`` to ``maxlen``); each model trains over all its seeds at once on the
engine; every figure is labelled as TRAINING or VALIDATION. Each model starts from its
document recipe (``RECIPES``: words, maxlen, optimizer, batch, epochs, validation), and
any flag given overrides it. ``experiments.imdb_attention`` (document 000) and
``experiments.imdb_glove`` (document 002) run the same protocol.

Expected results (the 2-core CPU): ``embedding_flatten`` over 3 seeds, 20 s: VALIDATION
accuracy 76.0% [75.0, 77.1] after 10 epochs (lecture: about 0.75). At maxlen 500, 3 seeds,
best-epoch VALIDATION accuracy (lecture: SimpleRNN about 0.85, LSTM about 0.89):
``simple_rnn`` 85.8% (2 min), ``lstm`` 88.3% (6 min), ``gru`` 88.3% (5 min),
``lstm_reversed`` 88.4% (10 min), ``bidirectional_lstm`` 88.5% (16 min); docs/results.md
has every seed. ``--local`` (2 seeds, 2 epochs): ``--model embedding_flatten`` in about
20 s, best-epoch VALIDATION accuracy 74.6% and 74.1%.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from rnn_attn.config import ConfigError, field, fit_fields, models_field, require
from rnn_attn.data import imdb
from rnn_attn.experiment.spec import Sweepable
from rnn_attn.models.text_classifiers import TEXT_MODELS, make_text_model
from rnn_attn.train.optimizers import keras_optimizer

REFERENCE = "documents 002 (Chollet ch. 6) and 003"
# --local: a quick check of the whole pipeline (with the model's recipe otherwise).
LOCAL = {"seeds": 2, "epochs": 2}


@dataclasses.dataclass(frozen=True)
class ImdbConfig(
    fit_fields(
        epochs=12,
        batch_size=128,
        eval_batch_size=1000,
        optimizer="adam",
        learning_rate=1e-3,
        monitor="val_accuracy",
        patience=0,
        seed_loop="auto",
    )
):
    """Settings of an IMDB comparison (defaults: document 000)."""

    models: str = models_field("bilstm,bilstm_attention", TEXT_MODELS)
    num_words: int = field(
        10_000,
        "vocabulary: the num_words most frequent words",
        minimum=4,
        why="indices 0-2 are reserved",
    )
    maxlen: int = field(200, "reviews padded / truncated to this many tokens ('pre')", minimum=1)
    momentum: float = field(
        0.0,
        "momentum of --optimizer sgd (Keras's SGD; document 003 "
        "tried SGD(learning_rate=0.01, momentum=0.9))",
        minimum=0.0,
        below=1.0,
    )
    validation: str = field(
        "test",
        "validation data: 'test' (the 25,000 test reviews, as document 000 does) or "
        "'split' (the last --validation-split of the training reviews, as Keras's "
        "validation_split)",
        choices=("test", "split"),
    )
    validation_split: float = field(
        0.2, "fraction held out with --validation split", above=0.0, below=1.0
    )
    data_dir: str = field(
        "", "directory with the IMDB files (default: $RNN_ATTN_DATA or ../shared/data)"
    )
    source: str = field("auto", f"IMDB source, one of {imdb.SOURCES}", choices=imdb.SOURCES)

    def check(self) -> None:
        require(
            self.momentum == 0.0 or self.optimizer == "sgd",
            f"--momentum {self.momentum} applies to --optimizer sgd only, not {self.optimizer!r}",
        )
        for name in self.model_names:
            build_model(name, self)  # shape errors (e.g. a fixed maxlen) surface now


def build_model(name: str, config: ImdbConfig):
    """The named model sized for the config's vocabulary and length."""
    try:
        return make_text_model(name, vocab_size=config.num_words, maxlen=config.maxlen)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"model {name!r}: {e}") from None


_DOC002_RNN = dict(
    num_words=10_000, maxlen=500, optimizer="rmsprop", batch_size=128, epochs=10, validation="split"
)
_DOC003 = dict(
    num_words=20_000, maxlen=80, optimizer="adam", batch_size=16, epochs=1, validation="test"
)
_DOC000 = dict(
    num_words=10_000, maxlen=200, optimizer="adam", batch_size=128, epochs=12, validation="test"
)
RECIPES: dict[str, dict[str, Any]] = {
    # document 002 (after Chollet ch. 6): RMSprop, validation_split 0.2
    "embedding_flatten": dict(
        num_words=10_000,
        maxlen=20,
        optimizer="rmsprop",
        batch_size=32,
        epochs=10,
        validation="split",
    ),
    "simple_rnn": _DOC002_RNN,
    "lstm": _DOC002_RNN,
    "gru": _DOC002_RNN,
    "lstm_reversed": _DOC002_RNN,
    "bidirectional_lstm": _DOC002_RNN,
    # document 003: 20,000 words, maxlen 80, Adam, batch 16, one epoch, test as validation
    "lstm_regularized": _DOC003,
    "lstm_unpenalized": _DOC003,  # its ablation: no bias penalty
    # document 000
    "bilstm": _DOC000,
    "bilstm_attention": _DOC000,
    "bilstm_masked_attention": _DOC000,
    # issue 32: self-attention under document 000's recipe
    "bilstm_mha": _DOC000,
    "transformer_encoder": _DOC000,
}
RECIPE_KEYS = ("num_words", "maxlen", "optimizer", "batch_size", "epochs", "validation")


def customize(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``--model``, whose document recipe fills the flags of ``RECIPE_KEYS`` left unset."""
    parser.add_argument(
        "--model",
        required=True,
        choices=sorted(RECIPES),
        metavar="MODEL",
        help=f"the model, one of {sorted(RECIPES)}",
    )
    parser.set_defaults(**dict.fromkeys(RECIPE_KEYS))
    for action in parser._actions:
        if action.dest in RECIPE_KEYS:
            action.help = f"{action.help} (default: the model's document recipe)"
    return parser


def apply_recipe(args: argparse.Namespace) -> None:
    args.models = args.model
    for key in RECIPE_KEYS:
        if getattr(args, key) is None:
            setattr(args, key, RECIPES[args.model][key])


# What --sweep may vary (experiment.sweep) and the optimizer it rebuilds


def optimizer(cfg):
    """The run's optimizer: ``--optimizer`` with Keras's defaults at ``--learning-rate``
    (and ``--momentum`` for SGD)."""
    return keras_optimizer(cfg.optimizer, cfg.learning_rate, getattr(cfg, "momentum", 0.0))


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
