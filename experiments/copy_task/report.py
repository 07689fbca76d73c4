"""What the copy-task comparison shows: the plots and the printed report."""

from __future__ import annotations

import os

import numpy as np

from rnn_attn.analysis import plots, stats


def write_plots(workdir, cfg, results_models, train_losses, spot):
    scores = {n: np.asarray(m["per_seed"]["test_exact_match"]) for n, m in results_models.items()}
    files = {}
    intervals = {
        n: (m["summary"]["test_exact_match"].get("ci_t_low", np.nan),
            m["summary"]["test_exact_match"].get("ci_t_high", np.nan))
        for n, m in results_models.items()
    }
    files["accuracy_by_seed"] = plots.scores_by_seed(
        {n: 100 * v for n, v in scores.items()}, os.path.join(workdir, "accuracy_by_seed.png"),
        ylabel="test exact-match accuracy (%)",
        title=f"Copy task: test accuracy over {cfg.seeds} seeds (bar: 95% t-CI)",
        intervals={n: (100 * lo, 100 * hi) for n, (lo, hi) in intervals.items()},
    )
    window = max(1, min(100, cfg.steps // 10))
    smoothed = {
        n: np.stack([np.convolve(row, np.ones(window) / window, mode="valid") for row in losses])
        for n, losses in train_losses.items()
    }
    files["train_loss"] = plots.curves(
        smoothed, os.path.join(workdir, "train_loss.png"), xlabel="training step",
        ylabel=f"training loss ({window}-step mean)",
        title="Copy task: training loss (mean and min-max over seeds)",
    )
    if "attention" in spot and spot["attention"][3] is not None:
        inputs, _, predicted, weights = spot["attention"]
        files["attention_weights"] = plots.attention_heatmap(
            weights[0], [str(v) for v in inputs[0]], [str(v) for v in predicted[0]],
            os.path.join(workdir, "attention_weights.png"),
            title=f"Attention weights, seed {cfg.first_seed}, one test pair",
        )
    return files


def print_report(cfg, results_models, comparison, spot):
    names = list(results_models)
    print("\nTest exact-match accuracy per seed (fresh pairs, whole sequence must match):")
    header = "seed  " + "  ".join(f"{n:>12}" for n in names)
    print(header)
    for i in range(cfg.seeds):
        row = "  ".join(
            f"{100 * results_models[n]['per_seed']['test_exact_match'][i]:11.1f}%" for n in names
        )
        print(f"{cfg.first_seed + i:4d}  {row}")
    print("\nSummary (test exact-match accuracy, %):")
    for n in names:
        s = results_models[n]["summary"]["test_exact_match"]
        if "std" in s:
            print(f"  {n:>10}: mean {100 * s['mean']:.2f}  std {100 * s['std']:.2f}  "
                  f"95% CI (t) [{100 * s['ci_t_low']:.2f}, {100 * s['ci_t_high']:.2f}]  "
                  f"bootstrap [{100 * s['ci_boot_low']:.2f}, {100 * s['ci_boot_high']:.2f}]")
        else:
            print(f"  {n:>10}: {100 * s['mean']:.2f} (one seed: no interval)")
    if comparison is not None:
        print("\nComparison over seeds (test exact-match accuracy):")
        print(stats.format_comparison(comparison))
    for n in names:
        inputs, targets, predicted, _ = spot[n]
        print(f"\nSpot checks, {n} (seed {cfg.first_seed}, the first test pairs):")
        for k in range(min(cfg.spot_checks, len(inputs))):
            print(f"  Expected: {targets[k].tolist()}  Predicted: {predicted[k].tolist()}")
