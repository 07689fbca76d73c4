"""Settings of the IMDB experiments and the document recipes of each model."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

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
from rnn_attn.train.optimizers import KERAS_OPTIMIZERS as OPTIMIZERS


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
