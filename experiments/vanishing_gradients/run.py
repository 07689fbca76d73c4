"""The vanishing-gradient study, from its config to results.json (see ``config.py``)."""

from __future__ import annotations

import time

from experiments._common import run_main
from experiments.vanishing_gradients import config as vg_config
from experiments.vanishing_gradients import report
from experiments.vanishing_gradients import study as gs
from experiments.vanishing_gradients.config import VanishingConfig
from rnn_attn import config as config_lib
from rnn_attn.analysis.results import print_written, write_results
from rnn_attn.parallel import devices, distributed

METRICS = {"test_accuracy": "fraction of 1,024 fresh TEST sequences whose first symbol is "
                            "recalled",
           "reach_init / reach_trained": "log10(||dL/dx_1|| / ||dL/dx_T||) at initialization "
                                         "/ after training",
           "final_train_loss": "TRAINING loss, mean of the last 100 steps"}


def run(cfg: VanishingConfig, workdir: str, *, resume: bool = False,
        progress: bool = True, device_settings=None) -> None:
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
    models = report.print_table_and_collect(cfg, results, seeds)
    files = report.write_plots(cfg, workdir, results)
    out = {"experiment": "vanishing_gradients", "config": config_lib.to_dict(cfg),
           "devices": devices.describe_devices() | {"mesh": dict(mesh.shape)},
           "metrics": METRICS, "models": models, "files": files,
           "timing_seconds": round(time.perf_counter() - start, 1)}
    print_written(write_results(workdir, out), files, out["timing_seconds"])


def main(argv: list[str] | None = None) -> int:
    return run_main(argv, experiment="vanishing_gradients",
                    description=vg_config.__doc__.split("\n\n")[0],
                    config_cls=VanishingConfig, default_workdir="runs/vanishing_gradients",
                    run=run, jobs=lambda cfg: cfg.seeds, local=vg_config.LOCAL)
