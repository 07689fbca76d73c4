"""What an experiment declares; the shared runner (``runner.run``) does the rest.

An experiment is an ``Experiment``: its name and config class, ``build`` (the config
and the run's context -> a ``Setup``: models, data, objective, optimizer), ``evaluate``
(one trained model -> its per-seed figures), what each figure means, which figures are
compared over seeds, and optionally a ``report`` (plots and the printed report). Its
``__main__`` is ``cli.main(EXPERIMENT)``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rnn_attn.train.steps import SeedKeys, default_seed_keys


def no_callbacks(name: str) -> Sequence[Any]:
    return ()


@dataclasses.dataclass(frozen=True)
class Setup:
    """What an experiment builds from its config before training.

    ``models``: name -> model (``init``, ``apply``), trained in this order; ``data``,
    ``optimizer``: shared, or a mapping name -> value; ``fit``: ``engine.FitConfig``
    fields over those the runner takes from the config (``runner.fit_config``), for every
    model, and ``fit_per_model`` for one; ``callbacks(name)``: the experiment's own
    (after best epoch, checkpoints and progress); ``data_description``: the data in a
    sentence (results.json ``data``); ``record``: more top-level results.json entries;
    ``reference_model``: the model others are compared with (default: the first);
    ``extras``: whatever ``evaluate`` and ``report`` need beside the trained models;
    ``data_files``: every data file (or directory) ``build`` read, fingerprinted by the
    runner (``experiment.data_identity``; none: the data is generated); ``test``: a split
    (``feed.Split``) the runner scores every model on once, with each seed's best-epoch
    parameters, after ``evaluate`` (per_seed ``test_<metric>_best``; e.g. a sweep's
    selected setting, whose VALIDATION data chose it)."""

    models: Mapping[str, Any]
    data: Any
    objective: Any
    optimizer: Any
    fit: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    fit_per_model: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    seed_keys: SeedKeys = default_seed_keys
    callbacks: Callable[[str], Sequence[Any]] = no_callbacks
    data_description: str = ""
    record: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    reference_model: str | None = None
    extras: Any = None
    data_files: Sequence[str] = ()
    test: Any = None


@dataclasses.dataclass(frozen=True)
class Chance:
    """What a model that learned nothing scores: ``metric`` (higher is better) at
    ``level``, each seed's value measured on ``examples`` examples. A seed whose value is
    within ``margin`` (three binomial standard errors) above the level is at chance."""

    metric: str
    level: float
    examples: int

    @property
    def margin(self) -> float:
        return 3.0 * math.sqrt(self.level * (1.0 - self.level) / self.examples)


@dataclasses.dataclass(frozen=True)
class Sweepable:
    """What ``--sweep`` may vary in an experiment (``experiment.sweep``), none of it an
    array's shape, and nothing but the optimizer's choice the program.

    ``optimizer(cfg)`` builds the experiment's optimizer from its config (its ``build``
    uses the same function; where the config has an ``optimizer`` field with choices it
    must read it: ``--sweep optimizer=...`` then runs a program per value), and
    ``fields`` are the config fields that only it reads (a learning rate, a momentum);
    ``model_arguments`` are the constructor arguments its models may take as traced
    arrays (each model's ``HYPERPARAMETERS`` says which it has: a dropout rate, a
    penalty's coefficient). ``check(cfg)`` raises ConfigError
    when the run has no validation data apart from its test data. ``select``: the trial
    figure a model's setting is chosen by and whether higher is better (None: the run's
    ``monitor`` at the best epoch when it is a VALIDATION figure, else the last epoch's
    ``val_loss``)."""

    optimizer: Callable[[Any], Any]
    fields: tuple[str, ...] = ("learning_rate",)
    model_arguments: tuple[str, ...] = ()
    check: Callable[[Any], None] | None = None
    select: tuple[str, bool] | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return (*self.fields, *self.model_arguments)


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One experiment, for ``cli.main`` and ``runner.run``.

    ``evaluate(cfg, setup, name, fit)`` returns the model's ``results.json`` entry beside
    what the runner adds (``seeds``, ``parameters``, ``summary``): at least ``per_seed``,
    metric -> one value per seed in seed order. ``compare``: the per-seed metrics
    compared over seeds between models; ``summarize``: those described over seeds (None:
    every numeric one). ``report(cfg, ctx, setup, results, fits)`` writes the plots and prints
    the report (process 0 only) and returns the files written, name -> path; ``fits``
    (name -> ``engine.FitResult``) gives it what results.json does not hold (e.g. every
    step's training loss).
    ``local``: the flag defaults of ``--local``; ``exclude``, ``customize(parser)`` and
    ``adjust(namespace)``: changes to the generated command line (e.g. a ``--model``
    whose recipe fills the flags left unset). ``chance(cfg, setup, name)``: the model's
    ``Chance`` (or None): a model some of whose seeds stay at chance is marked
    ``learned_nothing`` in results.json and on stdout, not refused (a study may expect
    it). ``sweep``: what ``--sweep`` may vary (None: nothing)."""

    name: str
    config: type
    build: Callable[[Any, Any], Setup]
    evaluate: Callable[[Any, Setup, str, Any], Mapping[str, Any]]
    metrics: Mapping[str, str]
    description: str
    default_workdir: str
    compare: tuple[str, ...] = ()
    summarize: tuple[str, ...] | None = None
    report: (
        Callable[[Any, Any, Setup, Mapping[str, Any], Mapping[str, Any]], Mapping[str, str]] | None
    ) = None
    reference: str = ""
    local: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    exclude: tuple[str, ...] = ()
    customize: Callable[[Any], Any] | None = None
    adjust: Callable[[Any], None] | None = None
    chance: Callable[[Any, Setup, str], Chance | None] | None = None
    sweep: Sweepable | None = None


def describe(module_doc: str | None) -> str:
    """An experiment's ``--help`` description: its config docstring's first paragraph."""
    return (module_doc or "").split("\n\n")[0].strip()
