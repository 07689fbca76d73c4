"""The shared runner: from an experiment's config and context to ``results.json``.

``run(spec, cfg, ctx)`` does what every protocol needs: the timer, parameter counts, the
fit configuration from the run's config, training every model over every seed (each
model one program on the mesh, checkpoints in ``checkpoints/<model>/``, TensorBoard
curves in ``tensorboard/``), each model's per-seed figures (``spec.evaluate``), their
summaries and the comparison over seeds (``analysis.stats``), the experiment's report,
and the ``results.json`` envelope (``analysis.schema``). The data files ``build`` read
are fingerprinted before training (``data_identity``): recorded in the work dir's
``data.json`` and ``results.json``, and checked against the interrupted run's on
``--resume``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from rnn_attn.analysis import stats
from rnn_attn.analysis.results import print_written, write_results
from rnn_attn.analysis.schema import SCHEMA_VERSION
from rnn_attn.experiment import data_identity, findings
from rnn_attn.experiment.spec import Experiment, Setup
from rnn_attn.seed_sources import SOURCES
from rnn_attn.train import engine, runs


def fit_config(cfg: Any, mesh, **options: Any) -> engine.FitConfig:
    """The engine's settings from a run's config: its seeds (and, with
    ``--seeds-by-source``, each one's seeds by source), the ``config.FIT_FIELDS`` it has
    (``epochs`` 1 where it has none), the guard and checkpoint settings; ``options``
    override any of them."""
    values: dict[str, Any] = dict(
        seeds=cfg.seed_numbers,
        sources=seed_triples(cfg),
        epochs=getattr(cfg, "epochs", 1),
        batch_size=cfg.batch_size,
        on_nonfinite=cfg.on_nonfinite,
        checkpoint_every=cfg.checkpoint_every,
    )
    for name in ("eval_batch_size", "monitor", "patience"):
        if hasattr(cfg, name):
            values[name] = getattr(cfg, name)
    values["seed_loop"] = engine.resolve_seed_loop(getattr(cfg, "seed_loop", "vmap"), mesh)
    return engine.FitConfig(**(values | options))


def seed_triples(cfg: Any) -> tuple[tuple[int, int, int], ...]:
    """Each run's (init, data, dropout) seeds under ``--seeds-by-source``; () without it
    (the default derivation: every source is the run's seed number)."""
    if not cfg.seeds_by_source:
        return ()
    return tuple(zip(*(cfg.seed_sources[name] for name in SOURCES), strict=True))


def parameter_counts(models: Mapping[str, Any]) -> dict[str, int]:
    """Each model's parameter count, from shapes alone (nothing is initialized)."""

    def count(model) -> int:
        shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0))
        return int(sum(np.prod(leaf.shape) for leaf in jax.tree.leaves(shapes)))

    return {name: count(model) for name, model in models.items()}


def train(cfg: Any, ctx, setup: Setup, timing: dict | None = None) -> dict[str, engine.FitResult]:
    """Every model of ``setup`` over every seed, on the context's mesh and work dir
    (``timing`` receives the seconds spent compiling and training)."""
    base = fit_config(cfg, ctx.mesh, **setup.fit)
    configs = {
        name: dataclasses.replace(base, **setup.fit_per_model.get(name, {}))
        for name in setup.models
    }
    models = {name: ctx.model(model) for name, model in setup.models.items()}

    def callbacks(name: str) -> list:
        return [*setup.callbacks(name), *live_curves(ctx, name)]

    return runs.train_models(
        models,
        setup.objective,
        setup.data,
        configs,
        optimizer=setup.optimizer,
        mesh=ctx.mesh,
        workdir=ctx.workdir,
        record=ctx.record,
        resume=ctx.resume,
        progress=ctx.progress,
        callbacks=callbacks,
        seed_keys=setup.seed_keys,
        timing=timing,
    )


def live_curves(ctx, name: str) -> list:
    """The TensorBoard callback of one model (process 0 writes; the others write nothing)."""
    import os

    if ctx.workdir is None:
        return []
    from rnn_attn.train.tensorboard import TensorBoardCurves

    return [TensorBoardCurves(os.path.join(ctx.workdir, "tensorboard"), name)]


def summarize(spec: Experiment, per_seed: Mapping[str, list]) -> dict | None:
    """Each summarized metric described over seeds (None with fewer than two seeds)."""

    def numeric(values) -> bool:
        return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)

    if min((len(v) for v in per_seed.values()), default=0) < 2:
        return None
    keys = (
        spec.summarize
        if spec.summarize is not None
        else [k for k, v in per_seed.items() if numeric(v)]
    )
    return {k: stats.describe(np.asarray(per_seed[k], np.float64)) for k in keys}


def compare(spec: Experiment, setup: Setup, models: Mapping[str, dict]) -> dict | None:
    """``spec.compare``'s metrics over seeds: the reference model against the other (two
    models: ``stats.compare``) or the others (``stats.compare_many``, Holm-adjusted). Models
    that ran the same seed numbers are compared seed by seed too (the paired t-test leads
    the ``headline``), beside the unpaired tests (Welch, Mann-Whitney, Hedges' g); runs
    of a ``--seeds-by-source`` grid pair by their seeds by source."""
    names = list(models)
    if not spec.compare or len(names) < 2 or any(len(m["seeds"]) < 2 for m in models.values()):
        return None
    reference = setup.reference_model or names[0]
    seeds = {n: models[n]["seeds"] for n in names}
    sources = {n: models[n].get("seeds_by_source") for n in names}
    out: dict[str, Any] = {"reference_model": reference}
    for metric in spec.compare:
        scores = {n: models[n]["per_seed"][metric] for n in names}
        if len(names) == 2:
            other = next(n for n in names if n != reference)
            out[metric] = stats.compare(
                scores[other],
                scores[reference],
                names=(other, reference),
                seeds=(seeds[other], seeds[reference]),
                sources=(sources[other], sources[reference]),
            )
        else:
            out[metric] = stats.compare_many(
                scores, baseline=reference, seeds=seeds, sources=sources
            )
    return out


def model_entries(
    spec: Experiment, cfg: Any, setup: Setup, fits: Mapping, counts: Mapping[str, int]
) -> dict[str, dict]:
    """Each model's ``results.json`` entry: seeds (and each one's seeds by source),
    parameters, ``spec.evaluate``'s figures, their summary and, for a grid that crosses
    two sources, their variance by source (``variance_by_source``)."""
    models = {}
    for name, fit in fits.items():
        entry = {
            "seeds": list(fit.seeds),
            "seeds_by_source": {k: list(fit.config.source_seeds(k)) for k in SOURCES},
            "parameters": counts[name],
            **spec.evaluate(cfg, setup, name, fit),
        }
        if setup.test is not None:
            entry["per_seed"] = {**entry["per_seed"], **test_figures(fit, setup.test)}
        entry.setdefault("summary", summarize(spec, entry["per_seed"]))
        decomposed = findings.variance_by_source(spec, cfg, entry)
        if decomposed:
            entry["variance_by_source"] = decomposed
        marked = findings.learned_nothing(
            spec.chance(cfg, setup, name) if spec.chance else None, entry
        )
        if marked is not None:
            entry["learned_nothing"] = marked
        models[name] = entry
    return models


def test_figures(fit: engine.FitResult, split: Any) -> dict[str, list[float]]:
    """Each seed's loss and metrics on ``split`` with its best epoch's parameters:
    ``{"test_<metric>_best": [one per seed]}``."""
    rows = fit.evaluate(split, fit.config.eval_batch_size or fit.config.batch_size)
    return {f"{key}_best": [row[key] for row in rows] for key in rows[0]}


def envelope(
    spec: Experiment, ctx, setup: Setup, models: dict, fingerprints: Mapping | None = None
) -> dict[str, Any]:
    """``results.json`` but the files and the timing (``fingerprints``: the data files'
    ``data_identity.fingerprints``)."""
    from rnn_attn.parallel.devices import describe_devices

    devices = describe_devices() | {"mesh": dict(ctx.mesh.shape)}
    record = {
        "schema_version": SCHEMA_VERSION,
        "experiment": spec.name,
        "reference": spec.reference,
        "config": ctx.record,
        "data": setup.data_description,
        "fingerprints": dict(fingerprints or {}),
        "devices": devices,
        "metrics": dict(spec.metrics),
    }
    return (
        record | dict(setup.record) | {"models": models, "comparison": compare(spec, setup, models)}
    )


def run(spec: Experiment, cfg: Any, ctx) -> dict[str, Any]:
    """Builds, trains, evaluates, reports and writes ``results.json`` (process 0)."""
    start = time.perf_counter()
    setup = spec.build(cfg, ctx)
    fingerprints = identify_data(ctx, setup)
    counts = parameter_counts(setup.models)
    announce(spec, cfg, ctx, setup, counts)
    timing: dict[str, float] = {}
    fits = train(cfg, ctx, setup, timing)
    evaluating = time.perf_counter()
    models = model_entries(spec, cfg, setup, fits, counts)
    results = envelope(spec, ctx, setup, models, fingerprints)
    timing["evaluate_seconds"] = round(time.perf_counter() - evaluating, 3)
    if not ctx.primary:  # process 0 writes the report and the files
        return results
    findings.print_learned_nothing(results["models"])
    findings.print_variance(cfg, results["models"])
    results["files"] = dict(spec.report(cfg, ctx, setup, results, fits)) if spec.report else {}
    results["timing"] = {"total_seconds": round(time.perf_counter() - start, 3), **timing}
    path = write_results(ctx.workdir, results)
    print_written(path, results["files"], results["timing"]["total_seconds"])
    return results


def identify_data(ctx, setup: Setup) -> dict[str, dict]:
    """The fingerprints of the files ``build`` read; process 0 checks them against the
    interrupted run's on resume and records them in the work dir before training."""
    fingerprints = data_identity.fingerprints(setup.data_files)
    if ctx.primary and ctx.workdir is not None:
        data_identity.record(ctx.workdir, fingerprints, resume=ctx.resume)
    return fingerprints


def announce(spec: Experiment, cfg: Any, ctx, setup: Setup, counts: Mapping[str, int]) -> None:
    """The run's first lines: models, seeds, data, devices, parameter counts."""
    devices = ctx.mesh.devices
    print(
        f"{spec.name}: models {list(setup.models)} x {cfg.seeds} seeds"
        + (f"; {setup.data_description}" if setup.data_description else "")
        + f"; {devices.size} {devices.flat[0].platform} device(s), (seed, data) mesh "
        f"{tuple(ctx.mesh.shape.values())}"
    )
    for name, count in counts.items():
        print(f"  {name}: {count:,} parameters")
