"""Configuration of one IMDB model of documents 002 and 003, trained over seeds.

    python -m experiments.imdb --model lstm --workdir runs/imdb_lstm --seeds 3
    python -m experiments.imdb --model embedding_flatten --local --workdir /tmp/imdb  # quick

The settings are ``experiments.sentiment.config.SentimentConfig``; each model starts
from its document recipe (``RECIPES``: words, maxlen, optimizer, batch, epochs,
validation), and any flag given overrides it.

Expected results (the 2-core CPU): ``embedding_flatten`` over 3 seeds, 20 s: VALIDATION
accuracy 76.0% [75.0, 77.1] after 10 epochs (lecture: about 0.75). At maxlen 500, 3 seeds,
best-epoch VALIDATION accuracy (lecture: SimpleRNN about 0.85, LSTM about 0.89):
``simple_rnn`` 85.8% (2 min), ``lstm`` 88.3% (6 min), ``gru`` 88.3% (5 min),
``lstm_reversed`` 88.4% (10 min), ``bidirectional_lstm`` 88.5% (16 min); docs/results.md
has every seed. ``--local`` (2 seeds, 2 epochs) checks the pipeline quickly.
"""

from experiments.sentiment.config import RECIPE_KEYS, RECIPES, SentimentConfig

REFERENCE = "documents 002 (Chollet ch. 6) and 003"

# --local: a quick check of the whole pipeline (with the model's recipe otherwise).
LOCAL = {"seeds": 2, "epochs": 2}

__all__ = ["LOCAL", "RECIPES", "RECIPE_KEYS", "REFERENCE", "SentimentConfig"]
