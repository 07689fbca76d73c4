"""Vanishing gradients in recurrent networks, and remedies (reference document 003).

    python -m experiments.vanishing_gradients --workdir runs/vanishing_gradients

A task whose answer depends on the first input only (the label is the first of
``length`` random symbols). For SimpleRNN, LSTM and GRU, and for the remedies (gated
cells; a larger bias on the gate that keeps the state: the LSTM's forget gate, the GRU's
update gate; orthogonal vs random-normal recurrent init; gradient clipping; layer
normalization in the cell; a skip connection across time), at several lengths: the norm
of d loss / d x_t for every t at initialization and after training (how far back the
gradient reaches), and the task's TEST accuracy (fresh sequences) over seeds.

Every configuration trains all its seeds in one program on the engine's (seed, data)
mesh, under the device flags, bf16 and the non-finite guard of every experiment.

Writes to --workdir: results.json (config, models.<config>_T<length>.per_seed.<metric>,
the gradient norms), Orbax checkpoints (checkpoints/<config>_T<length>/, every seed in
one; --resume goes on from them), gradient_by_step.png (gradient norm vs t, one line per
configuration, at the longest length), gradient_by_step_cells.png (the same for the three
cells alone, at Keras's defaults and with keep-gate bias 5), accuracy_by_length.png.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time

from rnn_attn.config import field, on_nonfinite_field, require

ALL = ("simple_rnn,simple_rnn_normal_init,simple_rnn_clipped,simple_rnn_layer_norm,"
       "simple_rnn_residual,lstm,lstm_forget_bias_5,lstm_layer_norm,gru,gru_update_bias_5")

CELL_COMPARISON = ("simple_rnn", "lstm", "gru", "lstm_forget_bias_5", "gru_update_bias_5")


@dataclasses.dataclass(frozen=True)
class VanishingConfig:
    configs: str = field(ALL, "comma-separated configurations (see rnn_attn.gradient_study)")
    lengths: str = field("10,25,50,100", "comma-separated sequence lengths")
    seeds: int = field(3, "independent repeats per configuration and length")
    first_seed: int = field(0, "seed of the first repeat")
    units: int = field(32, "recurrent units")
    symbols: int = field(8, "distinct symbols (chance accuracy is 1/symbols)")
    steps: int = field(1500, "training steps (Adam) per run")
    batch_size: int = field(64, "sequences per training step")
    learning_rate: float = field(3e-3, "Adam learning rate")
    checkpoint_every: int = field(500, "training steps between checkpoints (0: at the end)")
    on_nonfinite: str = on_nonfinite_field()

    @property
    def config_names(self) -> list[str]:
        return [c.strip() for c in self.configs.split(",") if c.strip()]

    @property
    def length_values(self) -> list[int]:
        return [int(v) for v in self.lengths.split(",") if v.strip()]

    def validate(self) -> VanishingConfig:
        from rnn_attn.gradient_study import CONFIGS

        for name in ("seeds", "units", "steps", "batch_size"):
            value = getattr(self, name)
            require(value >= 1, f"--{name.replace('_', '-')} must be >= 1, got {value}")
        require(self.symbols >= 2, f"--symbols must be >= 2, got {self.symbols}")
        require(self.checkpoint_every >= 0,
                f"--checkpoint-every must be >= 0, got {self.checkpoint_every}")
        require(math.isfinite(self.learning_rate) and self.learning_rate > 0,
                f"--learning-rate must be a positive number, got {self.learning_rate}")
        require(bool(self.config_names), f"--configs is empty; expected some of "
                                         f"{sorted(CONFIGS)}")
        for name in self.config_names:
            require(name in CONFIGS, f"unknown configuration {name!r}; expected one of "
                                     f"{sorted(CONFIGS)}")
        try:
            lengths = self.length_values
        except ValueError:
            lengths = []
        require(bool(lengths) and all(v >= 2 for v in lengths),
                f"--lengths must be comma-separated integers >= 2, got {self.lengths!r}")
        return self


def print_table_and_collect(cfg: VanishingConfig, results: dict, seeds: list[int]) -> dict:
    """Prints the table (one row per configuration and length) and returns the
    ``results.json`` entries, ``<config>_T<length>``."""
    import numpy as np

    from rnn_attn import gradient_study as gs
    from rnn_attn import stats

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
    import numpy as np

    from rnn_attn import plots

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


METRICS = {"test_accuracy": "fraction of 1,024 fresh TEST sequences whose first symbol is "
                            "recalled",
           "reach_init / reach_trained": "log10(||dL/dx_1|| / ||dL/dx_T||) at initialization "
                                         "/ after training",
           "final_train_loss": "TRAINING loss, mean of the last 100 steps"}


def run(cfg: VanishingConfig, workdir: str, *, resume: bool = False,
        progress: bool = True, device_settings=None) -> None:
    from rnn_attn import config as config_lib
    from rnn_attn import devices, distributed
    from rnn_attn import gradient_study as gs
    from rnn_attn.results import print_written, write_results

    start = time.perf_counter()
    settings = device_settings or distributed.DeviceSettings()
    mesh = distributed.run_mesh(settings, cfg.seeds)
    study = gs.StudySettings(units=cfg.units, symbols=cfg.symbols, batch_size=cfg.batch_size,
                             steps=cfg.steps, learning_rate=cfg.learning_rate,
                             compute_dtype=settings.compute_dtype)
    seeds = [cfg.first_seed + i for i in range(cfg.seeds)]
    results = gs.run_study(cfg.config_names, cfg.length_values, seeds, study, mesh=mesh,
                           on_nonfinite=cfg.on_nonfinite,
                           checkpoint_every=cfg.checkpoint_every, workdir=workdir,
                           resume=resume, record=config_lib.to_dict(cfg), progress=progress)
    models = print_table_and_collect(cfg, results, seeds)
    files = write_plots(cfg, workdir, results)
    out = {"experiment": "vanishing_gradients", "config": config_lib.to_dict(cfg),
           "devices": devices.describe_devices() | {"mesh": dict(mesh.shape)},
           "metrics": METRICS, "models": models, "files": files,
           "timing_seconds": round(time.perf_counter() - start, 1)}
    print_written(write_results(workdir, out), files, out["timing_seconds"])


def main(argv: list[str] | None = None) -> int:
    from experiments._common import run_main

    return run_main(argv, description=__doc__.split("\n\n")[0], config_cls=VanishingConfig,
                    default_workdir="runs/vanishing_gradients", run=run,
                    jobs=lambda cfg: cfg.seeds)


if __name__ == "__main__":
    from rnn_attn.runtime import reexec_with_huge_pages

    reexec_with_huge_pages()  # before JAX starts: see rnn_attn/runtime.py
    sys.exit(main())
