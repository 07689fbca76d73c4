"""Configuration of the document-000 comparison: BiLSTM vs BiLSTM + attention pooling.

    python -m experiments.imdb_attention --workdir runs/imdb_attention --seeds 3 --epochs 3
    python -m experiments.imdb_attention --local --workdir /tmp/imdb_attention  # quick

The settings are ``experiments.imdb.config.ImdbConfig``, whose defaults are document
000's: 10,000 words, maxlen 200, Embedding(10,000, 128) -> BiLSTM(64) -> Dropout(0.5) ->
Dense(1), with and without attention pooling; Adam, batch 128, 12 epochs, validation on
the 25,000 test reviews.

Expected result (``--seeds 3 --epochs 3``, the 2-core CPU, about 7 minutes): best-epoch
VALIDATION accuracy about 86.9% for the BiLSTM (per seed 86.4-87.2) and 86.8% with
attention pooling (86.7-86.8), the difference not significant over 3 seeds; both
overfit from epoch 2 on (12 epochs, commit 8d7f4c2: 40 minutes; VALIDATION 85.2% and
84.2% after the last, TRAINING 99%). ``--local`` (2 seeds, one epoch, reviews cut to
their last 50 words) checks the whole pipeline in under a minute and a half: best-epoch
VALIDATION accuracy 81.6% and 81.3% (BiLSTM) vs 82.0% and 81.2% (attention pooling).

Seeds by source (issue 30): how much of a figure's variance comes from the initialization
and how much from the data order (dropout follows the initialization), 5 x 5 runs:

    python -m experiments.imdb_attention --workdir runs/imdb_attention_sources \
        --seeds-by-source init=5,data=5 --epochs 3

(25 runs per model; not yet measured at this size: from the 3-seed run's 7 minutes, about
an hour here). ``--local --seeds-by-source init=3,data=3`` (9 runs, 416 s on the 2-core
CPU while other jobs shared it): best-epoch VALIDATION accuracy's sd of one run 0.29
points (BiLSTM) and 0.39 (attention pooling); the data order's share 49% [0, 89] and 95%
[21, 99] (F test of no data-order effect: p = 0.11 and 0.0009), the initialization's 0%
(a negative estimate, set to 0); run (i, i) is the default run of seed i (81.6, 81.3; 82.0, 81.2).

Self-attention beside them (issue 32), under the same seeds and protocol:

    python -m experiments.imdb_attention --models \\
        bilstm,bilstm_attention,bilstm_mha,transformer_encoder

``bilstm_mha``: the BiLSTM with multi-head attention pooling (one learned query over 4
heads, padding masked; 1,445,121 parameters); ``transformer_encoder``: Embedding(10,000,
128) + sinusoidal positions, 2 encoder layers (4 heads, feed-forward 128), masked mean,
Dropout(0.5), Dense(1) (1,479,553 parameters; the BiLSTM has 1,378,945). ``--local`` with
the four (the 2-core CPU, 9.5 minutes, 562 s by results.json, with tests running beside
it): best-epoch VALIDATION accuracy 81.6 / 81.3 (BiLSTM), 82.0 / 81.2 (attention
pooling), 81.6 / 81.3 (multi-head pooling), 81.6 / 80.9 (Transformer), seeds 0 / 1; no
paired difference from the BiLSTM over 2 seeds. ``--seeds 3 --epochs 3`` with the four
(commit 466c803, stopped unfinished): best-epoch VALIDATION accuracy per seed 87.0 / 86.8
/ 87.2 (BiLSTM), 86.7 / 87.0 / 87.2 (attention pooling), 86.3 / 87.3 / 87.0 (multi-head
pooling), about 5.5 minutes a model; the Transformer (maxlen 200) had not finished its
first epoch after 8 minutes and was stopped, so it has no figure at this size yet.
"""

from experiments.imdb.config import ImdbConfig

REFERENCE = (
    "document 000 (one run each): BiLSTM validation accuracy 0.8627 after epoch 1, "
    "peak 0.8658, 0.8408 after 12; attention 0.8695 after epoch 1, 0.8376 after 12"
)

# Said in --help and docs/results.md.
DIFFERENCES = (
    "Differences from document 000: the attention weight W starts glorot-uniform "
    "(the document's Keras layer: random-normal, stddev 0.05); the document "
    "reports one run, this runs --seeds of them."
)

# --local: a quick check of the whole pipeline.
LOCAL = {"seeds": 2, "epochs": 1, "maxlen": 50}

__all__ = ["DIFFERENCES", "LOCAL", "REFERENCE", "ImdbConfig"]
