"""Configuration of the GloVe experiment: frozen pretrained vs learned embeddings with
200 training reviews (reference document 002, after Chollet 6.1.3).

    python -m experiments.imdb_glove --workdir runs/imdb_glove --seeds 3
    python -m experiments.imdb_glove --local --workdir /tmp/imdb_glove   # a quick check

As the lecture, with the 50-d GloVe vectors of ../shared/data (the lecture's are 100-d):
for each seed a shuffle of the labelled training reviews picks 200 training and the next
10,000 validation reviews (the same ones for both models of that seed).

Expected result (3 seeds, the 2-core CPU, 20 s): best-epoch VALIDATION accuracy 58.6%
[55.1, 62.2] with frozen GloVe against 52.3% [51.6, 53.1] learned (lecture: about 0.56
vs 0.52), both models fitting their 200 reviews almost perfectly. ``--local`` (2 seeds,
3 epochs, 2,000 validation reviews) checks the pipeline quickly.
"""

from __future__ import annotations

import dataclasses

from rnn_attn.config import (
    check_fit_flags,
    checkpoint_every_field,
    cpu_devices_field,
    field,
    on_nonfinite_field,
    require,
)

MODELS = ("glove_frozen", "learned")


@dataclasses.dataclass(frozen=True)
class GloveConfig:
    models: str = field("glove_frozen,learned", f"comma-separated models from {MODELS}")
    seeds: int = field(3, "independent repeats (each picks its own 200 training reviews)")
    first_seed: int = field(0, "seed of the first repeat")
    training_samples: int = field(200, "training reviews")
    validation_samples: int = field(10_000, "validation reviews")
    num_words: int = field(10_000, "vocabulary: the num_words most frequent words")
    maxlen: int = field(100, "words kept per review (pad_sequences's default 'pre' "
                             "truncation, as the lecture's code: the last maxlen words)")
    hidden_units: int = field(32, "units of the Dense(relu) layer")
    epochs: int = field(10, "training epochs")
    batch_size: int = field(32, "training batch size")
    eval_batch_size: int = field(1000, "validation batch size (no effect on results)")
    optimizer: str = field("rmsprop", "adam or rmsprop (Keras defaults)")
    learning_rate: float = field(1e-3, "learning rate")
    monitor: str = field("val_accuracy", "metric that picks the best epoch")
    patience: int = field(0, "early stopping patience (0: never)")
    checkpoint_every: int = checkpoint_every_field()
    on_nonfinite: str = on_nonfinite_field()
    data_dir: str = field("", "directory with aclImdb and the GloVe file (default: "
                              "$RNN_ATTN_DATA or ../shared/data)")
    glove: str = field("glove.6B.50d.imdb_top20k.txt.gz", "GloVe file (in --data-dir, or a path)")
    cpu_devices: int = cpu_devices_field()

    @property
    def model_names(self) -> list[str]:
        return [m.strip() for m in self.models.split(",") if m.strip()]

    def validate(self) -> GloveConfig:
        check_fit_flags(self)
        for name in ("seeds", "training_samples", "validation_samples", "maxlen",
                     "hidden_units", "epochs", "batch_size", "eval_batch_size"):
            value = getattr(self, name)
            require(isinstance(value, int) and value >= 1,
                    f"--{name.replace('_', '-')} must be an integer >= 1, got {value!r}")
        require(self.num_words > 1, f"--num-words must be > 1, got {self.num_words}")
        require(self.optimizer in ("adam", "rmsprop"),
                f"unknown optimizer {self.optimizer!r}; expected adam or rmsprop")
        require(self.learning_rate > 0, f"--learning-rate must be > 0, got {self.learning_rate}")
        require(self.monitor in ("val_loss", "val_accuracy"),
                f"--monitor must be val_loss or val_accuracy, got {self.monitor!r}")
        require(self.patience >= 0, f"--patience must be >= 0, got {self.patience}")
        for name in self.model_names:
            require(name in MODELS, f"unknown model {name!r}; expected one of {MODELS}")
        require(bool(self.model_names), f"--models is empty; expected some of {MODELS}")
        return self


# --local: a quick check of the whole pipeline.
LOCAL = {"seeds": 2, "epochs": 3, "validation_samples": 2000}
