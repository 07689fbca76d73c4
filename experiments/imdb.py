"""One IMDB sentiment model of the reference documents, trained over seeds.

    python -m experiments.imdb --model lstm --workdir runs/imdb_lstm [--seeds 3]

Models (``--model``) and the document recipe each starts from (any flag overrides it):
  embedding_flatten   002: Embedding(10,000, 8) -> Flatten -> Dense; maxlen 20, RMSprop,
                      batch 32, 10 epochs, validation_split 0.2 (lecture: ~0.75 val acc)
  simple_rnn          002: Embedding(10,000, 32) -> SimpleRNN(32) -> Dense; maxlen 500,
                      RMSprop, batch 128, 10 epochs, validation_split 0.2 (lecture: ~0.85)
  lstm, gru           002: the same with LSTM(32) / GRU(32) (lecture: LSTM ~0.89)
  lstm_reversed       002: the LSTM reading each review backwards
  bidirectional_lstm  002: Embedding(10,000, 32) -> Bidirectional(LSTM(32)) -> Dense
  lstm_regularized    003: Embedding(20,000, 128) -> LSTM(64, dropout 0.2, L1L2(0.01, 0.01)
                      bias regularizer) -> Dense; maxlen 80, Adam, batch 16, 1 epoch,
                      validation on the test reviews
  bilstm, bilstm_attention, bilstm_masked_attention   000 (see experiments.imdb_attention)

Writes to --workdir: results.json (config, models.<name>.per_seed.<metric>, histories),
history.png (loss and accuracy, training and validation), accuracy_by_seed.png, and Orbax
checkpoints per epoch (--resume continues from them).
"""

from __future__ import annotations

import argparse
import sys


def _customize(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    from rnn_attn.sentiment import RECIPE_KEYS, RECIPES

    parser.add_argument("--model", required=True, choices=sorted(RECIPES), metavar="MODEL",
                        help=f"the model, one of {sorted(RECIPES)}")
    # Unset flags take the model's document recipe (see the module docstring).
    parser.set_defaults(**dict.fromkeys(RECIPE_KEYS))
    for action in parser._actions:
        if action.dest in RECIPE_KEYS:
            action.help = f"{action.help} (default: the model's document recipe)"
    return parser


def _apply_recipe(args: argparse.Namespace) -> None:
    from rnn_attn.sentiment import RECIPE_KEYS, RECIPES

    args.models = args.model
    for key in RECIPE_KEYS:
        if getattr(args, key) is None:
            setattr(args, key, RECIPES[args.model][key])


def main(argv: list[str] | None = None) -> int:
    from experiments._common import run_sentiment
    from rnn_attn.sentiment import SentimentConfig

    return run_sentiment(argv, description=__doc__.split("\n\n")[0],
                         config_cls=SentimentConfig, experiment="imdb",
                         reference="documents 002 (Chollet ch. 6) and 003",
                         default_workdir="runs/imdb", adjust=_apply_recipe,
                         customize=_customize, exclude=("models",))


if __name__ == "__main__":
    from rnn_attn.runtime import reexec_with_huge_pages

    reexec_with_huge_pages()  # before JAX starts: see rnn_attn/runtime.py
    sys.exit(main())
