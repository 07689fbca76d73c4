"""What an IMDB comparison shows: the plots and the printed report."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from rnn_attn.analysis import plots, stats

HEADLINE = "val_accuracy_best"
COMPARED = ("val_accuracy_best", "val_accuracy_final")
SUMMARIZED = ("val_accuracy_best", "val_accuracy_final", "train_accuracy_final")
METRICS = {
    "val_accuracy_best": "VALIDATION accuracy at the epoch with the best --monitor metric "
    "(the validation data: results.json 'data')",
    "best_epoch": "that epoch (1-based), chosen by --monitor",
    "val_accuracy_final": "VALIDATION accuracy after the last epoch",
    "val_loss_best / val_loss_final": "VALIDATION loss (binary cross-entropy) there",
    "train_accuracy_final / train_loss_final": "TRAINING data: running average over the last "
    "epoch, dropout on (as Keras prints it); not "
    "a generalization figure",
    "test_accuracy_best / test_loss_best": "TEST reviews, the best epoch's parameters (only "
    "with --sweep: each model's selected setting on fresh seeds; models.<name>.selected)",
}


def write_plots(name: str, cfg, workdir: str, models: Mapping[str, dict]) -> dict[str, str]:
    return {
        "history": plots.history(
            {n: m["history_per_seed"] for n, m in models.items()},
            os.path.join(workdir, "history.png"),
            title=f"{name}: training (dashed) vs validation (solid), "
            f"mean and min-max over {cfg.seeds} seed(s)",
        ),
        "accuracy_by_seed": plots.scores_by_seed(
            {n: 100 * np.asarray(m["per_seed"][HEADLINE]) for n, m in models.items()},
            os.path.join(workdir, "accuracy_by_seed.png"),
            ylabel="validation accuracy at the best epoch (%)",
            title=f"{name}: best-epoch validation accuracy per seed",
        ),
    }


def print_seeds(cfg, models: Mapping[str, dict]) -> None:
    print(
        "\nPer seed (VALIDATION accuracy %, best epoch by "
        f"{cfg.monitor} / after the last epoch; TRAINING accuracy after the last epoch):"
    )
    for name, model in models.items():
        m = model["per_seed"]
        for i, seed in enumerate(model["seeds"]):
            print(
                f"  {name:>24} seed {seed}: val best {100 * m['val_accuracy_best'][i]:.2f} "
                f"(epoch {m['best_epoch'][i]}), val final "
                f"{100 * m['val_accuracy_final'][i]:.2f}, train final "
                f"{100 * m['train_accuracy_final'][i]:.2f}"
            )


def print_gaps(models: Mapping[str, dict]) -> None:
    print("\nTraining vs validation accuracy by epoch (mean over seeds, %):")
    for name, model in models.items():
        print(f"  {name}:\n    epoch  train    val    gap")
        for r in model["train_validation_gap_by_epoch"]:
            print(
                f"    {r['epoch']:5d}  {100 * r['train_accuracy']:5.2f}  "
                f"{100 * r['val_accuracy']:5.2f}  {100 * r['gap']:+5.2f}"
            )


def report(cfg, ctx, setup, results: dict, fits) -> dict[str, str]:
    print_seeds(cfg, results["models"])
    print_gaps(results["models"])
    comparison = results["comparison"]
    for metric in COMPARED if comparison else ():
        label = "at the best epoch" if metric == HEADLINE else "after the last epoch"
        print(f"\nComparison over seeds, VALIDATION accuracy {label}:")
        print(stats.format_comparison(comparison[metric]))
    if cfg.seeds < 2:
        print("\n(one seed: no intervals or tests; use --seeds 3 or more to compare)")
    return write_plots(results["experiment"], cfg, ctx.workdir, results["models"])
