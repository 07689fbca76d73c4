"""Character-level language modelling for the shared runner: the corpus, the model, text
sampled after each iteration (``train.text_samples``, kept in the checkpoints), and each
seed's held-out and generated-text figures."""

from __future__ import annotations

import math

from experiments.char_textgen import config as textgen_config
from experiments.char_textgen import report
from experiments.char_textgen.config import TextGenConfig, build_model
from experiments.char_textgen.report import unigram_bigram_perplexity
from rnn_attn.config import ConfigError
from rnn_attn.data import chars
from rnn_attn.experiment.spec import Experiment, Setup, Sweepable, describe
from rnn_attn.train import engine, feed, objectives, optimizers
from rnn_attn.train.text_samples import TextSamples, recorded_samples


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


def optimizer(cfg: TextGenConfig):
    """``--optimizer`` with Keras's defaults at ``--learning-rate``."""
    return optimizers.keras_optimizer(cfg.optimizer, cfg.learning_rate)


def build(cfg: TextGenConfig, ctx) -> Setup:
    """The book's windows, the model, RMSprop; one epoch per iteration, every held-out
    window scored after each (``eval_batch_size`` 4096: no effect on the figures)."""
    corpus = load_corpus(cfg)
    model = build_model(cfg, corpus.vocab.size)
    sampler = TextSamples(
        corpus,
        model,
        cfg.preds_per_iteration,
        temperature=cfg.temperature,
        top_k=cfg.top_k,
        announce=report.print_iteration,
    )
    references = unigram_bigram_perplexity(
        corpus.vocab.encode(corpus.train_text), corpus.vocab.size
    )
    return Setup(
        models={cfg.model_name: model},
        data=engine.FitData(feed.Split(corpus.train), feed.Split(corpus.held_out)),
        objective=objectives.categorical_classification(),
        optimizer=optimizer(cfg),
        fit={"epochs": cfg.iterations, "eval_batch_size": 4096, "monitor": "val_loss"},
        callbacks=lambda name: [sampler],
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
    sampler: TextSamples = setup.extras
    finals = [
        sampler.final(seed, fit.seed_params(i), cfg.eval_chars, cfg.iterations)
        for i, seed in enumerate(fit.seeds)
    ]
    ce = [h["val_cross_entropy"] for h in fit.history]
    per_seed = {
        "heldout_cross_entropy_final": [c[-1] for c in ce],
        "heldout_perplexity_final": [math.exp(c[-1]) for c in ce],
        "heldout_perplexity_best": [math.exp(min(c)) for c in ce],
        "heldout_accuracy_final": [h["val_accuracy"][-1] for h in fit.history],
        "train_loss_final": [h["loss"][-1] for h in fit.history],
        "real_word_fraction": [f["real_word_fraction"] for f in finals],
        "real_word_tokens_scored": [f["real_word_tokens_scored"] for f in finals],
    }
    return {
        "per_seed": per_seed,
        "history_per_seed": list(fit.history),
        "samples_per_seed": recorded_samples(fit.records, fit.seeds),
        "final_sample_per_seed": [
            {"seed_window": f["seed_window"], "generated": f["generated"]} for f in finals
        ],
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
