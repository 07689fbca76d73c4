"""Character-level language modelling for the shared runner: the corpus, the model, text
sampled after each iteration, and each seed's held-out and generated-text figures."""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import numpy as np

from experiments.char_textgen import config as textgen_config
from experiments.char_textgen import report
from experiments.char_textgen.config import TextGenConfig, build_model
from experiments.char_textgen.report import unigram_bigram_perplexity
from rnn_attn.config import ConfigError
from rnn_attn.data import chars
from rnn_attn.experiment.spec import Experiment, Setup, Sweepable, describe
from rnn_attn.models.generation import make_generator
from rnn_attn.parallel.mesh import fetch
from rnn_attn.train import callbacks, engine, feed, objectives, optimizers


def load_corpus(config: TextGenConfig) -> chars.Corpus:
    try:
        corpus = chars.load_corpus(
            config.text_path(), held_out=config.held_out, seqlen=config.seqlen, step=config.step
        )
    except (FileNotFoundError, ValueError) as e:
        raise ConfigError(str(e)) from None
    if config.top_k > corpus.vocab.size:  # found now, not by the sampler after training
        raise ConfigError(
            f"--top-k {config.top_k} exceeds the book's {corpus.vocab.size} distinct "
            f"characters; expected at most {corpus.vocab.size} (0: all)"
        )
    return corpus


class Sampler:
    """After every iteration, generates ``preds_per_iteration`` characters per seed from a
    random training window (the seed's own generator of windows and sampling keys), and
    prints them with the held-out figures; ``final`` generates ``eval_chars`` at the end."""

    def __init__(self, config: TextGenConfig, corpus: chars.Corpus, model):
        self.config, self.corpus = config, corpus
        self.generator = functools.partial(
            make_generator, model.apply, temperature=config.temperature, top_k=config.top_k
        )
        self.short = self.generator(config.preds_per_iteration)
        self.keys = {s: jax.random.PRNGKey(10_000 + s) for s in config.seed_numbers}
        self.samples: dict[int, list[dict[str, Any]]] = {s: [] for s in config.seed_numbers}

    def window(self, seed: int, draw: int) -> np.ndarray:
        """The training window of the seed's ``draw``-th sample (0-based): the ``draw``-th
        number of ``default_rng(seed)``, a pure function of both, so a resumed run draws
        the windows an uninterrupted one does (a generator kept in memory restarted at
        the first window after a resume, and the final sample changed)."""
        windows = self.corpus.train["inputs"]
        rng = np.random.default_rng(seed)
        for _ in range(draw):
            rng.integers(len(windows))
        return windows[int(rng.integers(len(windows)))]

    def generate(self, generator, params, seed: int, key, draw: int) -> tuple[str, str, float, int]:
        """From a random training window: ``(window, text, real-word share, tokens)``."""
        window = self.window(seed, draw)
        generated = self.corpus.vocab.decode(generator(params, window, key))
        fraction, scored = chars.real_word_fraction(generated, self.corpus.words)
        return self.corpus.vocab.decode(window), generated, fraction, scored

    def __call__(self, run) -> None:
        params = fetch(run.state.params)
        for i, seed in enumerate(run.config.seeds):
            if not run.recorded(i):
                continue
            logs = run.logs[i]
            seed_text, generated, fraction, _ = self.generate(
                self.short,
                jax.tree.map(lambda x, i=i: x[i], params),
                seed,
                jax.random.fold_in(self.keys[seed], run.epoch),
                run.epoch - 1,  # one sample per iteration before this one
            )
            ppl = math.exp(logs["val_cross_entropy"])
            self.samples[seed].append(
                {
                    "iteration": run.epoch,
                    "seed_window": seed_text,
                    "generated": generated,
                    "real_word_fraction": fraction,
                    "heldout_perplexity": ppl,
                }
            )
            report.print_iteration(seed, run.epoch, logs, self.samples[seed][-1])

    def final(self, seed: int, params) -> tuple[str, str, float, int]:
        return self.generate(
            self.generator(self.config.eval_chars),
            params,
            seed,
            jax.random.fold_in(self.keys[seed], 99_999),
            self.config.iterations,  # after one sample per iteration
        )


def optimizer(cfg: TextGenConfig):
    """``--optimizer`` with Keras's defaults at ``--learning-rate``."""
    return optimizers.keras_optimizer(cfg.optimizer, cfg.learning_rate)


def build(cfg: TextGenConfig, ctx) -> Setup:
    """The book's windows, the model, RMSprop; one epoch per iteration, every held-out
    window scored after each (``eval_batch_size`` 4096: no effect on the figures)."""
    corpus = load_corpus(cfg)
    model = build_model(cfg, corpus.vocab.size)
    sampler = Sampler(cfg, corpus, model)
    references = unigram_bigram_perplexity(
        corpus.vocab.encode(corpus.train_text), corpus.vocab.size
    )
    return Setup(
        models={cfg.model_name: model},
        data=engine.FitData(feed.Split(corpus.train), feed.Split(corpus.held_out)),
        objective=objectives.categorical_classification(),
        optimizer=optimizer(cfg),
        fit={"epochs": cfg.iterations, "eval_batch_size": 4096, "monitor": "val_loss"},
        callbacks=lambda name: [callbacks.EpochEnd(sampler)],
        data_description=f"{len(corpus.train['targets']):,} training windows, "
        f"{len(corpus.held_out['targets']):,} held-out, "
        f"{corpus.vocab.size} characters",
        record={"reference_perplexities_on_training_text": references},
        extras=sampler,
        data_files=[cfg.text_path()],
    )


def evaluate(cfg: TextGenConfig, setup: Setup, name: str, fit: engine.FitResult) -> dict:
    """Each seed's figures after the last iteration, its samples, and ``eval_chars``
    characters generated at the end, scored for real words."""
    sampler: Sampler = setup.extras
    finals = [sampler.final(seed, fit.seed_params(i)) for i, seed in enumerate(fit.seeds)]
    ce = [h["val_cross_entropy"] for h in fit.history]
    per_seed = {
        "heldout_cross_entropy_final": [c[-1] for c in ce],
        "heldout_perplexity_final": [math.exp(c[-1]) for c in ce],
        "heldout_perplexity_best": [math.exp(min(c)) for c in ce],
        "heldout_accuracy_final": [h["val_accuracy"][-1] for h in fit.history],
        "train_loss_final": [h["loss"][-1] for h in fit.history],
        "real_word_fraction": [f[2] for f in finals],
        "real_word_tokens_scored": [f[3] for f in finals],
    }
    return {
        "per_seed": per_seed,
        "history_per_seed": list(fit.history),
        "samples_per_seed": [sampler.samples[s] for s in fit.seeds],
        "final_sample_per_seed": [{"seed_window": f[0], "generated": f[1]} for f in finals],
    }


EXPERIMENT = Experiment(
    name="char_textgen",
    config=TextGenConfig,
    build=build,
    evaluate=evaluate,
    metrics=report.METRICS,
    report=report.report,
    reference=report.REFERENCE,
    description=describe(textgen_config.__doc__),
    default_workdir="runs/char_textgen",
    local=textgen_config.LOCAL,
    # Selected on the held-out windows (the book has no test split).
    sweep=Sweepable(optimizer, model_arguments=("dropout", "bias_l1", "bias_l2")),
)
