"""A run with ``--sweep``: each model tuned on its own grid, then reported on fresh seeds.

``run(spec, cfg, ctx)`` replaces ``runner.run``'s training when ``ctx.sweep`` holds a grid
(``experiment.sweep.Grid``):

1. **Tuning.** Every model trains every trial, a setting of the grid x a seed of the run
   (``--seeds`` from ``--first-seed``), as ONE compiled program per model: the swept
   numbers are arrays beside the states, traced inside the step (``train.trials``). A
   swept choice (``--sweep optimizer=adam,rmsprop``) changes the optimizer state's
   structure, so a model has one program per choice (``programs``), each over every
   numeric setting x the seeds. Every program's memory is checked before the first one
   trains. A trial's figures are read from its history (``trial_figures``): VALIDATION
   figures at its best epoch and after the last, and the last epoch's TRAINING loss; the
   test data is never touched.
2. **Selection.** Each model's setting is the one of the whole grid (all its programs'
   trials together) whose mean over the tuning seeds of the selection figure
   (``Sweepable.select``: by default the run's monitor at the best epoch, a VALIDATION
   figure) is best; ties go to the first in grid order.
3. **Fresh seeds.** Each model's selected setting trains again, as a plain run of
   ``--seeds`` new seeds (the ones after the tuning seeds: those that chose it would bias
   its figures upward), and the experiment evaluates it as it evaluates any run (its TEST
   figures where it has test data). ``models.<name>.per_seed`` holds these;
   ``models.<name>.trials`` every trial's figures, ``models.<name>.selected`` the setting,
   its value, the rule and both sets of seeds.

Checkpoints and TensorBoard curves: the tuning trials' in ``<model>.trials/`` (a curve per
trial, ``seed_<n>_<name>_<value>``), or with a swept choice each program's in
``<model>.trials.<choice>/`` (``gru.trials.rmsprop/``), so a resume restores each program
from its own; the fresh seeds' in ``<model>/`` as a plain run's. The grid is part of the
config a resume compares (``config.sweep``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rnn_attn.analysis.results import print_written, write_results
from rnn_attn.errors import ConfigError, DegenerateRunError
from rnn_attn.experiment import findings, runner
from rnn_attn.experiment.spec import Experiment, Setup
from rnn_attn.experiment.sweep import CHOICE_NAMES, Grid, shown
from rnn_attn.train import engine, runs, start, trials

# The tuning trials' checkpoints and curves: <model>.trials/ (<model>.trials.<choice>/).
TRIALS = ".trials"


def _of(value: Any, name: str) -> Any:
    """``value[name]`` when ``value`` is given per model (a mapping), else ``value``."""
    return value[name] if isinstance(value, Mapping) else value


def with_arguments(model: Any, values: Mapping[str, Any]) -> Any:
    """``model`` with the constructor arguments ``values`` replaced, on the model or on
    the one it wraps (a dataclass field holding a model, e.g. ``TokenInputs.model``,
    ``PretrainedEmbedding.base``). An argument the model does not declare among its
    ``HYPERPARAMETERS`` gets one ConfigError."""
    own = getattr(type(model), "HYPERPARAMETERS", ())
    changes = {k: v for k, v in values.items() if k in own}
    rest = {k: v for k, v in values.items() if k not in own}
    if rest:
        fields = dataclasses.fields(model) if dataclasses.is_dataclass(model) else ()
        inner = [f.name for f in fields if hasattr(getattr(model, f.name), "apply")]
        if len(inner) != 1:
            raise ConfigError(
                f"{type(model).__name__} has no sweepable argument "
                f"{', '.join(map(repr, rest))}; it takes {list(own) or 'none'}"
            )
        changes[inner[0]] = with_arguments(getattr(model, inner[0]), rest)
    return dataclasses.replace(model, **changes) if changes else model


def make_bind(
    spec: Experiment,
    cfg: Any,
    ctx,
    setup: Setup,
    name: str,
    names: tuple[str, ...],
    choices: Mapping[str, str],
):
    """Model ``name``'s ``trials.Bind`` over the swept numbers ``names``: its model with
    the swept arguments and the optimizer built from the config with the swept fields
    (traced scalars inside the program, concrete numbers to check a setting) and the
    program's ``choices`` (``{"optimizer": "rmsprop"}``; ``{}``: the run's own)."""
    fields = [n for n in names if n in spec.sweep.fields]
    arguments = [n for n in names if n not in fields]
    model, optimizer = setup.models[name], _of(setup.optimizer, name)

    def bind(hyper):
        bound = with_arguments(model, {n: hyper[n] for n in arguments})
        if fields or choices:
            changed = dataclasses.replace(cfg, **choices, **{n: hyper[n] for n in fields})
            return ctx.model(bound), spec.sweep.optimizer(changed)
        return ctx.model(bound), optimizer

    return bind


@dataclasses.dataclass(frozen=True)
class Program:
    """One compiled program of model ``name``'s trials: those of the grid's ``choices``
    (every numeric setting x every tuning seed), with its ``bind`` (None: no number is
    swept, the slots are seeds), the ``optimizer`` that initializes its states, its
    FitConfig and its data."""

    name: str
    choices: Mapping[str, str]
    bind: trials.Bind | None
    optimizer: Any
    config: engine.FitConfig
    data: engine.FitData


def program_key(name: str, choices: Mapping[str, str]) -> str:
    """The directory of a program's checkpoints and curves: ``<model>.trials``, or
    ``<model>.trials.<choice>`` when a choice is swept (``gru.trials.rmsprop``)."""
    return name + TRIALS + "".join(f".{word}" for word in choices.values())


def checked_bind(spec, cfg: Any, ctx, setup: Setup, name: str, grid: Grid, choices) -> Any:
    """``make_bind`` of one program, each of its settings checked first with its numbers
    and with them as the program's arrays (a model without a swept argument, a value the
    model or optimizer refuses, an optimizer that takes no swept momentum: ConfigError
    naming the setting and the model)."""
    bind = make_bind(spec, cfg, ctx, setup, name, grid.traced.names, choices)
    for setting in grid.traced.settings:
        try:
            bind(setting)
            bind(trials.setting_arrays(setting))  # as the program will: arrays
        except (TypeError, ValueError) as e:  # ConfigError is a ValueError
            raise ConfigError(
                f"--sweep {shown({**choices, **setting})}: model {name!r}: {e}"
            ) from None
    return bind


def programs(spec: Experiment, cfg: Any, ctx, setup: Setup, grid: Grid) -> dict[str, Program]:
    """Every model's programs, model-major, keyed by ``program_key``: one per choice of
    the grid (one in all without a swept choice), each over every numeric setting x the
    run's seeds, setting-major (``trials.grid_slots``)."""
    settings = grid.traced.settings
    seeds, hyper = trials.grid_slots(cfg.seed_numbers, settings)
    base = runner.fit_config(cfg, ctx.mesh, **setup.fit)
    out = {}
    for name in setup.models:
        config = dataclasses.replace(
            base, **setup.fit_per_model.get(name, {}), seeds=seeds, hyperparameters=hyper
        )
        data = trials.repeat_data(_of(setup.data, name), len(settings))
        for choices in grid.programs:
            bind = checked_bind(spec, cfg, ctx, setup, name, grid, choices)
            optimizer = (
                spec.sweep.optimizer(dataclasses.replace(cfg, **choices))
                if choices
                else _of(setup.optimizer, name)
            )
            out[program_key(name, choices)] = Program(
                name, choices, bind if hyper else None, optimizer, config, data
            )
    return out


def tune(spec, cfg: Any, ctx, setup: Setup, grid: Grid, timing: dict) -> tuple[dict, dict]:
    """Every program's trials, after checking that every program's trials fit in memory;
    ``({key: Program}, {key: FitResult})`` over the slots (setting-major)."""
    planned = programs(spec, cfg, ctx, setup, grid)
    models = {key: ctx.model(setup.models[p.name]) for key, p in planned.items()}
    for key, program in planned.items():
        model, optimizer = trials.bound(
            models[key], program.optimizer, program.config, program.bind
        )
        start.check_memory_ahead(
            model, optimizer, program.data, program.config, mesh=ctx.mesh, seed_keys=setup.seed_keys
        )
    fits = runs.train_models(
        models,
        setup.objective,
        {key: p.data for key, p in planned.items()},
        {key: p.config for key, p in planned.items()},
        optimizer={key: p.optimizer for key, p in planned.items()},
        mesh=ctx.mesh,
        workdir=ctx.workdir,
        record=ctx.record,
        resume=ctx.resume,
        progress=ctx.progress,
        callbacks=lambda key: runner.live_curves(ctx, key),
        seed_keys=setup.seed_keys,
        timing=timing,
        bind={key: p.bind for key, p in planned.items() if p.bind is not None},
    )
    return planned, fits


def trial_figures(history: Mapping[str, list], best_epoch: int) -> dict[str, float]:
    """One trial's figures from its history: each VALIDATION metric at the best epoch
    (``<metric>_best``) and after the last (``<metric>_final``), the best epoch, and the
    last epoch's TRAINING loss (``loss_final``)."""
    out: dict[str, float] = {"best_epoch": best_epoch}
    for key, values in history.items():
        if key.startswith("val_"):
            out[f"{key}_best"] = values[best_epoch - 1]
            out[f"{key}_final"] = values[-1]
    out["loss_final"] = history["loss"][-1]
    return out


def trial_entries(
    name: str, planned: Mapping[str, Program], fits: Mapping[str, Any], grid: Grid
) -> list[dict[str, Any]]:
    """``models.<name>.trials``: per setting of the grid, in grid order (over all of the
    model's programs), its values, its seeds and each figure of ``trial_figures`` per
    seed (in seed order)."""
    settings = grid.traced.settings
    by_setting = {}
    for key, program in planned.items():
        if program.name != name:
            continue
        fit = fits[key]
        n = len(fit.seeds) // len(settings)
        for k, setting in enumerate(settings):
            values = {**program.choices, **setting}
            slots = range(k * n, (k + 1) * n)
            figures = [trial_figures(fit.history[i], fit.best_epoch[i]) for i in slots]
            by_setting[tuple(values[g] for g in grid.names)] = {
                "hyperparameters": {g: values[g] for g in grid.names},
                "seeds": [fit.seeds[i] for i in slots],
                "per_seed": {key: [f[key] for f in figures] for key in figures[0]},
            }
    return [by_setting[tuple(s.values())] for s in grid.settings]


def selection_rule(spec: Experiment, config: engine.FitConfig, setup: Setup) -> tuple[str, bool]:
    """``(figure, higher is better)`` a model's setting is chosen by (``Sweepable.select``;
    by default the run's monitor at the best epoch when it is a VALIDATION figure, else
    the last epoch's VALIDATION loss)."""
    if spec.sweep.select is not None:
        return spec.sweep.select
    if config.monitor.startswith("val_"):
        return f"{config.monitor}_best", config.monitor in setup.objective.higher_is_better
    return "val_loss_final", False


def select(name: str, entries: list[dict], figure: str, higher: bool) -> tuple[int, float]:
    """The index of the best setting by the mean of ``figure`` over its seeds (ties: the
    first), and that mean; a setting with a missing or non-finite value is never chosen."""
    means = []
    for entry in entries:
        values = np.asarray(entry["per_seed"].get(figure, [math.nan]), np.float64)
        means.append(float(values.mean()) if np.all(np.isfinite(values)) else math.nan)
    finite = [i for i, m in enumerate(means) if math.isfinite(m)]
    if not finite:
        raise DegenerateRunError(
            f"model {name!r}: no setting has a finite VALIDATION {figure} on every tuning "
            f"seed ({means}); expected at least one to choose"
        )
    best = (max if higher else min)(finite, key=lambda i: means[i])
    return best, means[best]


def retrain(
    spec: Experiment, cfg: Any, ctx, grid: Grid, chosen: Mapping[str, dict], timing: dict
) -> tuple[Setup, dict[str, engine.FitResult]]:
    """Each model's ``chosen`` setting trained as a plain run on ``cfg``'s seeds (the
    fresh ones), with the experiment's own callbacks; ``(setup, {name: FitResult})``."""
    setup = spec.build(cfg, ctx)
    models, optimizers = {}, {}
    for name, setting in chosen.items():
        choices = {n: setting[n] for n in grid.names if n in CHOICE_NAMES}
        bind = make_bind(spec, cfg, ctx, setup, name, grid.traced.names, choices)
        models[name], optimizers[name] = bind(setting)  # numbers: a plain model
    base = runner.fit_config(cfg, ctx.mesh, **setup.fit)
    fits = runs.train_models(
        models,
        setup.objective,
        setup.data,
        {name: dataclasses.replace(base, **setup.fit_per_model.get(name, {})) for name in chosen},
        optimizer=optimizers,
        mesh=ctx.mesh,
        workdir=ctx.workdir,
        record=ctx.record,
        resume=ctx.resume,
        progress=ctx.progress,
        callbacks=lambda name: [*setup.callbacks(name), *runner.live_curves(ctx, name)],
        seed_keys=setup.seed_keys,
        timing=timing,
    )
    return setup, fits


def selected_entry(
    setting: dict, figure: str, higher: bool, value: float, tuning: list, fresh: list
) -> dict[str, Any]:
    """``models.<name>.selected``: the setting, the figure and mean that chose it, the
    rule in words, the tuning seeds and the fresh seeds its ``per_seed`` figures are of."""
    return {
        "hyperparameters": dict(setting),
        "figure": figure,
        "higher_is_better": higher,
        "mean": value,
        "tuning_seeds": list(tuning),
        "seeds": list(fresh),
        "rule": (
            f"the setting whose mean {figure} (VALIDATION data, not the test data) over "
            f"the tuning seeds is {'highest' if higher else 'lowest'} (ties: the first in "
            f"grid order); per_seed holds it trained again on fresh seeds {list(fresh)}, "
            f"which took no part in the choice"
        ),
    }


def plan_in_words(grid: Grid, seeds: int) -> str:
    """The tuning phase in words: the grid, its trials and programs per model."""
    n, programs = len(grid.settings), len(grid.programs)
    plan = f"sweep {grid.record()}: {n} settings x {seeds} seeds = {n * seeds} trials per model"
    if programs == 1:
        return f"{plan} in one program"
    per = ", ".join(n for n in grid.names if n in CHOICE_NAMES)
    return f"{plan} in {programs} programs (one per {per})"


def choose(
    spec: Experiment,
    setup: Setup,
    grid: Grid,
    planned: Mapping[str, Program],
    fits: Mapping[str, engine.FitResult],
    fresh_seeds: Sequence[int],
) -> tuple[dict, dict, dict]:
    """Each model's ``(trials, chosen setting, selected entry)``: the setting chosen over
    the whole grid (all of its programs) by ``selection_rule``."""
    entries, chosen, selected = {}, {}, {}
    for program in planned.values():
        name = program.name
        if name in entries:
            continue  # the model's other programs: its trials are read together
        entries[name] = trial_entries(name, planned, fits, grid)
        figure, higher = selection_rule(spec, program.config, setup)
        index, value = select(name, entries[name], figure, higher)
        chosen[name] = grid.settings[index]
        tuning_seeds = entries[name][index]["seeds"]
        selected[name] = selected_entry(
            chosen[name], figure, higher, value, tuning_seeds, fresh_seeds
        )
        print(f"  {name}: selected {chosen[name]} (mean {figure} {value:.4f})")
    return entries, chosen, selected


def run(spec: Experiment, cfg: Any, ctx) -> dict[str, Any]:
    """Tunes, selects, retrains on fresh seeds, evaluates, reports and writes
    ``results.json`` (process 0), as ``runner.run`` does for a plain run."""
    began = time.perf_counter()
    grid: Grid = ctx.sweep
    setup = spec.build(cfg, ctx)
    fingerprints = runner.identify_data(ctx, setup)
    counts = runner.parameter_counts(setup.models)
    runner.announce(spec, cfg, ctx, setup, counts)
    fresh = dataclasses.replace(cfg, first_seed=cfg.first_seed + cfg.seeds)
    print(
        f"  {plan_in_words(grid, cfg.seeds)}; then each model's selected setting on seeds "
        f"{list(fresh.seed_numbers)}"
    )
    tuning_timing: dict[str, float] = {}
    planned, tuned = tune(spec, cfg, ctx, setup, grid, tuning_timing)
    entries, chosen, selected = choose(spec, setup, grid, planned, tuned, fresh.seed_numbers)
    del planned, tuned  # the trials' states leave the devices before the fresh seeds train
    fresh_timing: dict[str, float] = {}
    setup, fits = retrain(spec, fresh, ctx, grid, chosen, fresh_timing)
    evaluating = time.perf_counter()
    models = runner.model_entries(spec, fresh, setup, fits, counts)
    for name, entry in models.items():
        entry["trials"], entry["selected"] = entries[name], selected[name]
    results = runner.envelope(spec, ctx, setup, models, fingerprints)
    timing = {
        key: round(tuning_timing.get(key, 0.0) + fresh_timing.get(key, 0.0), 3)
        for key in ("compile_seconds", "train_seconds")
    }
    timing |= {f"tuning_{k}": v for k, v in tuning_timing.items()}
    timing["evaluate_seconds"] = round(time.perf_counter() - evaluating, 3)
    if not ctx.primary:
        return results
    findings.print_learned_nothing(results["models"])
    results["files"] = dict(spec.report(fresh, ctx, setup, results, fits)) if spec.report else {}
    results["timing"] = {"total_seconds": round(time.perf_counter() - began, 3), **timing}
    path = write_results(ctx.workdir, results)
    print_written(path, results["files"], results["timing"]["total_seconds"])
    return results
