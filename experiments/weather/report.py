"""What the weather experiment shows a reader: the history plot and the printed report."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from experiments.weather.config import HEADLINE, WeatherConfig
from rnn_attn.analysis import plots

METRICS = {
    "val_mae_best": "VALIDATION MAE (normalized) at the epoch with the lowest validation MAE "
    "(optimistic: the epoch is chosen on it)",
    "best_epoch": "that epoch (1-based)",
    "val_mae_final": "VALIDATION MAE after the last epoch (no selection)",
    "test_mae_best": "TEST MAE of the best epoch's parameters (chosen on validation)",
    "train_mae_final": "TRAINING MAE: running average over the last epoch, dropout on (as "
    "Keras prints it); not a generalization figure",
    "*_c": "the same in degrees C (normalized x the target's training std)",
    "vs_baseline": "per-seed model MAE minus the baseline's MAE on the same windows (negative: "
    "better), t interval and one-sample t-test over seeds",
}
SUMMARIZED = tuple(
    f"{k}{unit}"
    for k in ("val_mae_best", "val_mae_final", "test_mae_best", "train_mae_final")
    for unit in ("", "_c")
)


def plot_history(
    histories: Mapping[str, Sequence[Mapping[str, Sequence[float]]]],
    baseline_c: float,
    scale: float,
    path: str,
    *,
    title: str,
) -> str:
    """MAE in degrees C per epoch: training (dashed; running average with dropout on) and
    validation (solid) per model, mean over seeds with a min-max band, and the baseline's
    validation MAE as a horizontal line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.0, 4.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (name, runs) in enumerate(histories.items()):
        color = colors[i % len(colors)]
        for key, style, label in (("mae", "--", "training"), ("val_mae", "-", "validation")):
            n = min(len(r[key]) for r in runs)
            values = scale * np.array([r[key][:n] for r in runs], float)
            epochs = np.arange(1, n + 1)
            ax.plot(
                epochs,
                values.mean(0),
                style,
                color=color,
                marker="o",
                markersize=3,
                label=f"{name} {label} (n={len(runs)})",
            )
            if len(runs) > 1:
                ax.fill_between(epochs, values.min(0), values.max(0), color=color, alpha=0.15)
    ax.axhline(
        baseline_c,
        color="black",
        linestyle=":",
        label=f"common-sense baseline, validation ({baseline_c:.2f} C)",
    )
    ax.set_xlabel("epoch")
    ax.set_ylabel("MAE (degrees C)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_series(data, path: str) -> str:
    """The target over the whole record in its own unit (the lecture's first plot), with
    the training, validation and test rows shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = data.series
    # Days from the first row, not dates: a TMY3 "typical year" takes each month from
    # a different calendar year.
    days = np.arange(len(series)) / (24.0 * series.steps_per_hour)
    fig, ax = plt.subplots(figsize=(9.0, 3.6))
    ax.plot(days, series.values[:, series.target_index], linewidth=0.4, color="black")
    for split, color in zip(data.splits, ("tab:blue", "tab:orange", "tab:green"), strict=False):
        ax.axvspan(
            days[split.start],
            days[min(split.stop, len(days)) - 1],
            color=color,
            alpha=0.12,
            label=f"{split.name} rows",
        )
    ax.set_xlabel("days from the first row")
    ax.set_ylabel(series.target_name)
    ax.set_title(f"{series.target_name}: the whole record ({len(series):,} rows)", fontsize=10)
    ax.legend(fontsize=7, loc="lower center", ncol=3)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _ci(summary: Mapping[str, float] | None, key: str) -> str:
    if summary is None:
        return ""
    d = summary[key]
    return f" 95% CI [{d['ci_t_low']:.3f}, {d['ci_t_high']:.3f}]"


def print_report(
    config: WeatherConfig,
    baseline: Mapping[str, Any],
    models: Mapping[str, Mapping[str, Any]],
    comparison,
) -> None:
    from rnn_attn.analysis import stats

    val, test = baseline["validation"], baseline["test"]
    print(
        f"\nCommon-sense baseline (target {config.delay} rows ahead = its value at the "
        f"window's end): VALIDATION MAE {val['mae']:.4f} = {val['mae_c']:.3f} C "
        f"({val['windows']:,} windows); TEST MAE {test['mae']:.4f} = {test['mae_c']:.3f} C"
    )
    print(
        "\nPer seed: VALIDATION MAE at the best epoch / after the last epoch, TEST MAE at the "
        "best epoch, TRAINING MAE of the last epoch (normalized; degrees C):"
    )
    for name, m in models.items():
        p = m["per_seed"]
        for i, seed in enumerate(m["seeds"]):
            print(
                f"  {name:>17} seed {seed}: val best {p['val_mae_best'][i]:.4f} "
                f"({p['val_mae_best_c'][i]:.3f} C, epoch {p['best_epoch'][i]}), val last "
                f"{p['val_mae_final'][i]:.4f} ({p['val_mae_final_c'][i]:.3f} C), test "
                f"{p['test_mae_best'][i]:.4f} ({p['test_mae_best_c'][i]:.3f} C), train "
                f"{p['train_mae_final'][i]:.4f} ({p['train_mae_final_c'][i]:.3f} C)"
            )
    print(
        "\nMean over seeds (degrees C, 95% t interval) and vs the baseline (model - "
        "baseline; negative = better; one-sample t over seeds):"
    )
    for name, m in models.items():
        s, p = m.get("summary"), m["per_seed"]
        print(f"  {name}:")
        for key, label in (
            ("val_mae_best_c", "VALIDATION, best epoch"),
            ("val_mae_final_c", "VALIDATION, last epoch"),
            ("test_mae_best_c", "TEST, best epoch"),
        ):
            v = m["vs_baseline"][key]
            line = (
                f"    {label:>22}: {np.mean(p[key]):.3f} C{_ci(s, key)}; vs baseline "
                f"{v['mean_difference']:+.3f} C"
            )
            if "ci_t_low" in v:
                line += (
                    f" [{v['ci_t_low']:+.3f}, {v['ci_t_high']:+.3f}], t = "
                    f"{v['t_statistic']:.2f}, p = {v['p_value_two_sided']:.2g}"
                )
            print(line + f"; better on {v['seeds_better']}/{v['seeds']} seeds")
    if comparison:
        print(
            f"\nModels vs {comparison['reference_model']} over seeds, VALIDATION MAE at the "
            f"best epoch (C; P(a > b) = chance that a has the HIGHER, i.e. worse, MAE):"
        )
        print(stats.format_comparison(comparison[HEADLINE], scale=1.0, unit=" C"))
    elif config.seeds < 2:
        print("\n(one seed: no intervals or tests; use --seeds 3 or more)")


def describe_data(config: WeatherConfig, data, baseline: Mapping) -> None:
    """Prints the series, the splits, the unit and the baseline before training."""
    features = data.series.values.shape[1]
    print(
        f"weather: {os.path.basename(data.path)} ({len(data.series):,} rows, {features} "
        f"features, target {data.series.target_name!r}); lookback {config.lookback}, step "
        f"{config.step}, delay {config.delay} rows"
    )
    for s in data.splits:
        print(
            f"  {s.name:>10}: rows [{s.start}, {s.stop}), "
            f"{len(data.windows[s.name]['targets']):,} windows"
        )
    print(f"  1 normalized unit of the target = {data.scale:.3f} C (training rows' std)")
    print(
        f"  common-sense baseline MAE: validation {baseline['validation']['mae']:.4f} "
        f"({baseline['validation']['mae_c']:.3f} C), test {baseline['test']['mae']:.4f} "
        f"({baseline['test']['mae_c']:.3f} C)"
    )


def write_plots(
    config: WeatherConfig, workdir: str, models: Mapping, baseline: Mapping, data
) -> dict[str, str]:
    intervals = {
        n: (m["summary"][HEADLINE]["ci_t_low"], m["summary"][HEADLINE]["ci_t_high"])
        for n, m in models.items()
        if m.get("summary")
    }
    return {
        "history": plot_history(
            {n: m["history_per_seed"] for n, m in models.items()},
            baseline["validation"]["mae_c"],
            data.scale,
            os.path.join(workdir, "history.png"),
            title=f"weather: TRAINING (dashed, running average, dropout on) vs VALIDATION "
            f"(solid) MAE,\nmean and min-max over {config.seeds} seed(s)",
        ),
        "mae_by_seed": plots.scores_by_seed(
            {
                "baseline": [baseline["validation"]["mae_c"]],
                **{n: m["per_seed"][HEADLINE] for n, m in models.items()},
            },
            os.path.join(workdir, "mae_by_seed.png"),
            ylabel="validation MAE at the best epoch (C)",
            intervals=intervals,
            title="weather: validation MAE per seed (baseline: deterministic)",
        ),
        "temperature": plot_series(data, os.path.join(workdir, "temperature.png")),
    }


def report(cfg, ctx, setup, results: dict, fits) -> dict[str, str]:
    baseline, models = results["baseline"], results["models"]
    print_report(cfg, baseline, models, results["comparison"])
    return write_plots(cfg, ctx.workdir, models, baseline, setup.extras)
