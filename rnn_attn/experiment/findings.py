"""What the runner notes beside a model's figures: the seeds that stayed at chance
(``learned_nothing``, from the experiment's ``Chance``) and, for a ``--seeds-by-source``
grid that crosses two sources, each figure's variance split between them
(``variance_by_source``); and the lines that print both."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rnn_attn import seed_sources
from rnn_attn.analysis import variance
from rnn_attn.config import MAX_SEEDS
from rnn_attn.experiment.spec import Chance, Experiment


def crossed_sources(cfg: Any) -> list[str] | None:
    """The two sources the run's ``--seeds-by-source`` grid crosses (None: no such grid)."""
    if not cfg.seeds_by_source:
        return None
    return seed_sources.crossed(seed_sources.parse_grid(cfg.seeds_by_source, max_runs=MAX_SEEDS))


def variance_by_source(spec: Experiment, cfg: Any, entry: Mapping[str, Any]) -> dict | None:
    """Each summarized metric's variance split between the two crossed sources and the
    residual (``analysis.variance``); None without a grid that crosses two sources."""
    crossed = crossed_sources(cfg)
    if crossed is None:
        return None
    per_seed = entry["per_seed"]
    metrics = spec.summarize if spec.summarize is not None else list(per_seed)
    return variance.of_model(per_seed, entry["seeds_by_source"], crossed, metrics)


def print_variance(cfg: Any, models: Mapping[str, dict]) -> None:
    """The variance by source of each model's decomposed metrics, one line each."""
    if not cfg.seeds_by_source:
        return
    counts = seed_sources.parse_grid(cfg.seeds_by_source, max_runs=MAX_SEEDS)
    grid = seed_sources.describe_grid(counts)
    if seed_sources.crossed(counts) is None:
        print(f"\nSeeds by source {grid}: no variance decomposition (it needs two sources crossed)")
        return
    print(f"\nVariance by source, {grid} runs (share of one run's variance [95% interval]):")
    for name, entry in models.items():
        for metric, result in entry.get("variance_by_source", {}).items():
            print(f"  {name} {metric}: {variance.format_decomposition(result)}")


def learned_nothing(chance: Chance | None, entry: Mapping[str, Any]) -> dict | None:
    """``{"metric", "chance", "margin", "seeds"}``: the seeds of a model entry whose
    ``chance.metric`` is at most ``chance.level + chance.margin`` (None: no such seed)."""
    if chance is None or chance.metric not in entry["per_seed"]:
        return None
    values = entry["per_seed"][chance.metric]
    limit = chance.level + chance.margin
    seeds = [
        seed
        for seed, value in zip(entry["seeds"], values, strict=True)
        if value is not None and value <= limit
    ]
    if not seeds:
        return None
    return {
        "metric": chance.metric,
        "chance": chance.level,
        "margin": round(chance.margin, 6),
        "seeds": seeds,
    }


def print_learned_nothing(models: Mapping[str, dict]) -> None:
    """One line per model marked ``learned_nothing``."""
    for name, entry in models.items():
        mark = entry.get("learned_nothing")
        if mark:
            print(
                f"  {name}: learned nothing with seeds {mark['seeds']} of {entry['seeds']}: "
                f"{mark['metric']} at chance ({mark['chance']:.4g} + {mark['margin']:.3g})"
            )
