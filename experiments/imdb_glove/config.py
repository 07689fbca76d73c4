"""Configuration of the GloVe experiment: frozen pretrained vs learned embeddings with
200 training reviews (reference document 002, after Chollet 6.1.3).

    python -m experiments.imdb_glove --workdir runs/imdb_glove --seeds 3
    python -m experiments.imdb_glove --local --workdir /tmp/imdb_glove   # a quick check

As the lecture, with the 50-d GloVe vectors of ../shared/data (the lecture's are 100-d):
for each seed a shuffle of the labelled training reviews picks 200 training and the next
10,000 validation reviews (the same ones for both models of that seed).

Trains 20 epochs, as the lecture. Expected result (3 seeds, the 2-core CPU, under a
minute): frozen GloVe ahead of the learned embedding (Chollet's book: about 0.56 vs
0.52; the lecture prints none), both models fitting their 200 reviews almost perfectly;
with the earlier default of 10 epochs the best-epoch VALIDATION accuracies were 58.6%
[55.1, 62.2] and 52.3% [51.6, 53.1]. docs/results.md has the 20-epoch figures.
``--local`` (2 seeds, 3 epochs, 2,000 validation reviews) checks the pipeline in about
25 s: best-epoch VALIDATION accuracy 52.5% and 58.8% (frozen GloVe) vs 51.3% and 50.1% (learned).
"""

from __future__ import annotations

import dataclasses

from rnn_attn.config import field, fit_fields, models_field, override

MODELS = ("glove_frozen", "learned")


@dataclasses.dataclass(frozen=True)
class GloveConfig(
    fit_fields(
        epochs=20,
        batch_size=32,
        eval_batch_size=1000,
        optimizer="rmsprop",
        learning_rate=1e-3,
        monitor="val_accuracy",
        patience=0,
    )
):
    models: str = models_field("glove_frozen,learned", MODELS)
    training_samples: int = field(200, "training reviews (each seed picks its own)", minimum=1)
    validation_samples: int = field(10_000, "validation reviews", minimum=1)
    num_words: int = field(10_000, "vocabulary: the num_words most frequent words", minimum=2)
    maxlen: int = field(
        100,
        "words kept per review (pad_sequences's default 'pre' "
        "truncation, as the lecture's code: the last maxlen words)",
        minimum=1,
    )
    hidden_units: int = field(32, "units of the Dense(relu) layer", minimum=1)
    epochs: int = override("epochs", 20, help="training epochs (the lecture: 20)")
    data_dir: str = field(
        "", "directory with aclImdb and the GloVe file (default: $RNN_ATTN_DATA or ../shared/data)"
    )
    glove: str = field(
        "glove.6B.50d.imdb_top20k.txt.gz",
        "GloVe file: a file name in --data-dir, or a path with a directory part (relative: "
        "from the current directory)",
    )


# --local: a quick check of the whole pipeline.
LOCAL = {"seeds": 2, "epochs": 3, "validation_samples": 2000}
