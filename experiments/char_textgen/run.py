"""Character-level text generation from its config to results.json (see ``config.py``)."""

from __future__ import annotations

import dataclasses
import os
import time

from experiments._common import run_main
from experiments.char_textgen import config as textgen_config
from experiments.char_textgen.config import TextGenConfig
from experiments.char_textgen.train import load_corpus, train_seeds, unigram_bigram_perplexity
from rnn_attn.analysis import plots, stats
from rnn_attn.analysis.results import print_written, write_results
from rnn_attn.parallel import devices, distributed


def run_experiment(config: TextGenConfig, workdir: str, *, resume: bool = False,
                   progress: bool = True, device_settings=None) -> dict:
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
    if not distributed.is_primary():  # process 0 writes the report and the files
        return {"experiment": "char_textgen", "per_seed": per_seed}
    files = {"history": plots.history(
        {config.model_name: [r["history"] for r in runs]}, os.path.join(workdir, "history.png"),
        metrics=("cross_entropy", "accuracy"),
        title="char_textgen: training (dashed) vs held-out (solid) per character")}
    results = build_results(config, runs, per_seed, references)
    results.update(timing_seconds=round(time.perf_counter() - start, 1), files=files)
    path = write_results(workdir, results)
    print_report(config, runs, results["models"][config.model_name]["summary"])
    print_written(path, files, results["timing_seconds"])
    return results


def build_results(config: TextGenConfig, runs: list[dict], per_seed: dict[str, list],
                  references: dict[str, float]) -> dict:
    """``results.json`` without the timing and the files: the config, what each metric
    means, and ``models.char_<cell>.per_seed.<metric>`` with the samples."""
    summary = ({k: stats.describe(v) for k, v in per_seed.items()} if config.seeds >= 2
               else None)
    return {
        "experiment": "char_textgen",
        "reference": "document 003: 25 iterations, 100 greedy characters after each; "
                     "qualitative (text should become word-like)",
        "config": dataclasses.asdict(config),
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
        "models": {config.model_name: {
            "seeds": [r["seed"] for r in runs], "per_seed": per_seed, "summary": summary,
            "history_per_seed": [r["history"] for r in runs],
            "samples_per_seed": [r["samples"] for r in runs],
            "final_sample_per_seed": [r["final_sample"] for r in runs]}},
    }


def print_report(config: TextGenConfig, runs: list[dict], summary: dict | None) -> None:
    """Each seed's HELD-OUT perplexity and final sample, then the means over seeds."""
    print(f"\nAfter {config.iterations} iterations (per seed):")
    for r in runs:
        m = r["metrics"]
        print(f"  seed {r['seed']}: HELD-OUT perplexity {m['heldout_perplexity_final']:.3f} "
              f"({m['heldout_cross_entropy_final']:.4f} nats/char), real words "
              f"{100 * m['real_word_fraction']:.1f}% of {m['real_word_tokens_scored']} "
              f"generated tokens")
        print(f"  generated from {r['final_sample']['seed_window']!r}:\n    "
              f"{r['final_sample']['generated'][:300]}")
    for k in ("heldout_perplexity_final", "real_word_fraction") if summary else ():
        s = summary[k]
        print(f"  {k}: mean {s['mean']:.4f}, 95% CI [{s['ci_t_low']:.4f}, "
              f"{s['ci_t_high']:.4f}] over {s['n']} seeds")


def main(argv: list[str] | None = None) -> int:
    return run_main(argv, experiment="char_textgen",
                    description=textgen_config.__doc__.split("\n\n")[0],
                    config_cls=TextGenConfig, default_workdir="runs/char_textgen",
                    run=run_experiment, jobs=lambda cfg: cfg.seeds, local=textgen_config.LOCAL)
