"""What the copy-task comparison shows: the plots and the printed report."""

from __future__ import annotations

import os

import numpy as np

from rnn_attn.analysis import plots, stats

REFERENCE = "document 001: 23.10% (baseline) vs 95.70% (attention) mean exact match"
METRICS = {
    "test_exact_match": "fraction of fresh TEST pairs whose whole decoded sequence matches "
    "the target",
    "test_token_accuracy": "fraction of TEST positions decoded correctly",
    "test_loss": "mean cross-entropy on the TEST pairs",
    "train_loss_lastN": "TRAINING loss averaged over the last N steps",
}


def write_plots(workdir: str, cfg, models: dict, fits: dict) -> dict[str, str]:
    scores = {n: 100 * np.asarray(m["per_seed"]["test_exact_match"]) for n, m in models.items()}
    summary = {n: (m["summary"] or {}).get("test_exact_match", {}) for n, m in models.items()}
    intervals = {
        n: (100 * s.get("ci_t_low", np.nan), 100 * s.get("ci_t_high", np.nan))
        for n, s in summary.items()
    }
    files = {
        "accuracy_by_seed": plots.scores_by_seed(
            scores,
            os.path.join(workdir, "accuracy_by_seed.png"),
            ylabel="test exact-match accuracy (%)",
            intervals=intervals,
            title=f"Copy task: test accuracy over {cfg.seeds} seeds (bar: 95% t-CI)",
        )
    }
    window = max(1, min(100, cfg.steps // 10))
    smoothed = {
        n: np.stack(
            [np.convolve(row, np.ones(window) / window, mode="valid") for row in fit.step_loss]
        )
        for n, fit in fits.items()
    }
    files["train_loss"] = plots.curves(
        smoothed,
        os.path.join(workdir, "train_loss.png"),
        xlabel="training step",
        ylabel=f"training loss ({window}-step mean)",
        title="Copy task: TRAINING loss (mean and min-max over seeds)",
    )
    spot = models.get("attention", {}).get("spot_checks_first_seed", {})
    if "attention_weights" in spot and len(spot["inputs"]):  # none with --spot-checks 0
        files["attention_weights"] = plots.attention_heatmap(
            np.asarray(spot["attention_weights"]),
            [str(v) for v in spot["inputs"][0]],
            [str(v) for v in spot["predicted"][0]],
            os.path.join(workdir, "attention_weights.png"),
            title=f"Attention weights, seed {cfg.first_seed}, one test pair",
        )
    return files


def print_report(cfg, models: dict, comparison: dict | None) -> None:
    names = list(models)
    print("\nTEST exact-match accuracy per seed (fresh pairs, whole sequence must match):")
    print("seed  " + "  ".join(f"{n:>12}" for n in names))
    for i, seed in enumerate(cfg.seed_numbers):
        row = "  ".join(
            f"{100 * models[n]['per_seed']['test_exact_match'][i]:11.1f}%" for n in names
        )
        print(f"{seed:4d}  {row}")
    print("\nSummary (TEST exact-match accuracy, %):")
    for n in names:
        s = (models[n]["summary"] or {}).get("test_exact_match")
        if s is None:
            mean = 100 * np.mean(models[n]["per_seed"]["test_exact_match"])
            print(f"  {n:>10}: {mean:.2f} (one seed: no interval)")
            continue
        print(
            f"  {n:>10}: mean {100 * s['mean']:.2f}  std {100 * s['std']:.2f}  "
            f"95% CI (t) [{100 * s['ci_t_low']:.2f}, {100 * s['ci_t_high']:.2f}]  "
            f"bootstrap [{100 * s['ci_boot_low']:.2f}, {100 * s['ci_boot_high']:.2f}]"
        )
    if comparison is not None:
        print("\nComparison over seeds (TEST exact-match accuracy):")
        print(stats.format_comparison(comparison["test_exact_match"]))
    for n in names:
        spot = models[n]["spot_checks_first_seed"]
        print(f"\nSpot checks, {n} (seed {cfg.first_seed}, the first test pairs):")
        for target, predicted in zip(spot["targets"], spot["predicted"], strict=True):
            print(f"  Expected: {target}  Predicted: {predicted}")


def report(cfg, ctx, setup, results: dict, fits: dict) -> dict[str, str]:
    files = write_plots(ctx.workdir, cfg, results["models"], fits)
    print_report(cfg, results["models"], results["comparison"])
    return files
