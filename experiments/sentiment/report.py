"""What an IMDB comparison shows: per-model reports, the comparison, plots, the printout."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from experiments.sentiment.config import SentimentConfig
from experiments.sentiment.train import SeedRun, generalization_gap, per_seed_metrics

HEADLINE = "val_accuracy_best"


def model_report(config, seed_runs: list[SeedRun], parameters: int) -> dict[str, Any]:
    """One model's per-seed figures, per-epoch histories and (2+ seeds) summaries."""
    from rnn_attn.analysis import stats

    per_seed = per_seed_metrics(seed_runs)
    report = {"seeds": [r.seed for r in seed_runs], "parameters": parameters,
              "per_seed": per_seed, "history_per_seed": [r.history for r in seed_runs],
              "train_validation_gap_by_epoch": generalization_gap(seed_runs)}
    if config.seeds >= 2:
        report["summary"] = {k: stats.describe(per_seed[k]) for k in (
            "val_accuracy_best", "val_accuracy_final", "train_accuracy_final")}
    return report


def compare_models(config, reports: Mapping[str, dict]) -> dict | None:
    """The first model against the others over seeds (best-epoch and final validation
    accuracy); None with one model or one seed."""
    from rnn_attn.analysis import stats

    names = list(reports)
    if len(names) < 2 or config.seeds < 2:
        return None
    comparison = {}
    for metric in ("val_accuracy_best", "val_accuracy_final"):
        scores = {n: reports[n]["per_seed"][metric] for n in names}
        comparison[metric] = (stats.compare(scores[names[1]], scores[names[0]],
                                            names=(names[1], names[0]))
                              if len(names) == 2 else
                              stats.compare_many(scores, baseline=names[0]))
    return comparison


def write_plots(experiment: str, config, workdir: str, runs: Mapping[str, list[SeedRun]],
                reports: Mapping[str, dict]) -> dict[str, str]:
    from rnn_attn.analysis import plots

    return {
        "history": plots.history(
            {n: [r.history for r in rs] for n, rs in runs.items()},
            os.path.join(workdir, "history.png"),
            title=f"{experiment}: training (dashed) vs validation (solid), "
                  f"mean and min-max over {config.seeds} seed(s)"),
        "accuracy_by_seed": plots.scores_by_seed(
            {n: 100 * np.asarray(m["per_seed"][HEADLINE]) for n, m in reports.items()},
            os.path.join(workdir, "accuracy_by_seed.png"),
            ylabel="validation accuracy at the best epoch (%)",
            title=f"{experiment}: best-epoch validation accuracy per seed"),
    }


def metric_notes(config, data_description: str) -> dict[str, str]:
    return {
        "val_accuracy_best": "validation accuracy at the epoch with the best "
                             f"{config.monitor} (data: {data_description})",
        "best_epoch": f"that epoch (1-based), chosen by {config.monitor}",
        "val_accuracy_final": "validation accuracy after the last epoch",
        "val_loss_best / val_loss_final": "validation loss (binary cross-entropy) there",
        "train_accuracy_final / train_loss_final": "TRAINING data: running average over the "
                                                    "last epoch, dropout on (as Keras prints "
                                                    "it); not a generalization figure",
    }


def print_report(config: SentimentConfig, models: Mapping[str, dict], comparison, stats) -> None:
    names = list(models)
    print("\nPer seed (VALIDATION accuracy %, best epoch by "
          f"{config.monitor} / after the last epoch; TRAINING accuracy after the last epoch):")
    for name in names:
        m = models[name]["per_seed"]
        for i, seed in enumerate(models[name]["seeds"]):
            print(f"  {name:>24} seed {seed}: val best {100 * m['val_accuracy_best'][i]:.2f} "
                  f"(epoch {m['best_epoch'][i]}), val final "
                  f"{100 * m['val_accuracy_final'][i]:.2f}, train final "
                  f"{100 * m['train_accuracy_final'][i]:.2f}")
    print("\nTraining vs validation accuracy by epoch (mean over seeds, %):")
    for name in names:
        rows = models[name]["train_validation_gap_by_epoch"]
        print(f"  {name}:")
        print("    epoch  train    val    gap")
        for r in rows:
            print(f"    {r['epoch']:5d}  {100 * r['train_accuracy']:5.2f}  "
                  f"{100 * r['val_accuracy']:5.2f}  {100 * r['gap']:+5.2f}")
    if comparison:
        for metric, result in comparison.items():
            label = ("VALIDATION accuracy at the best epoch" if metric == "val_accuracy_best"
                     else "VALIDATION accuracy after the last epoch")
            print(f"\nComparison over seeds, {label}:")
            print(stats.format_comparison(result))
    elif config.seeds < 2:
        print("\n(one seed: no intervals or tests; use --seeds 3 or more to compare)")


# -- the documents' recipes for single models (experiments.imdb) --------------------------------
