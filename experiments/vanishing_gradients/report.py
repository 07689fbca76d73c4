"""What the vanishing-gradient study shows: the printed table and the plots."""

from __future__ import annotations

import os

import numpy as np

from experiments.vanishing_gradients.config import CELL_COMPARISON, VanishingConfig
from rnn_attn.analysis import plots, stats

METRICS = {
    "test_accuracy": "fraction of 1,024 fresh TEST sequences whose first symbol is recalled",
    "reach_init / reach_trained": "log10(||dL/dx_1|| / ||dL/dx_T||) at initialization "
    "/ after training",
    "final_train_loss": "TRAINING loss, mean of the last 100 steps",
}


def print_table(cfg: VanishingConfig, models: dict) -> None:
    """One row per configuration and length: reach at initialization and after training
    (mean over seeds of each seed's reach), TEST accuracy (mean, 95% t-CI, per seed)."""
    print(
        f"\nFirst-symbol task, {cfg.symbols} symbols (chance {100 / cfg.symbols:.1f}%), "
        f"{cfg.steps} Adam steps, {cfg.seeds} seeds."
    )
    print(
        "reach = log10(||dL/dx_1|| / ||dL/dx_T||): 0 = the first input moves the loss as "
        "much as the last; -k = k orders of magnitude less.\n"
    )
    print(
        f"{'configuration':<24}{'T':>5}{'reach@init':>12}{'reach@trained':>15}"
        f"{'TEST accuracy % (mean, 95% t-CI)':>34}  per seed"
    )
    for m in models.values():
        per_seed = m["per_seed"]
        acc = np.asarray(per_seed["test_accuracy"])
        ci = f"{100 * acc.mean():6.1f}"
        if len(acc) >= 2:
            d = stats.describe(acc)
            ci += f" [{100 * d['ci_t_low']:5.1f}, {100 * d['ci_t_high']:5.1f}]"
        print(
            f"{m['config']:<24}{m['length']:>5}{np.mean(per_seed['reach_init']):>12.2f}"
            f"{np.mean(per_seed['reach_trained']):>15.2f}{ci:>34}  "
            + " / ".join(f"{100 * a:.1f}" for a in acc)
        )


def write_plots(cfg: VanishingConfig, workdir: str, models: dict) -> dict[str, str]:
    """Gradient norm by step at the longest length (every configuration; the three cells
    alone) and TEST accuracy by length."""

    def entry(name: str, length: int) -> dict:
        return models[f"{name}_T{length}"]

    longest = max(cfg.length_values)
    norms = {
        n: (
            np.asarray(entry(n, longest)["grad_norm_by_step_init_mean"]),
            np.asarray(entry(n, longest)["grad_norm_by_step_trained_mean"]),
        )
        for n in cfg.config_names
    }
    return {
        "gradient_by_step": plots.gradient_norms(
            norms,
            os.path.join(workdir, "gradient_by_step.png"),
            title=f"||dL/dx_t|| on the first-symbol task, T = {longest} "
            f"(mean over {cfg.seeds} seeds)",
        ),
        # The headline comparison alone: the three cells at Keras's defaults and the gated
        # ones with their keep-gate bias raised.
        "gradient_by_step_cells": plots.gradient_norms(
            {n: norms[n] for n in CELL_COMPARISON if n in norms},
            os.path.join(workdir, "gradient_by_step_cells.png"),
            title=f"||dL/dx_t||, T = {longest}: SimpleRNN, LSTM and GRU at Keras's "
            f"defaults and with keep-gate bias 5 (mean over {cfg.seeds} seeds)",
        ),
        "accuracy_by_length": plots.curves(
            {
                n: 100
                * np.stack([entry(n, t)["per_seed"]["test_accuracy"] for t in cfg.length_values], 1)
                for n in cfg.config_names
            },
            os.path.join(workdir, "accuracy_by_length.png"),
            x=np.array(cfg.length_values),
            xlabel="sequence length T",
            ylabel="TEST accuracy (%)",
            title="First-symbol task: test accuracy (mean, min-max over seeds)",
        ),
    }


def report(cfg: VanishingConfig, ctx, setup, results: dict, fits: dict) -> dict[str, str]:
    print_table(cfg, results["models"])
    return write_plots(cfg, ctx.workdir, results["models"])
