"""``python -m experiments.imdb_attention``: see ``config.py``."""

from __future__ import annotations

from experiments.imdb_attention import config
from experiments.sentiment.run import run_sentiment


def main(argv: list[str] | None = None) -> int:
    return run_sentiment(argv, description=config.__doc__.split("\n\n")[0] + " " + config.DIFFERENCES,
                         config_cls=config.SentimentConfig, experiment="imdb_attention",
                         reference=config.REFERENCE, default_workdir="runs/imdb_attention",
                         local=config.LOCAL)
