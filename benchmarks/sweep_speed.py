"""Time per trial of a sweep's training program against a plain run's time per seed.

    python benchmarks/sweep_speed.py --task copy [--seed-loop map] [--seeds 4] [--settings 2]
    python benchmarks/sweep_speed.py --task imdb [--seed-loop vmap] [--seeds 2] [--plain-seeds 4]

Builds, on the mesh of 2 CPU devices (seed axis 2), the training segment of a plain run
(``--plain-seeds`` seeds, default ``--seeds``) and of a sweep over ``--settings`` learning
rates x ``--seeds`` seeds (the trials in one program, ``rnn_attn.train.trials``), compiles
both, then times them alternately ``--repeats`` times (alternating, so a machine shared
with other work slows both alike) and prints the medians: seconds per slot and the
sweep's time per trial over the plain run's time per seed. ``copy``: the copy task's
attention model, ``--steps`` steps of one pair drawn on the device; ``imdb``: document
000's BiLSTM with attention pooling on 5,120 synthetic reviews of 50 tokens, batch 128
(one epoch of 40 steps). Measured figures: docs/sweeps.md.
"""

from __future__ import annotations

import dataclasses
import sys
import time

import _flags


def programs(args):
    """``(plain, sweep)``: each a function that runs one segment of its program."""
    import numpy as np

    from experiments.copy_task import train as copy_lib
    from experiments.copy_task.config import CopyTaskConfig
    from rnn_attn.models.text_classifiers import make_text_model
    from rnn_attn.parallel.mesh import make_mesh
    from rnn_attn.train import engine, trials
    from rnn_attn.train.feed import Split
    from rnn_attn.train.objectives import binary_classification
    from rnn_attn.train.optimizers import keras_adam

    rates = [1e-3 * 3**i for i in range(args.settings)]
    if args.task == "copy":
        cfg = CopyTaskConfig(seeds=args.seeds, steps=args.steps).validate()
        model, objective = copy_lib.build_model("attention", cfg), copy_lib.sequence_cross_entropy()
        base = engine.FitConfig(
            seeds=(0,), epochs=1, batch_size=1, monitor="loss", seed_loop=args.seed_loop
        )
        options = {"compiler_options": copy_lib.TRAIN_COMPILER_OPTIONS}
        seed_keys = copy_lib.init_and_data_keys

        def data(seeds):
            return engine.FitData(copy_lib.sampler(dataclasses.replace(cfg, seeds=len(seeds))))
    else:
        rng = np.random.default_rng(0)
        reviews = {
            "inputs": rng.integers(1, 10_000, size=(5120, 50)).astype(np.int32),
            "targets": rng.integers(0, 2, 5120).astype(np.int32),
        }
        model = make_text_model("bilstm_attention", vocab_size=10_000, maxlen=50)
        objective, options = binary_classification(), {}
        base = engine.FitConfig(
            seeds=(0,), epochs=1, batch_size=128, monitor="loss", seed_loop=args.seed_loop
        )
        seed_keys = engine.default_seed_keys

        def data(seeds):
            return engine.FitData(Split(reviews))

    mesh = make_mesh(2, seed_parallel=2, data_parallel=1)

    def segment(config, fit_data, bind=None):
        prepared = engine.prepare(
            objective,
            model,
            fit_data,
            dataclasses.replace(config, **options),
            optimizer=keras_adam(),
            mesh=mesh,
            seed_keys=seed_keys,
            compile_ahead=True,
            bind=bind,
        )
        run, feeder = prepared.run, prepared.feeder
        plan = feeder.segment(run, run.num_batches, run.num_batches)

        def go():
            out = run.programs.segment(
                run.state, run.carry, plan, feeder.train_arrays, feeder.hyper
            )
            out[2].block_until_ready()

        go()  # the first call, off the clock
        return go

    plain_seeds = tuple(range(args.plain_seeds or args.seeds))
    seeds, hyper = trials.grid_slots(range(args.seeds), [{"learning_rate": r} for r in rates])
    plain = segment(dataclasses.replace(base, seeds=plain_seeds), data(plain_seeds))
    sweep = segment(
        dataclasses.replace(base, seeds=seeds, hyperparameters=hyper),
        trials.repeat_data(data(tuple(range(args.seeds))), len(rates)),
        bind=lambda h: (model, keras_adam(h["learning_rate"])),
    )
    return plain, len(plain_seeds), sweep, len(seeds)


def main(args) -> None:
    import numpy as np

    from rnn_attn.parallel import devices

    devices.request_cpu_devices(2)
    plain, n_plain, sweep, n_sweep = programs(args)
    times = {"plain": [], "sweep": []}
    for _ in range(args.repeats):
        for name, go in (("plain", plain), ("sweep", sweep)):
            start = time.perf_counter()
            go()
            times[name].append(time.perf_counter() - start)
    p, s = np.median(times["plain"]), np.median(times["sweep"])
    print(
        f"{args.task}, --seed-loop {args.seed_loop}: plain {n_plain} seeds {p:.2f} s "
        f"({p / n_plain:.3f} s per seed); sweep {n_sweep} trials {s:.2f} s "
        f"({s / n_sweep:.3f} s per trial); time per trial / time per seed "
        f"{(s / n_sweep) / (p / n_plain):.2f}"
    )
    print({k: [round(v, 2) for v in vs] for k, vs in times.items()})


if __name__ == "__main__":
    parser = _flags.parser(__doc__)
    parser.add_argument("--task", choices=("copy", "imdb"), default="copy")
    parser.add_argument("--seed-loop", choices=("map", "vmap"), default="map")
    parser.add_argument("--seeds", type=_flags.count(2), default=4, help="tuning seeds (even)")
    parser.add_argument("--plain-seeds", type=_flags.count(0), default=0, help="0: --seeds")
    parser.add_argument("--settings", type=_flags.count(1), default=2)
    parser.add_argument("--steps", type=_flags.count(1), default=250, help="copy: steps")
    parser.add_argument("--repeats", type=_flags.count(1), default=5)
    args = parser.parse_args()
    sys.exit(_flags.run(lambda: main(args)))
