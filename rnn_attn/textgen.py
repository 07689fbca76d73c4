"""Character-level text generation (reference document 003), over seeds.

The book's body is normalized as document 003 does, its last ``held_out`` fraction is
kept for measuring (the document trains on everything and measures nothing), and the
model trains for ``iterations`` epochs on windows of ``seqlen`` characters. After each
iteration it generates ``preds_per_iteration`` characters from a random training
window (a compiled sampling loop) and reports the held-out per-character cross-entropy
and perplexity; at the end it generates ``eval_chars`` characters and scores the share
of generated words that are words of the book.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from rnn_attn import distributed
from rnn_attn.config import (
    ConfigError,
    check_fit_flags,
    checkpoint_every_field,
    cpu_devices_field,
    field,
    on_nonfinite_field,
    require,
)
from rnn_attn.data import chars
from rnn_attn.generation import make_generator
from rnn_attn.models.char_lm import INPUTS, CharLSTM
from rnn_attn.parallel.mesh import fetch
from rnn_attn.results import print_written, write_results
from rnn_attn.train import engine
from rnn_attn.train.callbacks import EpochEnd
from rnn_attn.train.feed import Split
from rnn_attn.train.objectives import categorical_classification
from rnn_attn.train.optimizers import KERAS_OPTIMIZERS, keras_optimizer
from rnn_attn.train.runs import train_models

BOOK = "alice_in_wonderland_pg11.txt"


@dataclasses.dataclass(frozen=True)
class TextGenConfig:
    """Defaults: document 003."""

    text: str = field("", f"the book (default: {BOOK} in $RNN_ATTN_DATA or ../shared/data)")
    seeds: int = field(1, "independent repeats")
    first_seed: int = field(0, "seed of the first repeat")
    iterations: int = field(25, "iterations, each one epoch over the training windows")
    seqlen: int = field(10, "characters per input window")
    step: int = field(1, "stride between windows")
    held_out: float = field(0.1, "fraction of the text (its end) held out for measuring")
    units: int = field(128, "LSTM units")
    inputs: str = field("one_hot", f"input encoding, one of {INPUTS}")
    embed_dim: int = field(32, "embedding width with --inputs embedding")
    dropout: float = field(0.1, "dropout on the LSTM's inputs (document 003: 0.1)")
    bias_l1: float = field(0.01, "L1 penalty on the LSTM bias (document 003: 0.01)")
    bias_l2: float = field(0.01, "L2 penalty on the LSTM bias (document 003: 0.01)")
    optimizer: str = field("rmsprop", f"one of {KERAS_OPTIMIZERS} (Keras defaults)")
    learning_rate: float = field(1e-3, "learning rate")
    batch_size: int = field(128, "training batch size")
    checkpoint_every: int = checkpoint_every_field()
    on_nonfinite: str = on_nonfinite_field()
    preds_per_iteration: int = field(100, "characters generated after each iteration")
    eval_chars: int = field(1000, "characters generated at the end to score real words")
    temperature: float = field(0.0, "0: greedy (document 003); > 0: sample at this temperature")
    top_k: int = field(0, "sample among the k likeliest characters (0: all)")
    cpu_devices: int = cpu_devices_field()

    def validate(self) -> TextGenConfig:
        check_fit_flags(self)
        for name in ("seeds", "iterations", "seqlen", "step", "units", "embed_dim",
                     "batch_size", "preds_per_iteration", "eval_chars"):
            value = getattr(self, name)
            require(isinstance(value, int) and value >= 1,
                    f"--{name.replace('_', '-')} must be an integer >= 1, got {value!r}")
        require(0.0 < self.held_out < 0.5, f"--held-out must be in (0, 0.5), got {self.held_out}")
        require(0.0 <= self.dropout < 1.0, f"--dropout must be in [0, 1), got {self.dropout}")
        require(self.bias_l1 >= 0 and self.bias_l2 >= 0,
                f"--bias-l1/--bias-l2 must be >= 0, got {self.bias_l1}, {self.bias_l2}")
        require(self.inputs in INPUTS, f"--inputs must be one of {INPUTS}, got {self.inputs!r}")
        require(self.optimizer in KERAS_OPTIMIZERS,
                f"unknown optimizer {self.optimizer!r}; expected one of {KERAS_OPTIMIZERS}")
        require(self.learning_rate > 0, f"--learning-rate must be > 0, got {self.learning_rate}")
        require(self.temperature >= 0, f"--temperature must be >= 0, got {self.temperature}")
        require(self.top_k >= 0, f"--top-k must be >= 0, got {self.top_k}")
        require(self.first_seed >= 0, f"--first-seed must be >= 0, got {self.first_seed}")
        require(self.cpu_devices >= 0, f"--cpu-devices must be >= 0, got {self.cpu_devices}")
        return self

    def text_path(self) -> str:
        from rnn_attn.sentiment import default_data_dir

        return self.text or os.path.join(default_data_dir(), BOOK)


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
    return Corpus(vocab, {"inputs": x, "targets": y}, {"inputs": hx, "targets": hy},
                  frozenset(chars.vocabulary_words(text)), train_text)


def build_model(config: TextGenConfig, vocab_size: int) -> CharLSTM:
    return CharLSTM(vocab_size, units=config.units, inputs=config.inputs,
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

    def __init__(self, config: TextGenConfig, corpus: Corpus, model: CharLSTM):
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
        {"char_lstm": distributed.with_compute_dtype(model, settings.compute_dtype)},
        categorical_classification(),
        engine.FitData(Split(corpus.train), Split(corpus.held_out)), fit,
        optimizer=keras_optimizer(config.optimizer, config.learning_rate),
        mesh=distributed.run_mesh(settings, config.seeds), workdir=workdir, record=record,
        resume=resume, progress=progress, callbacks=lambda name: [EpochEnd(sampler)],
    )["char_lstm"]
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


def run_experiment(config: TextGenConfig, workdir: str, *, resume: bool = False,
                   progress: bool = True, device_settings=None) -> dict:
    from rnn_attn import devices, plots, stats

    start = time.perf_counter()
    corpus = load_corpus(config)
    record = dataclasses.asdict(config)
    references = unigram_bigram_perplexity(corpus.vocab.encode(corpus.train_text),
                                           corpus.vocab.size)
    print(f"char_textgen: {len(corpus.train['targets']):,} training windows, "
          f"{len(corpus.held_out['targets']):,} held-out, {corpus.vocab.size} characters; "
          f"reference perplexities on the training text: unigram {references['unigram']:.2f}, "
          f"bigram {references['bigram']:.2f}")
    runs = train_seeds(config, corpus, workdir=workdir, resume=resume, progress=progress,
                       record=record, device_settings=device_settings)
    per_seed = {k: [r["metrics"][k] for r in runs] for k in runs[0]["metrics"]}
    summary = ({k: stats.describe(v) for k, v in per_seed.items()} if config.seeds >= 2
               else None)
    if not distributed.is_primary():  # process 0 writes the report and the files
        return {"experiment": "char_textgen", "per_seed": per_seed}
    files = {"history": plots.history(
        {"char_lstm": [r["history"] for r in runs]}, os.path.join(workdir, "history.png"),
        metrics=("cross_entropy", "accuracy"),
        title="char_textgen: training (dashed) vs held-out (solid) per character")}
    results = {
        "experiment": "char_textgen",
        "reference": "document 003: 25 iterations, 100 greedy characters after each; "
                     "qualitative (text should become word-like)",
        "config": record,
        "devices": devices.describe_devices(),
        "metrics": {
            "heldout_cross_entropy_final": "HELD-OUT text (the book's last "
                                           f"{config.held_out:.0%}), nats per character",
            "heldout_perplexity_final": "exp of that",
            "real_word_fraction": f"share of the tokens of {config.eval_chars} generated "
                                  "characters that are words of the book",
            "train_loss_final": "TRAINING loss of the last iteration (includes the bias "
                                "penalty, dropout on)",
        },
        "reference_perplexities_on_training_text": references,
        "models": {"char_lstm": {"seeds": [r["seed"] for r in runs], "per_seed": per_seed,
                                 "summary": summary,
                                 "history_per_seed": [r["history"] for r in runs],
                                 "samples_per_seed": [r["samples"] for r in runs],
                                 "final_sample_per_seed": [r["final_sample"] for r in runs]}},
        "timing_seconds": round(time.perf_counter() - start, 1),
        "files": files,
    }
    path = write_results(workdir, results)
    print(f"\nAfter {config.iterations} iterations (per seed):")
    for r in runs:
        m = r["metrics"]
        print(f"  seed {r['seed']}: HELD-OUT perplexity {m['heldout_perplexity_final']:.3f} "
              f"({m['heldout_cross_entropy_final']:.4f} nats/char), real words "
              f"{100 * m['real_word_fraction']:.1f}% of {m['real_word_tokens_scored']} "
              f"generated tokens")
        print(f"  generated from {r['final_sample']['seed_window']!r}:\n    "
              f"{r['final_sample']['generated'][:300]}")
    if summary:
        for k in ("heldout_perplexity_final", "real_word_fraction"):
            s = summary[k]
            print(f"  {k}: mean {s['mean']:.4f}, 95% CI [{s['ci_t_low']:.4f}, "
                  f"{s['ci_t_high']:.4f}] over {s['n']} seeds")
    print_written(path, files, results["timing_seconds"])
    return results
