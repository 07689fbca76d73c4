"""Plots written as PNG files (matplotlib's Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402


def attention_heatmap(
    weights: np.ndarray,
    input_labels: Sequence[str],
    output_labels: Sequence[str],
    path: str,
    *,
    title: str = "Attention weights",
) -> str:
    """Heatmap of ``weights <float>[out_steps, in_steps]`` (rows: decoder steps)."""
    weights = np.asarray(weights)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * weights.shape[1], 1.0 + 0.6 * weights.shape[0]))
    image = ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(weights.shape[1]), labels=list(input_labels))
    ax.set_yticks(range(weights.shape[0]), labels=list(output_labels))
    ax.set_xlabel("input step (value)")
    ax.set_ylabel("output step (predicted value)")
    for (i, j), w in np.ndenumerate(weights):
        ax.text(
            j,
            i,
            f"{w:.2f}",
            ha="center",
            va="center",
            color="black" if w > 0.5 else "white",
            fontsize=8,
        )
    fig.colorbar(image, ax=ax, fraction=0.046)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def scores_by_seed(
    scores: Mapping[str, Sequence[float]],
    path: str,
    *,
    ylabel: str,
    title: str,
    intervals: Mapping[str, tuple[float, float]] | None = None,
) -> str:
    """Each model's per-seed scores as points, with its mean and (optional) CI as a bar."""
    fig, ax = plt.subplots(figsize=(2.0 + 1.6 * len(scores), 4.0))
    rng = np.random.default_rng(0)
    for i, (name, values) in enumerate(scores.items()):
        values = np.asarray(values, float)
        jitter = rng.uniform(-0.12, 0.12, size=values.shape)
        ax.scatter(i + jitter, values, alpha=0.7, label=f"{name} (n={values.size})")
        ax.hlines(values.mean(), i - 0.25, i + 0.25, colors="black")
        if intervals and name in intervals:
            low, high = intervals[name]
            ax.vlines(i + 0.3, low, high, colors="black", linewidth=2)
    ax.set_xticks(range(len(scores)), labels=list(scores))
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def curves(
    series: Mapping[str, np.ndarray],
    path: str,
    *,
    xlabel: str,
    ylabel: str,
    title: str,
    x: np.ndarray | None = None,
    band: bool = True,
) -> str:
    """One line per name; a ``[runs, points]`` array is drawn as its mean with a min-max band."""
    fig, ax = plt.subplots(figsize=(7.0, 4.0))
    for name, values in series.items():
        values = np.atleast_2d(np.asarray(values, float))
        xs = np.arange(values.shape[1]) if x is None else x
        ax.plot(xs, values.mean(0), label=name)
        if band and values.shape[0] > 1:
            ax.fill_between(xs, values.min(0), values.max(0), alpha=0.2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def history(
    histories: Mapping[str, Sequence[Mapping[str, Sequence[float]]]],
    path: str,
    *,
    metrics: Sequence[str] = ("loss", "accuracy"),
    title: str = "",
) -> str:
    """Training and validation curves per epoch, one panel per metric.

    ``histories[model]`` is a list of per-seed histories (``{"loss": [...], "val_loss":
    [...]}``, as ``engine.fit`` records them per seed); each curve is the mean over seeds with a
    min-max band. Training curves are dashed and labelled "train", validation ones solid.
    """
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4.0), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, metric in zip(axes[0], metrics, strict=True):
        for i, (name, runs) in enumerate(histories.items()):
            color = colors[i % len(colors)]
            for key, style, label in ((metric, "--", "train"), (f"val_{metric}", "-", "val")):
                rows = [r[key] for r in runs if key in r]
                if not rows:
                    continue
                n = min(len(r) for r in rows)
                values = np.array([r[:n] for r in rows], float)
                epochs = np.arange(1, n + 1)
                ax.plot(
                    epochs,
                    values.mean(0),
                    style,
                    color=color,
                    marker="o",
                    markersize=3,
                    label=f"{name} {label} (n={len(rows)})",
                )
                if len(rows) > 1:
                    ax.fill_between(epochs, values.min(0), values.max(0), color=color, alpha=0.15)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def gradient_norms(
    norms: Mapping[str, tuple[np.ndarray, np.ndarray]],
    path: str,
    *,
    title: str,
) -> str:
    """``||dL/dx_t||`` against ``t`` on a log scale, one line per configuration; two panels,
    at initialization and after training. ``norms[name] = (init, trained)``, each
    ``<float>[seeds, T]`` (the mean over seeds is drawn)."""
    fig, axes = plt.subplots(1, 2, figsize=(12.0, 4.5), sharey=True)
    for ax, which, label in ((axes[0], 0, "at initialization"), (axes[1], 1, "after training")):
        for name, pair in norms.items():
            values = np.atleast_2d(np.asarray(pair[which], float)).mean(0)
            ax.plot(np.arange(1, values.size + 1), np.maximum(values, 1e-30), label=name)
        ax.set_yscale("log")
        ax.set_xlabel("input step t (1 = the symbol to remember)")
        ax.set_title(label)
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("||d loss / d x_t||")
    axes[1].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
