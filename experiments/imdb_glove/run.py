"""``python -m experiments.imdb_glove``: see ``config.py``."""

from __future__ import annotations

from experiments._common import run_main
from experiments.imdb_glove import config, train
from experiments.imdb_glove.config import GloveConfig
from experiments.sentiment import run as sentiment


def run(cfg: GloveConfig, workdir: str, *, resume: bool = False, progress: bool = True,
        device_settings=None):
    models, data, description = train.prepare(cfg)
    sentiment.run_experiment(
        cfg, workdir, experiment="imdb_glove", resume=resume, progress=progress,
        device_settings=device_settings,
        reference="document 002 (Chollet 6.1.3): pretrained GloVe 100d frozen vs learned "
                  "embedding, 200 training samples, maxlen 100; qualitative: pretrained "
                  "~0.56 validation accuracy, learned ~0.52, both overfit",
        models=models, data=data, data_description=description)


def main(argv: list[str] | None = None) -> int:
    return run_main(argv, experiment="imdb_glove",
                    description=config.__doc__.split("\n\n")[0], config_cls=GloveConfig,
                    default_workdir="runs/imdb_glove", run=run,
                    jobs=lambda cfg: cfg.seeds, local=config.LOCAL)
