"""What the vanishing-gradient study shows: the printed table, results entries, plots."""

from __future__ import annotations

import os

import numpy as np

from experiments.vanishing_gradients import study as gs
from experiments.vanishing_gradients.config import CELL_COMPARISON, VanishingConfig
from rnn_attn.analysis import plots, stats


def print_table_and_collect(cfg: VanishingConfig, results: dict, seeds: list[int]) -> dict:
    """Prints the table (one row per configuration and length) and returns the
    ``results.json`` entries, ``<config>_T<length>``."""
    print(f"\nFirst-symbol task, {cfg.symbols} symbols (chance {100 / cfg.symbols:.1f}%), "
          f"{cfg.steps} Adam steps, {cfg.seeds} seeds.")
    print("reach = log10(||dL/dx_1|| / ||dL/dx_T||): 0 = the first input moves the loss as "
          "much as the last; -k = k orders of magnitude less.\n")
    print(f"{'configuration':<24}{'T':>5}{'reach@init':>12}{'reach@trained':>15}"
          f"{'TEST accuracy % (mean, 95% t-CI)':>34}  per seed")
    models = {}
    for row in gs.summarize(results):
        acc = np.asarray(row["test_accuracy_per_seed"])
        ci = f"{100 * acc.mean():6.1f}"
        if len(acc) >= 2:
            d = stats.describe(acc)
            ci += f" [{100 * d['ci_t_low']:5.1f}, {100 * d['ci_t_high']:5.1f}]"
        print(f"{row['config']:<24}{row['length']:>5}"
              f"{np.mean(row['reach_init_per_seed']):>12.2f}"
              f"{np.mean(row['reach_trained_per_seed']):>15.2f}{ci:>34}  "
              + " / ".join(f"{100 * a:.1f}" for a in acc))
        r = results[row["config"]][row["length"]]
        models[f"{row['config']}_T{row['length']}"] = {
            "config": row["config"], "length": row["length"], "seeds": seeds,
            "description": gs.CONFIGS[row["config"]][3],
            "per_seed": {
                "test_accuracy": row["test_accuracy_per_seed"],
                "reach_init": row["reach_init_per_seed"],
                "reach_trained": row["reach_trained_per_seed"],
                "final_train_loss": r["train_loss"][:, -100:].mean(1).tolist(),
            },
            "grad_norm_by_step_init_mean": r["grad_init"].mean(0).tolist(),
            "grad_norm_by_step_trained_mean": r["grad_trained"].mean(0).tolist(),
        }
    return models


def write_plots(cfg: VanishingConfig, workdir: str, results: dict) -> dict[str, str]:
    longest = max(cfg.length_values)
    norms = {n: (results[n][longest]["grad_init"], results[n][longest]["grad_trained"])
             for n in cfg.config_names}
    return {
        "gradient_by_step": plots.gradient_norms(
            norms, os.path.join(workdir, "gradient_by_step.png"),
            title=f"||dL/dx_t|| on the first-symbol task, T = {longest} "
                  f"(mean over {cfg.seeds} seeds)"),
        # The headline comparison alone: the three cells at Keras's defaults and the gated
        # ones with their keep-gate bias raised.
        "gradient_by_step_cells": plots.gradient_norms(
            {n: norms[n] for n in CELL_COMPARISON if n in norms},
            os.path.join(workdir, "gradient_by_step_cells.png"),
            title=f"||dL/dx_t||, T = {longest}: SimpleRNN, LSTM and GRU at Keras's "
                  f"defaults and with keep-gate bias 5 (mean over {cfg.seeds} seeds)"),
        "accuracy_by_length": plots.curves(
            {n: 100 * np.stack([results[n][t]["test_accuracy"] for t in cfg.length_values], 1)
             for n in cfg.config_names},
            os.path.join(workdir, "accuracy_by_length.png"), x=np.array(cfg.length_values),
            xlabel="sequence length T", ylabel="TEST accuracy (%)",
            title="First-symbol task: test accuracy (mean, min-max over seeds)"),
    }
