"""The gradient study on the shared runner: one job per configuration and length.

Job ``<config>_T<length>`` is configuration ``config`` (``study.CONFIGS``) trained on the
first-symbol task of ``length`` steps: its own batches (a ``feed.Sampler`` per job) and
its own optimizer (gradient clipping where the configuration asks for it), one epoch of
``steps`` steps, every seed in one program. Then each seed's gradient norms by step at
initialization and after training, and its TEST accuracy (``study.measure``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import optax

from experiments.vanishing_gradients import config as vg_config
from experiments.vanishing_gradients import report
from experiments.vanishing_gradients import study as gs
from experiments.vanishing_gradients.config import VanishingConfig
from rnn_attn.experiment.spec import Chance, Experiment, Setup, describe
from rnn_attn.train import engine
from rnn_attn.train.objectives import categorical_classification


@dataclasses.dataclass(frozen=True)
class Job:
    """One job: its configuration and length, its model in the run's compute dtype (as
    the runner trains it; the measurements use the same) and its optimizer."""

    config: str
    length: int
    model: Any
    optimizer: optax.GradientTransformation


def settings(cfg: VanishingConfig) -> gs.StudySettings:
    return gs.StudySettings(
        units=cfg.units,
        symbols=cfg.symbols,
        batch_size=cfg.batch_size,
        steps=cfg.steps,
        learning_rate=cfg.learning_rate,
    )


def build(cfg: VanishingConfig, ctx) -> Setup:
    """A model, a batch stream and an optimizer per job, ``<config>_T<length>``."""
    study = settings(cfg)
    jobs = {f"{n}_T{t}": (n, t) for n in cfg.config_names for t in cfg.length_values}
    built = {job: gs.build(n, study) for job, (n, _) in jobs.items()}
    return Setup(
        models={job: model for job, (model, _) in built.items()},
        data={
            job: engine.FitData(gs.sampler(study, t, cfg.seed_sources["data"]))
            for job, (_, t) in jobs.items()
        },
        objective=categorical_classification(),
        optimizer={job: optimizer for job, (_, optimizer) in built.items()},
        fit={"monitor": "loss"},
        seed_keys=gs.seed_keys,
        data_description=f"first-symbol task, {cfg.symbols} symbols, lengths {cfg.lengths}; "
        f"{cfg.steps} steps of {cfg.batch_size} fresh sequences, "
        f"{study.eval_examples} fresh test sequences per seed",
        extras={
            job: Job(n, t, ctx.model(built[job][0]), built[job][1]) for job, (n, t) in jobs.items()
        },
    )


def evaluate(cfg: VanishingConfig, setup: Setup, name: str, fit: engine.FitResult) -> dict:
    """Each seed's TEST accuracy, gradient reach at initialization and after training, and
    final training loss; the gradient norms by step, mean over seeds."""
    job: Job = setup.extras[name]
    r = gs.measure(fit, job.model, job.optimizer, settings(cfg), job.length)
    return {
        "config": job.config,
        "length": job.length,
        "description": gs.CONFIGS[job.config][3],
        "per_seed": {
            "test_accuracy": [float(a) for a in r["test_accuracy"]],
            "reach_init": [gs.reach(g) for g in r["grad_init"]],
            "reach_trained": [gs.reach(g) for g in r["grad_trained"]],
            "final_train_loss": np.asarray(r["train_loss"])[:, -100:].mean(1).tolist(),
        },
        "grad_norm_by_step_init_mean": r["grad_init"].mean(0).tolist(),
        "grad_norm_by_step_trained_mean": r["grad_trained"].mean(0).tolist(),
    }


def chance(cfg: VanishingConfig, setup: Setup, name: str) -> Chance:
    """A job that learned nothing recalls the first symbol at chance, 1/symbols, on the
    TEST sequences: the study expects it of some (marked ``learned_nothing``)."""
    return Chance("test_accuracy", 1.0 / cfg.symbols, settings(cfg).eval_examples)


EXPERIMENT = Experiment(
    name="vanishing_gradients",
    config=VanishingConfig,
    build=build,
    evaluate=evaluate,
    metrics=report.METRICS,
    report=report.report,
    description=describe(vg_config.__doc__),
    default_workdir="runs/vanishing_gradients",
    local=vg_config.LOCAL,
    chance=chance,
)
