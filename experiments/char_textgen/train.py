"""Character-level language modelling over seeds: the corpus, the model, training with
samples after each iteration, and the held-out and generated-text figures."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from experiments.char_textgen.config import TextGenConfig
from rnn_attn.config import (
    ConfigError,
)
from rnn_attn.data import chars
from rnn_attn.models.char_lm import CharRNN
from rnn_attn.models.generation import make_generator
from rnn_attn.parallel import distributed
from rnn_attn.parallel.mesh import fetch
from rnn_attn.train import engine
from rnn_attn.train.callbacks import EpochEnd
from rnn_attn.train.feed import Split
from rnn_attn.train.objectives import categorical_classification
from rnn_attn.train.optimizers import keras_optimizer
from rnn_attn.train.runs import train_models


@dataclasses.dataclass(frozen=True)
class Corpus:
    vocab: chars.CharVocab
    train: dict[str, np.ndarray]
    held_out: dict[str, np.ndarray]
    words: frozenset[str]
    train_text: str


def load_corpus(config: TextGenConfig) -> Corpus:
    try:
        text = chars.normalize_text(chars.read_book_body(config.text_path()))
        train_text, held_text = chars.split_text(text, config.held_out)
        vocab = chars.CharVocab.from_text(text)
        x, y = chars.windows(vocab.encode(train_text), config.seqlen, config.step)
        hx, hy = chars.windows(vocab.encode(held_text), config.seqlen, 1)
    except (FileNotFoundError, ValueError) as e:
        raise ConfigError(str(e)) from None
    if config.top_k > vocab.size:  # found now, not by the sampler after training
        raise ConfigError(f"--top-k {config.top_k} exceeds the book's {vocab.size} distinct "
                          f"characters; expected at most {vocab.size} (0: all)")
    return Corpus(vocab, {"inputs": x, "targets": y}, {"inputs": hx, "targets": hy},
                  frozenset(chars.vocabulary_words(text)), train_text)


def build_model(config: TextGenConfig, vocab_size: int) -> CharRNN:
    return CharRNN(vocab_size, cell_kind=config.cell, units=config.units, inputs=config.inputs,
                    embed_dim=config.embed_dim, dropout=config.dropout,
                    bias_l1=config.bias_l1, bias_l2=config.bias_l2)


def generate_text(generator, params, corpus: Corpus, rng: np.random.Generator, key):
    """``(seed window, generated text)`` from a random training window."""
    start = int(rng.integers(len(corpus.train["inputs"])))
    window = corpus.train["inputs"][start]
    return corpus.vocab.decode(window), corpus.vocab.decode(generator(params, window, key))


class Sampler:
    """After every iteration, generates ``preds_per_iteration`` characters per seed from a
    random training window (the seed's own generator of windows and sampling keys), and
    prints them with the held-out figures."""

    def __init__(self, config: TextGenConfig, corpus: Corpus, model: CharRNN):
        self.config, self.corpus = config, corpus
        self.next_logits = lambda params, window: model.apply(params, window)  # noqa: E731
        self.short = make_generator(self.next_logits, config.preds_per_iteration,
                                    temperature=config.temperature, top_k=config.top_k)
        seeds = [config.first_seed + i for i in range(config.seeds)]
        self.rngs = {s: np.random.default_rng(s) for s in seeds}
        self.keys = {s: jax.random.PRNGKey(10_000 + s) for s in seeds}
        self.samples: dict[int, list[dict[str, Any]]] = {s: [] for s in seeds}

    def __call__(self, run) -> None:
        params = fetch(run.state.params)
        for i, seed in enumerate(run.config.seeds):
            if not run.recorded(i):
                continue
            logs = run.logs[i]
            seed_params = jax.tree.map(lambda x, i=i: x[i], params)
            seed_text, generated = generate_text(
                self.short, seed_params, self.corpus, self.rngs[seed],
                jax.random.fold_in(self.keys[seed], run.epoch))
            fraction, _ = chars.real_word_fraction(generated, self.corpus.words)
            ppl = math.exp(logs["val_cross_entropy"])
            self.samples[seed].append({
                "iteration": run.epoch, "seed_window": seed_text, "generated": generated,
                "real_word_fraction": fraction, "heldout_perplexity": ppl})
            print(f"[seed {seed}] iteration {run.epoch}: HELD-OUT cross-entropy "
                  f"{logs['val_cross_entropy']:.4f} nats/char, perplexity {ppl:.3f}, real words "
                  f"{100 * fraction:.0f}%; training loss {logs['loss']:.4f}\n"
                  f"  {seed_text!r} -> {generated!r}", flush=True)

    def final(self, seed: int, params) -> dict[str, Any]:
        """``eval_chars`` characters from the end of training, and the share of real words."""
        generator = make_generator(self.next_logits, self.config.eval_chars,
                                   temperature=self.config.temperature, top_k=self.config.top_k)
        seed_text, generated = generate_text(generator, params, self.corpus, self.rngs[seed],
                                             jax.random.fold_in(self.keys[seed], 99_999))
        fraction, scored = chars.real_word_fraction(generated, self.corpus.words)
        return {"seed_window": seed_text, "generated": generated,
                "real_word_fraction": fraction, "real_word_tokens_scored": scored}


def train_seeds(config: TextGenConfig, corpus: Corpus, *, workdir: str | None, resume: bool,
                progress: bool, record: Mapping[str, Any], device_settings=None) -> list[dict]:
    """Every seed in one program; per seed its history, samples and final figures."""
    settings = device_settings or distributed.DeviceSettings()
    model = build_model(config, corpus.vocab.size)
    sampler = Sampler(config, corpus, model)
    fit = engine.FitConfig(
        seeds=tuple(config.first_seed + i for i in range(config.seeds)),
        epochs=config.iterations, batch_size=config.batch_size, eval_batch_size=4096,
        monitor="val_loss", on_nonfinite=config.on_nonfinite,
        checkpoint_every=config.checkpoint_every)
    result = train_models(
        {config.model_name: distributed.with_compute_dtype(model, settings.compute_dtype)},
        categorical_classification(),
        engine.FitData(Split(corpus.train), Split(corpus.held_out)), fit,
        optimizer=keras_optimizer(config.optimizer, config.learning_rate),
        mesh=distributed.run_mesh(settings, config.seeds), workdir=workdir, record=record,
        resume=resume, progress=progress, callbacks=lambda name: [EpochEnd(sampler)],
    )[config.model_name]
    runs = []
    for i, seed in enumerate(result.seeds):
        final = sampler.final(seed, result.seed_params(i))
        h = result.history[i]
        runs.append({
            "seed": seed, "history": h, "samples": sampler.samples[seed],
            "final_sample": {k: final[k] for k in ("seed_window", "generated")},
            "metrics": {
                "heldout_cross_entropy_final": h["val_cross_entropy"][-1],
                "heldout_perplexity_final": math.exp(h["val_cross_entropy"][-1]),
                "heldout_perplexity_best": math.exp(min(h["val_cross_entropy"])),
                "heldout_accuracy_final": h["val_accuracy"][-1],
                "train_loss_final": h["loss"][-1],
                "real_word_fraction": final["real_word_fraction"],
                "real_word_tokens_scored": final["real_word_tokens_scored"],
            }})
    return runs


def unigram_bigram_perplexity(train_ids: np.ndarray, vocab_size: int) -> dict[str, float]:
    """Reference points: per-character perplexity of unigram and bigram counts models on
    their own training text (maximum likelihood, no smoothing)."""
    counts = np.bincount(train_ids, minlength=vocab_size).astype(float)
    p = counts / counts.sum()
    unigram = math.exp(-(counts[counts > 0] * np.log(p[counts > 0])).sum() / counts.sum())
    pairs = np.zeros((vocab_size, vocab_size))
    np.add.at(pairs, (train_ids[:-1], train_ids[1:]), 1.0)
    cond = pairs / np.maximum(pairs.sum(1, keepdims=True), 1.0)
    nz = pairs > 0
    bigram = math.exp(-(pairs[nz] * np.log(cond[nz])).sum() / pairs.sum())
    return {"unigram": unigram, "bigram": bigram}
