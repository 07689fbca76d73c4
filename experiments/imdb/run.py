"""``python -m experiments.imdb --model NAME``: see ``config.py``."""

from __future__ import annotations

import argparse

from experiments.imdb import config
from experiments.imdb.config import RECIPE_KEYS, RECIPES
from experiments.sentiment.run import run_sentiment


def customize(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--model", required=True, choices=sorted(RECIPES), metavar="MODEL",
                        help=f"the model, one of {sorted(RECIPES)}")
    # Unset flags take the model's document recipe (RECIPES).
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


def main(argv: list[str] | None = None) -> int:
    return run_sentiment(argv, description=config.__doc__.split("\n\n")[0],
                         config_cls=config.SentimentConfig, experiment="imdb",
                         reference=config.REFERENCE,
                         default_workdir="runs/imdb", adjust=apply_recipe,
                         customize=customize, exclude=("models",), local=config.LOCAL)
