"""Encoder-decoder with and without Bahdanau attention on the copy task (document 001).

    python -m experiments.copy_task --workdir runs/copy_task

Defaults reproduce the tutorial: sequences of 5 symbols out of 50, the target copies the
first 2 then zeros; LSTM(150) encoder-decoder vs LSTM(150) + attention decoder; Adam;
5,000 steps of one fresh pair each; test on 100 fresh pairs per seed, a pair correct only
when the whole decoded sequence matches; 10 seeds. Expected (document 001): 23.1% vs 95.7%
mean exact-match test accuracy. On a 2-core CPU the whole run takes well under a minute.

Writes to --workdir: results.json (config, per-seed metrics under
models.<name>.per_seed.<metric>, statistics), accuracy_by_seed.png,
attention_weights.png, train_loss.png, and Orbax checkpoints (checkpoints/<model>/).
"""

from __future__ import annotations

import concurrent.futures
import os
import sys
import time


def main(argv: list[str] | None = None) -> int:
    from experiments._common import run_main
    from rnn_attn.copy_task import CopyTaskConfig

    return run_main(argv, description=__doc__.split("\n\n")[0], config_cls=CopyTaskConfig,
                    default_workdir="runs/copy_task", run=run, jobs=lambda cfg: cfg.seeds,
                    check_devices=_check_devices)


def _check_devices(settings, cfg) -> None:
    from rnn_attn.config import ConfigError

    if cfg.seed_loop == "map" and settings.mesh_devices not in (0, 1):
        raise ConfigError(f"--seed-loop map runs each device's seeds one after another and "
                          f"cannot split a batch over --data-parallel "
                          f"{settings.mesh_devices}; expected --seed-loop vmap or auto")


def run(cfg, workdir: str, *, resume: bool = False, progress: bool = True,
        device_settings=None) -> int:
    from rnn_attn import config as config_lib
    from rnn_attn import copy_task, devices, distributed
    from rnn_attn.results import print_written, write_results

    start = time.perf_counter()
    settings = device_settings or distributed.DeviceSettings()
    mesh = distributed.run_mesh(settings, cfg.seeds)
    device_info = devices.describe_devices() | {"mesh": dict(mesh.shape),
                                                "seed_loop": copy_task.resolve_seed_loop(
                                                    cfg, mesh)}
    print(f"copy task: {cfg.seeds} seeds x {cfg.model_names}, {cfg.steps} steps, "
          f"{device_info['device_count']} {device_info['platform']} device(s), "
          f"(seed, data) mesh {tuple(mesh.shape.values())}")
    # The test programs compile in the background while the models train.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        tests = {n: pool.submit(copy_task.compile_test, n, cfg, mesh) for n in cfg.model_names}
        fits = copy_task.train(cfg, mesh, workdir=workdir, resume=resume, progress=progress,
                               record=config_lib.to_dict(cfg),
                               compute_dtype=settings.compute_dtype)
        results_models, spot = _per_model(cfg, fits, {n: t.result() for n, t in tests.items()})
    results = _results(cfg, results_models, device_info)
    results["files"] = _write_plots(workdir, cfg, results_models,
                                    {n: f.step_loss for n, f in fits.items()}, spot)
    results["timing_seconds"] = {"total": round(time.perf_counter() - start, 3)}
    path = write_results(workdir, results)
    _print_report(cfg, results_models, results["comparison"], spot)
    print_written(path, results["files"], results["timing_seconds"]["total"])
    return 0


def _per_model(cfg, fits, tests):
    """Each model's per-seed test figures and its first seed's spot-check pairs."""
    import numpy as np

    from rnn_attn import copy_task

    results_models, spot = {}, {}
    for name, fit in fits.items():
        test = copy_task.evaluate(fit, cfg, tests[name])
        tail = min(100, cfg.steps)
        results_models[name] = {
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
    return results_models, spot


def _results(cfg, results_models, device_info):
    import numpy as np

    from rnn_attn import config as config_lib
    from rnn_attn import stats

    scores = {n: np.asarray(m["per_seed"]["test_exact_match"]) for n, m in results_models.items()}
    for name, values in scores.items():
        results_models[name]["summary"] = {"test_exact_match": _describe(stats, values)}
    return {
        "experiment": "copy_task",
        "reference": "document 001: 23.10% (baseline) vs 95.70% (attention) mean exact match",
        "config": config_lib.to_dict(cfg),
        "devices": device_info,
        "metrics": {
            "test_exact_match": "fraction of fresh test pairs whose whole decoded sequence "
                                "matches the target",
            "test_token_accuracy": "fraction of test positions decoded correctly",
            "test_loss": "mean cross-entropy on the test pairs",
            "train_loss_lastN": "training loss averaged over the last N steps (training data)",
        },
        "models": results_models,
        "comparison": _compare(stats, scores),
    }


def _describe(stats, values):
    if len(values) < 2:
        return {"n": int(len(values)), "mean": float(values.mean())}
    return stats.describe(values)


def _compare(stats, scores):
    if len(scores) < 2 or any(len(v) < 2 for v in scores.values()):
        return None
    names = list(scores)
    if len(names) == 2:
        return stats.compare(scores[names[1]], scores[names[0]], names=(names[1], names[0]))
    return stats.compare_many(scores, baseline=names[0])


def _write_plots(workdir, cfg, results_models, train_losses, spot):
    import numpy as np

    from rnn_attn import plots

    scores = {n: np.asarray(m["per_seed"]["test_exact_match"]) for n, m in results_models.items()}
    files = {}
    intervals = {
        n: (m["summary"]["test_exact_match"].get("ci_t_low", np.nan),
            m["summary"]["test_exact_match"].get("ci_t_high", np.nan))
        for n, m in results_models.items()
    }
    files["accuracy_by_seed"] = plots.scores_by_seed(
        {n: 100 * v for n, v in scores.items()}, os.path.join(workdir, "accuracy_by_seed.png"),
        ylabel="test exact-match accuracy (%)",
        title=f"Copy task: test accuracy over {cfg.seeds} seeds (bar: 95% t-CI)",
        intervals={n: (100 * lo, 100 * hi) for n, (lo, hi) in intervals.items()},
    )
    window = max(1, min(100, cfg.steps // 10))
    smoothed = {
        n: np.stack([np.convolve(row, np.ones(window) / window, mode="valid") for row in losses])
        for n, losses in train_losses.items()
    }
    files["train_loss"] = plots.curves(
        smoothed, os.path.join(workdir, "train_loss.png"), xlabel="training step",
        ylabel=f"training loss ({window}-step mean)",
        title="Copy task: training loss (mean and min-max over seeds)",
    )
    if "attention" in spot and spot["attention"][3] is not None:
        inputs, _, predicted, weights = spot["attention"]
        files["attention_weights"] = plots.attention_heatmap(
            weights[0], [str(v) for v in inputs[0]], [str(v) for v in predicted[0]],
            os.path.join(workdir, "attention_weights.png"),
            title=f"Attention weights, seed {cfg.first_seed}, one test pair",
        )
    return files


def _print_report(cfg, results_models, comparison, spot):
    from rnn_attn import stats

    names = list(results_models)
    print("\nTest exact-match accuracy per seed (fresh pairs, whole sequence must match):")
    header = "seed  " + "  ".join(f"{n:>12}" for n in names)
    print(header)
    for i in range(cfg.seeds):
        row = "  ".join(
            f"{100 * results_models[n]['per_seed']['test_exact_match'][i]:11.1f}%" for n in names
        )
        print(f"{cfg.first_seed + i:4d}  {row}")
    print("\nSummary (test exact-match accuracy, %):")
    for n in names:
        s = results_models[n]["summary"]["test_exact_match"]
        if "std" in s:
            print(f"  {n:>10}: mean {100 * s['mean']:.2f}  std {100 * s['std']:.2f}  "
                  f"95% CI (t) [{100 * s['ci_t_low']:.2f}, {100 * s['ci_t_high']:.2f}]  "
                  f"bootstrap [{100 * s['ci_boot_low']:.2f}, {100 * s['ci_boot_high']:.2f}]")
        else:
            print(f"  {n:>10}: {100 * s['mean']:.2f} (one seed: no interval)")
    if comparison is not None:
        print("\nComparison over seeds (test exact-match accuracy):")
        print(stats.format_comparison(comparison))
    for n in names:
        inputs, targets, predicted, _ = spot[n]
        print(f"\nSpot checks, {n} (seed {cfg.first_seed}, the first test pairs):")
        for k in range(min(cfg.spot_checks, len(inputs))):
            print(f"  Expected: {targets[k].tolist()}  Predicted: {predicted[k].tolist()}")


if __name__ == "__main__":
    sys.exit(main())
