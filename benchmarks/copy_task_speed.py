"""Wall time of the full copy-task protocol, compilation included.

    python benchmarks/copy_task_speed.py [--seeds 10] [--steps 5000] [--repeats 1]

Runs what ``python -m experiments.copy_task`` runs (2 models x 10 seeds x 5,000 training
steps + the 100-pair test per seed, with its checkpoints), in a fresh process each repeat,
and prints the time from process start to the finished test, split into phases.
Reference figures measured on the project's 2-core CPU machine for the same protocol:
the tutorial's Keras code ~1 hour (33-38 ms/step), PyTorch ~230 s, a plain vmapped
``lax.scan`` JAX version ~50 s. Target: under 40 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import _flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def one_run(seeds: int, steps: int) -> dict:
    """Runs the protocol in this process (call in a fresh process) and times its phases."""
    start = time.perf_counter()
    from experiments.copy_task import train as copy_task
    from experiments.copy_task.config import CopyTaskConfig
    from rnn_attn.experiment import runner
    from rnn_attn.experiment.cli import DeviceSettings
    from rnn_attn.experiment.context import bare_context, build_mesh

    cfg = CopyTaskConfig(seeds=seeds, steps=steps).validate()
    mesh = build_mesh(cfg, DeviceSettings())
    imported = time.perf_counter()
    out = {"import_s": imported - start, "devices": int(mesh.size)}
    with tempfile.TemporaryDirectory() as workdir:
        # Both models prepared and compiled in the background, one training meanwhile.
        ctx = bare_context("copy_task", cfg, mesh, workdir=workdir)
        setup = copy_task.build(cfg, ctx)
        fits = runner.train(cfg, ctx, setup)
        trained = time.perf_counter()
        out["train_s"] = trained - imported
        for name, fit in fits.items():
            metrics = copy_task.test_figures(cfg, fit, setup.extras[name].result())
            out[f"{name}_mean_exact_match"] = float(metrics["exact_match"].mean())
        out["test_s"] = time.perf_counter() - trained
    out["total_s"] = time.perf_counter() - start
    return out


def main() -> int:
    parser = _flags.parser(__doc__)
    parser.add_argument("--seeds", type=_flags.count(1), default=10)
    parser.add_argument("--steps", type=_flags.count(1), default=5000)
    parser.add_argument("--repeats", type=_flags.count(1), default=1)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_run(args.seeds, args.steps)))
        return 0
    print(
        f"copy-task protocol: 2 models x {args.seeds} seeds x {args.steps} steps + test, "
        f"compilation included, fresh process per repeat"
    )
    totals = []
    for r in range(args.repeats):
        t = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                "--seeds",
                str(args.seeds),
                "--steps",
                str(args.steps),
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=ROOT),
        )
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return 1
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        totals.append(wall)
        print(
            f"repeat {r}: process wall {wall:.1f} s | in-process {res['total_s']:.1f} s "
            f"(imports {res['import_s']:.1f}; prepare, compile and train both models "
            f"{res['train_s']:.1f}; test {res['test_s']:.1f}) | {res['devices']} CPU "
            f"devices | mean exact match: baseline "
            f"{100 * res['baseline_mean_exact_match']:.1f}%, attention "
            f"{100 * res['attention_mean_exact_match']:.1f}%"
        )
    print(
        f"process wall time: min {min(totals):.1f} s, max {max(totals):.1f} s "
        f"over {len(totals)} repeat(s); target < 40 s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(_flags.run(main))
