"""The copy-task comparison, from its config to results.json (see ``config.py``)."""

from __future__ import annotations

import concurrent.futures
import time
from typing import Any

import numpy as np

from experiments._common import check_seed_loop, run_main
from experiments.copy_task import config as copy_config
from experiments.copy_task import report
from experiments.copy_task import train as copy_train
from experiments.copy_task.config import CopyTaskConfig
from rnn_attn import config as config_lib
from rnn_attn.analysis import stats
from rnn_attn.analysis.results import print_written, write_results
from rnn_attn.parallel import devices, distributed
from rnn_attn.train import engine

REFERENCE = "document 001: 23.10% (baseline) vs 95.70% (attention) mean exact match"
METRICS = {
    "test_exact_match": "fraction of fresh test pairs whose whole decoded sequence matches "
                        "the target",
    "test_token_accuracy": "fraction of test positions decoded correctly",
    "test_loss": "mean cross-entropy on the test pairs",
    "train_loss_lastN": "training loss averaged over the last N steps (training data)",
}


def main(argv: list[str] | None = None) -> int:
    return run_main(argv, experiment="copy_task",
                    description=copy_config.__doc__.split("\n\n")[0],
                    config_cls=CopyTaskConfig, default_workdir="runs/copy_task", run=run,
                    jobs=lambda cfg: cfg.seeds, check_devices=check_seed_loop,
                    local=copy_config.LOCAL)


def run(cfg: CopyTaskConfig, workdir: str, *, resume: bool = False, progress: bool = True,
        device_settings: distributed.DeviceSettings | None = None) -> int:
    start = time.perf_counter()
    settings = device_settings or distributed.DeviceSettings()
    mesh = distributed.run_mesh(settings, cfg.seeds)
    device_info = devices.describe_devices() | {
        "mesh": dict(mesh.shape), "seed_loop": engine.resolve_seed_loop(cfg.seed_loop, mesh)}
    print(f"copy task: {cfg.seeds} seeds x {cfg.model_names}, {cfg.steps} steps, "
          f"{device_info['device_count']} {device_info['platform']} device(s), "
          f"(seed, data) mesh {tuple(mesh.shape.values())}")
    # The test programs compile in the background while the models train.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        tests = {n: pool.submit(copy_train.compile_test, n, cfg, mesh)
                 for n in cfg.model_names}
        fits = copy_train.train_models(cfg, mesh, workdir=workdir, resume=resume,
                                       progress=progress, record=config_lib.to_dict(cfg),
                                       compute_dtype=settings.compute_dtype)
        models, spot = per_model(cfg, fits, {n: t.result() for n, t in tests.items()})
    results = results_record(cfg, models, device_info)
    results["files"] = report.write_plots(workdir, cfg, models,
                                          {n: f.step_loss for n, f in fits.items()}, spot)
    results["timing_seconds"] = {"total": round(time.perf_counter() - start, 3)}
    path = write_results(workdir, results)
    report.print_report(cfg, models, results["comparison"], spot)
    print_written(path, results["files"], results["timing_seconds"]["total"])
    return 0


def per_model(cfg: CopyTaskConfig, fits: dict, tests: dict) -> tuple[dict, dict]:
    """Each model's per-seed test figures and its first seed's spot-check pairs."""
    models, spot = {}, {}
    for name, fit in fits.items():
        test = copy_train.evaluate(fit, cfg, tests[name])
        tail = min(100, cfg.steps)
        models[name] = {
            "seeds": list(cfg.seed_numbers),
            "per_seed": {
                "test_exact_match": test["exact_match"].tolist(),
                "test_token_accuracy": test["token_accuracy"].tolist(),
                "test_loss": test["loss"].tolist(),
                f"train_loss_last{tail}": np.nanmean(fit.step_loss[:, -tail:], 1).tolist(),
            },
        }
        spot[name] = (test["inputs"][0], test["targets"][0], test["predicted"][0],
                      test["attention_weights"][0] if "attention_weights" in test else None)
    return models, spot


def results_record(cfg: CopyTaskConfig, models: dict, device_info: dict) -> dict[str, Any]:
    """``results.json`` without files and timing: config, per-seed figures, statistics."""
    scores = {n: np.asarray(m["per_seed"]["test_exact_match"]) for n, m in models.items()}
    for name, values in scores.items():
        models[name]["summary"] = {"test_exact_match": describe(values)}
    return {"experiment": "copy_task", "reference": REFERENCE,
            "config": config_lib.to_dict(cfg), "devices": device_info, "metrics": METRICS,
            "models": models, "comparison": compare(scores)}


def describe(values: np.ndarray) -> dict[str, Any]:
    if len(values) < 2:
        return {"n": int(len(values)), "mean": float(values.mean())}
    return stats.describe(values)


def compare(scores: dict[str, np.ndarray]) -> dict[str, Any] | None:
    if len(scores) < 2 or any(len(v) < 2 for v in scores.values()):
        return None
    names = list(scores)
    if len(names) == 2:
        return stats.compare(scores[names[1]], scores[names[0]], names=(names[1], names[0]))
    return stats.compare_many(scores, baseline=names[0])
