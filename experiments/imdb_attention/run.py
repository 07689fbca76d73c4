"""``python -m experiments.imdb_attention``: see ``config.py``."""

from __future__ import annotations

from experiments.imdb_attention import config
from experiments.sentiment.run import run_sentiment


def main(argv: list[str] | None = None) -> int:
    summary = config.__doc__.split("\n\n")[0]
    return run_sentiment(argv, description=f"{summary} {config.DIFFERENCES}",
                         config_cls=config.SentimentConfig, experiment="imdb_attention",
                         reference=config.REFERENCE, default_workdir="runs/imdb_attention",
                         local=config.LOCAL)
