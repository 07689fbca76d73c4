"""Memory of a train step for long reviews, with and without a rematerialised scan.

    python benchmarks/memory.py [--maxlens 500,1000,4000 --remat 32 --repeats 3
        --seeds 3 --small]

Two models, batch 128, each trained by one jitted train step (``rnn_attn.train.steps.
make_train_step``: forward, backward and optimizer, the state donated): document 002's
IMDB LSTM (Embedding(10,000, 32) -> LSTM(32) -> Dense(1), RMSprop) and document 000's
BiLSTM (Embedding(10,000, 128) -> Bidirectional LSTM(64) -> Dropout(0.5) -> Dense(1),
Adam), on 'pre'-padded Zipf word ids (``benchmarks/_workloads.py``) of each ``--maxlens``
length. Each model runs as it does by default (``scan``: the LSTM on the generic scan;
``fused``: the BiLSTM on its fused kernel), the BiLSTM also on the generic scan
(``generic``), and both with ``remat=n`` for each ``--remat`` chunk length ``n``
(``remat n``: the generic scan checkpointed every ``n`` steps; the fused kernel is
then not used, see ``rnn_attn.nn.recurrent``).

Every row runs in a fresh process, which reports: the compiled step's memory analysis
(XLA's ``temp_size_in_bytes``, the buffers the step allocates besides its arguments and
outputs, and ``argument + output - alias`` bytes, the state and the batch); the peak
resident size of the process (``ru_maxrss``) after compiling and running ``1 + --repeats``
steps, and before compiling (imports, initialization, data); the median step time of the
``--repeats`` steps after the first; and, with ``--seeds N``, the temp bytes per seed of
the step ``vmap``ped over N seeds (each its own state and batch, as the engine's
``seed_loop="vmap"``; compiled only, after the process's other measures). CPU devices have
no memory statistics, hence the analysis and the process's peak. Prints a markdown table
and the 1-minute load average before and after (the machine may be shared).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time

import _flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIB = 2**20
# (workload of _workloads.py, the variants it runs besides its remat rows)
MODELS = (("imdb_lstm", ("scan",)), ("bilstm", ("fused", "generic")))
LABELS = {"imdb_lstm": "002 LSTM(32)", "bilstm": "000 BiLSTM(64)"}


def rows(maxlens: list[int], remats: list[int]) -> list[dict]:
    """Every measured configuration: ``{"workload", "maxlen", "variant", "remat"}``."""
    out = []
    for name, variants in MODELS:
        for maxlen in maxlens:
            for variant in variants:
                out.append(dict(workload=name, maxlen=maxlen, variant=variant, remat=0))
            for n in remats:
                out.append(dict(workload=name, maxlen=maxlen, variant=f"remat {n}", remat=n))
    return out


def setup(row: dict, small: bool):
    """``(model, objective, optimizer, workload, kernels)`` of a row; ``kernels()`` is the
    kernel choice to trace its step under."""
    from _workloads import get, objective, optimizer

    from rnn_attn.models.text_classifiers import make_text_model
    from rnn_attn.nn.recurrent import kernel_choice

    w = dataclasses.replace(get(row["workload"], small=small), length=row["maxlen"])
    name = w.cell if w.family == "imdb" else "bilstm"
    model = make_text_model(name, maxlen=w.length, remat=row["remat"])
    choice = "generic" if row["variant"] == "generic" else "default"
    return model, objective(w), optimizer(w), w, lambda: kernel_choice(choice)


def batch_of(w, seed: int = 0) -> dict:
    import jax.numpy as jnp
    import numpy as np
    from _workloads import arrays

    data = arrays(w, w.batch, seed)
    return {
        "inputs": jnp.asarray(data["inputs"]),
        "targets": jnp.asarray(data["targets"]),
        "weight": jnp.ones((w.batch,), np.float32),
    }


def analysis(compiled) -> dict:
    """The compiled program's temp and argument/output bytes (None when XLA has none)."""
    stats = compiled.memory_analysis()
    if stats is None:
        return {"temp": None, "io": None}
    io = stats.argument_size_in_bytes + stats.output_size_in_bytes - stats.alias_size_in_bytes
    return {"temp": stats.temp_size_in_bytes, "io": io}


def peak_rss() -> int:
    """This process's peak resident size in bytes (Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def one_seed(model, obj, opt, w, kernels, repeats: int) -> dict:
    """The 1-seed step: its memory analysis, the process's peak RSS before compiling and
    after the steps, and the median time of ``repeats`` steps after the first."""
    import jax

    from rnn_attn.train import steps

    state = steps.init_state(model, opt, *steps.default_seed_keys(0))
    batch = batch_of(w)
    step = steps.make_train_step(model, obj, opt, skip_nonfinite=False)
    rss_before = peak_rss()
    with kernels():  # the kernels are chosen when the step is traced
        compiled = jax.jit(step, donate_argnums=0).lower(state, batch).compile()
    times = []
    for _ in range(1 + repeats):
        start = time.perf_counter()
        state, sums = compiled(state, batch)
        jax.block_until_ready(sums)
        times.append(time.perf_counter() - start)
    result = analysis(compiled)
    result.update(rss_before=rss_before, rss=peak_rss(), step_s=statistics.median(times[1:]))
    return result


def seeds_temp(model, obj, opt, w, kernels, num_seeds: int) -> float | None:
    """Temp bytes per seed of the step vmapped over ``num_seeds`` seeds (compiled only)."""
    import jax

    from rnn_attn.train import steps

    states = steps.init_states(model, opt, list(range(num_seeds)))
    each = [batch_of(w, seed) for seed in range(num_seeds)]
    batches = jax.tree.map(lambda *b: jax.numpy.stack(b), *each)
    step = steps.make_train_step(model, obj, opt, skip_nonfinite=False)
    with kernels():
        compiled = jax.jit(jax.vmap(step), donate_argnums=0).lower(states, batches).compile()
    temp = analysis(compiled)["temp"]
    return None if temp is None else temp / num_seeds


def child(spec: dict) -> dict:
    """One row measured in this process (``--child``)."""
    model, obj, opt, w, kernels = setup(spec, spec["small"])
    result = {"load": os.getloadavg()[0], **spec}
    result.update(one_seed(model, obj, opt, w, kernels, spec["repeats"]))
    if spec["seeds"]:
        result["seeds_temp"] = seeds_temp(model, obj, opt, w, kernels, spec["seeds"])
    return result


def spawn(spec: dict) -> dict:
    """``child(spec)`` in a fresh process (its peak RSS is its own)."""
    done = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=ROOT),
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"row {spec} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def mib(value) -> str:
    return "n/a" if value is None else f"{value / MIB:,.1f}"


HEADER = (
    "| model | maxlen | scan | temp (MiB, 1 seed) | state + batch (MiB) | temp per seed, "
    "{seeds} seeds vmapped (MiB) | peak RSS (MiB) | RSS before compile (MiB) | "
    "step (ms, median) | load |\n|---|---|---|---|---|---|---|---|---|---|"
)


def line(r: dict) -> str:
    """One result as a row of the table."""
    cells = [
        LABELS[r["workload"]],
        f"{r['maxlen']:,}",
        r["variant"],
        mib(r["temp"]),
        mib(r["io"]),
        mib(r.get("seeds_temp")),
        mib(r["rss"]),
        mib(r["rss_before"]),
        f"{r['step_s'] * 1e3:,.0f}",
        f"{r['load']:.1f}",
    ]
    return "| " + " | ".join(cells) + " |"


def main() -> int:
    parser = _flags.parser(__doc__)
    parser.add_argument("--maxlens", type=_flags.counts(1), help="default 500,1000,4000")
    parser.add_argument("--remat", type=_flags.counts(1), help="chunk lengths; default 32")
    parser.add_argument("--repeats", type=_flags.count(1), default=3)
    parser.add_argument("--seeds", type=_flags.count(0), default=3, help="0: no vmapped step")
    parser.add_argument(
        "--small", action="store_true", help="smoke run: batches of 16, maxlen 30, remat 8"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one row, in this process
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    maxlens = args.maxlens or ([30] if args.small else [500, 1000, 4000])
    remats = args.remat or ([8] if args.small else [32])
    print(f"load before: {os.getloadavg()[0]:.2f}")
    print(HEADER.format(seeds=args.seeds or "no"))
    for row in rows(maxlens, remats):
        spec = dict(row, small=args.small, repeats=args.repeats, seeds=args.seeds)
        print(line(spawn(spec)), flush=True)
    print(f"load after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(_flags.run(main))
