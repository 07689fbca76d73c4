"""What character-level text generation shows: the reference perplexities, the history
plot and the printed report."""

from __future__ import annotations

import math
import os

import numpy as np

from rnn_attn.analysis import plots

REFERENCE = (
    "document 003: 25 iterations, 100 greedy characters after each; qualitative "
    "(text should become word-like)"
)
METRICS = {
    "heldout_cross_entropy_final": "HELD-OUT text (the book's last --held-out fraction) after "
    "the last iteration, nats per character",
    "heldout_perplexity_final": "exp of that",
    "heldout_perplexity_best": "the lowest HELD-OUT perplexity over the iterations",
    "heldout_accuracy_final": "HELD-OUT next-character accuracy after the last iteration",
    "train_loss_final": "TRAINING loss of the last iteration (includes the bias penalty, "
    "dropout on)",
    "real_word_fraction": "share of the tokens of --eval-chars characters generated at the "
    "end that are words of the book",
    "real_word_tokens_scored": "how many generated tokens that share counts",
}


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


def print_iteration(seed: int, iteration: int, logs: dict, sample: dict) -> None:
    """One seed's held-out figures after an iteration and the text it generated."""
    print(
        f"[seed {seed}] iteration {iteration}: HELD-OUT cross-entropy "
        f"{logs['val_cross_entropy']:.4f} nats/char, perplexity "
        f"{sample['heldout_perplexity']:.3f}, real words "
        f"{100 * sample['real_word_fraction']:.0f}%; training loss {logs['loss']:.4f}\n"
        f"  {sample['seed_window']!r} -> {sample['generated']!r}",
        flush=True,
    )


def print_report(cfg, results: dict) -> None:
    """Each seed's HELD-OUT perplexity and final sample, the means over seeds, and the
    reference perplexities for scale."""
    model = results["models"][cfg.model_name]
    m, summary = model["per_seed"], model["summary"]
    print(f"\nAfter {cfg.iterations} iterations (per seed):")
    for i, seed in enumerate(model["seeds"]):
        final = model["final_sample_per_seed"][i]
        print(
            f"  seed {seed}: HELD-OUT perplexity {m['heldout_perplexity_final'][i]:.3f} "
            f"({m['heldout_cross_entropy_final'][i]:.4f} nats/char), real words "
            f"{100 * m['real_word_fraction'][i]:.1f}% of {m['real_word_tokens_scored'][i]} "
            f"generated tokens"
        )
        print(f"  generated from {final['seed_window']!r}:\n    {final['generated'][:300]}")
    for k in ("heldout_perplexity_final", "real_word_fraction") if summary else ():
        s = summary[k]
        print(
            f"  {k}: mean {s['mean']:.4f}, 95% CI [{s['ci_t_low']:.4f}, "
            f"{s['ci_t_high']:.4f}] over {s['n']} seeds"
        )
    refs = results["reference_perplexities_on_training_text"]
    print(
        f"  for scale, perplexities of counts models on the training text: unigram "
        f"{refs['unigram']:.2f}, bigram {refs['bigram']:.2f}"
    )


def report(cfg, ctx, setup, results: dict, fits: dict) -> dict[str, str]:
    """``history.png`` (cross-entropy and accuracy per iteration) and the printed report."""
    histories = {n: m["history_per_seed"] for n, m in results["models"].items()}
    files = {
        "history": plots.history(
            histories,
            os.path.join(ctx.workdir, "history.png"),
            metrics=("cross_entropy", "accuracy"),
            title="char_textgen: training (dashed) vs held-out (solid) per character",
        )
    }
    print_report(cfg, results)
    return files
