"""Settings of the IMDB experiments and the document recipes of each model."""

from __future__ import annotations

import dataclasses
from typing import Any

from rnn_attn.config import (
    ConfigError,
    RunConfig,
    batch_size_field,
    epochs_field,
    eval_batch_size_field,
    field,
    learning_rate_field,
    models_field,
    monitor_field,
    optimizer_field,
    patience_field,
    require,
    seed_loop_field,
)
from rnn_attn.data import imdb
from rnn_attn.models.text_classifiers import TEXT_MODELS, make_text_model
from rnn_attn.train.optimizers import KERAS_OPTIMIZERS as OPTIMIZERS


@dataclasses.dataclass(frozen=True)
class SentimentConfig(RunConfig):
    """Settings of an IMDB comparison (defaults: document 000)."""

    models: str = models_field("bilstm,bilstm_attention", TEXT_MODELS)
    epochs: int = epochs_field(12)
    batch_size: int = batch_size_field(128)
    eval_batch_size: int = eval_batch_size_field(1000)
    num_words: int = field(10_000, "vocabulary: the num_words most frequent words", minimum=4,
                           why="indices 0-2 are reserved")
    maxlen: int = field(200, "reviews padded / truncated to this many tokens ('pre')",
                        minimum=1)
    optimizer: str = optimizer_field("adam", OPTIMIZERS)
    learning_rate: float = learning_rate_field()
    momentum: float = field(0.0, "momentum of --optimizer sgd (Keras's SGD; document 003 "
                                 "tried SGD(learning_rate=0.01, momentum=0.9))",
                            minimum=0.0, below=1.0)
    validation: str = field(
        "test", "validation data: 'test' (the 25,000 test reviews, as document 000 does) or "
        "'split' (the last --validation-split of the training reviews, as Keras's "
        "validation_split)", choices=("test", "split"))
    validation_split: float = field(0.2, "fraction held out with --validation split",
                                    above=0.0, below=1.0)
    monitor: str = monitor_field()
    patience: int = patience_field()
    data_dir: str = field("", "directory with the IMDB files (default: $RNN_ATTN_DATA or "
                              "../shared/data)")
    source: str = field("auto", f"IMDB source, one of {imdb.SOURCES}", choices=imdb.SOURCES)
    seed_loop: str = seed_loop_field()

    def check(self) -> None:
        require(self.momentum == 0.0 or self.optimizer == "sgd",
                f"--momentum {self.momentum} applies to --optimizer sgd only, not "
                f"{self.optimizer!r}")
        for name in self.model_names:
            build_model(name, self)  # shape errors (e.g. a fixed maxlen) surface now


def build_model(name: str, config: SentimentConfig):
    """The named model sized for the config's vocabulary and length."""
    try:
        return make_text_model(name, vocab_size=config.num_words, maxlen=config.maxlen)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"model {name!r}: {e}") from None


_DOC002_RNN = dict(num_words=10_000, maxlen=500, optimizer="rmsprop", batch_size=128,
                   epochs=10, validation="split")
_DOC003 = dict(num_words=20_000, maxlen=80, optimizer="adam", batch_size=16, epochs=1,
               validation="test")
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
    "lstm_regularized": _DOC003,
    "lstm_unpenalized": _DOC003,  # its ablation: no bias penalty
    # document 000
    "bilstm": _DOC000,
    "bilstm_attention": _DOC000,
    "bilstm_masked_attention": _DOC000,
}
RECIPE_KEYS = ("num_words", "maxlen", "optimizer", "batch_size", "epochs", "validation")
