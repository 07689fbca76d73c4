"""Training speed of every workload: ours (1 seed, and the engine with 1, 3 and 8 seeds)
beside plain Flax, PyTorch and Keras 3, same shapes and optimizer, in one run.

    python benchmarks/workloads.py [--workloads imdb_lstm,copy_attention,...]
        [--frameworks ours,engine,flax,torch,keras,keras_xla] [--repeats 5] [--steps 10]
        [--seeds 1 3 8] [--seed-loop auto] [--quiet-load 0.6] [--wait-quiet 1800]
        [--out FILE.json] [--table] [--small]

The workloads (``benchmarks/_workloads.py``): document 002's SimpleRNN, LSTM and GRU IMDB
classifiers and its weather GRU, document 003's character LSTM, the copy task's
attention encoder-decoder (document 001), the seq2seq experiment's Bahdanau model on
addition, and document 000's BiLSTM. Ours is the model from the registries with one
jitted train step (``rnn_attn.train.steps``), and the engine (``rnn_attn.train.engine``)
with N seeds in one program on the mesh an experiment with N seeds builds (its seeds
batched or one after another as ``--seed-loop`` says, the experiments' flag); the peers'
twins are in ``benchmarks/_peers.py`` (PyTorch on 2 threads; Keras 3 on TensorFlow
with ``jit_compile`` False and True; Flax linen ``nn.RNN`` over Flax's own cells).

Every measurement runs in a fresh process (one per workload, framework and repeat), with
glibc's huge-page malloc; the frameworks are interleaved (repeat r runs every framework
once per workload, the order rotated by r); the load averages and the other busy
processes (/proc) are recorded before and after every run. Each run reports examples/s
(``--steps`` steps after a warm-up; the engine: one segment of ``--steps`` batches per
seed, summed over the seeds) and its compile time (ours: XLA's compile; the engine:
initialization and compile; the peers: their first step). The table gives, per
workload, the medians of the per-repeat ratios ours-1-seed / fastest peer and
engine-N-seeds / fastest peer with 95% bootstrap intervals. docs/performance.md
("Every workload beside its peers") has the command and the table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import _flags
import _harness
import _workloads

HERE = os.path.dirname(os.path.abspath(__file__))
FRAMEWORKS = ("ours", "engine", "flax", "torch", "keras", "keras_xla")
PEERS = ("flax", "torch", "keras", "keras_xla")
RESULT = "RESULT "  # the line a --child run prints its measurement on
PEER_PYTHON = "/work/venv-compare/bin/python"


def parse_args(argv: list[str]):
    parser = _flags.parser(__doc__)
    names = _flags.names(tuple(_workloads.WORKLOADS))
    parser.add_argument("--workloads", type=names, default=list(_workloads.WORKLOADS))
    parser.add_argument("--frameworks", type=_flags.names(FRAMEWORKS), default=list(FRAMEWORKS))
    parser.add_argument("--repeats", type=_flags.count(1), default=5)
    parser.add_argument("--steps", type=_flags.count(1), default=10, help="timed steps per run")
    parser.add_argument("--warmup", type=_flags.count(0), default=2, help="untimed steps")
    parser.add_argument("--seeds", type=_flags.count(1), nargs="+", default=[1, 3, 8])
    parser.add_argument(
        "--seed-loop",
        choices=("auto", "vmap", "map"),
        default="auto",
        help="the engine's seeds batched (vmap) or one after another (map), as the "
        "experiments' --seed-loop; auto: map on a CPU, vmap elsewhere",
    )
    parser.add_argument("--quiet-load", type=_flags.positive, default=0.6)
    parser.add_argument(
        "--wait-quiet",
        type=_flags.nonnegative,
        default=1800.0,
        metavar="SECONDS",
        help="wait up to this long for a quiet machine before starting (0: do not wait)",
    )
    parser.add_argument("--out", default="", help="write every run and the summary as JSON")
    parser.add_argument("--table", action="store_true", help="print the markdown table")
    parser.add_argument("--small", action="store_true", help="short sequences: smoke runs only")
    parser.add_argument(
        "--peer-python",
        default=PEER_PYTHON if os.path.exists(PEER_PYTHON) else sys.executable,
        help="the interpreter of the PyTorch and Keras runs (with the extra 'compare')",
    )
    parser.add_argument("--timeout", type=_flags.count(1), default=1800, help="seconds per run")
    parser.add_argument("--no-hugetlb", action="store_true")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# ---------------------------------------------------------------- one run (a child process)


def build(w, framework: str, num_seeds: int, steps: int, seed_loop: str = "auto"):
    """``(run, examples per call, info)`` of one framework on workload ``w``."""
    import _ours
    import _peers

    if framework == "engine":
        data = _workloads.arrays(w, w.batch * steps)
        model, objective = _workloads.model(w), _workloads.objective(w)
        run, compile_s, info = _ours.engine_segment(
            model,
            objective,
            _workloads.optimizer(w),
            data,
            w.batch,
            num_seeds,
            seed_loop=seed_loop,
            fit_options=_workloads.fit_options(w),
        )
        return run, num_seeds * w.batch * steps, info | {"xla_compile_s": compile_s}
    data = _workloads.arrays(w, w.batch)
    if framework == "ours":
        model, objective = _workloads.model(w), _workloads.objective(w)
        run, compile_s = _ours.train_step(model, objective, _workloads.optimizer(w), data)
        return run, w.batch, {"xla_compile_s": compile_s}
    return _peers.STEPS[framework](w, data), w.batch, {}


def child(args) -> dict:
    """``--child WORKLOAD:FRAMEWORK:SEEDS``: one measurement, printed as a RESULT line."""
    import _ours
    import _peers

    name, framework, seeds = args.child.split(":")
    w, num_seeds = _workloads.get(name, args.small), int(seeds)
    if framework == "engine":
        _ours.request_devices(num_seeds)  # before JAX starts
    t0 = time.perf_counter()
    try:
        run, examples, info = build(w, framework, num_seeds, args.steps, args.seed_loop)
    except (ImportError, _peers.Unsupported) as e:
        return {"skipped": f"{type(e).__name__}: {e}"}
    run()
    first_s = time.perf_counter() - t0
    calls = 1 if framework == "engine" else args.steps  # an engine call trains --steps
    for _ in range(args.warmup if framework != "engine" else min(args.warmup, 1)):
        run()
    seconds = _harness.time_steps(run, calls, 1)[0] * calls
    return info | {
        "examples_per_s": examples * calls / seconds,
        "compile_s": first_s,  # building the model to the end of its first step
        "timed_s": seconds,
        "batch": w.batch,
    }


# ---------------------------------------------------------------- the parent: every run


def entries(args) -> list[tuple[str, int]]:
    """``(framework, seeds)`` of one repeat: the engine once per ``--seeds`` value."""
    out = []
    for framework in args.frameworks:
        seeds = args.seeds if framework == "engine" else [1]
        out += [(framework, n) for n in seeds]
    return out


def label(framework: str, seeds: int) -> str:
    return f"engine{seeds}" if framework == "engine" else framework


def measure(args, workload: str, framework: str, seeds: int) -> dict:
    """One run in a fresh process, with the machine's state before and after."""
    python = args.peer_python if framework in ("torch", "keras", "keras_xla") else sys.executable
    command = [python, os.path.abspath(__file__), "--child", f"{workload}:{framework}:{seeds}"]
    command += ["--steps", str(args.steps), "--warmup", str(args.warmup)]
    command += ["--seed-loop", getattr(args, "seed_loop", "auto")]
    command += ["--small"] if args.small else []
    env = dict(os.environ) if args.no_hugetlb else _harness.hugetlb_env()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_flags.ROOT, env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    before = _harness.machine_state(args.quiet_load)
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=args.timeout
        )
        lines = [x for x in done.stdout.splitlines() if x.startswith(RESULT)]
        result = (
            json.loads(lines[-1][len(RESULT) :])
            if done.returncode == 0 and lines
            else {
                "error": [
                    x.strip() for x in (done.stderr or done.stdout).splitlines() if x.strip()
                ][-2:]
            }
        )
    except subprocess.TimeoutExpired:
        result = {"error": [f"timed out after {args.timeout} s"]}
    after = _harness.machine_state(args.quiet_load)
    return {"workload": workload, "framework": label(framework, seeds), "seeds": seeds} | (
        result | {"before": before, "after": after}
    )


def run_all(args) -> list[dict]:
    """Every (workload, framework) ``--repeats`` times, interleaved: repeat ``r`` runs
    every framework once per workload, the order rotated by ``r``. A framework that
    skipped a workload (no equivalent model, not importable) is not asked again."""
    runs, skipped, order = [], set(), entries(args)
    for r in range(args.repeats):
        turn = order[r % len(order) :] + order[: r % len(order)]
        for workload in args.workloads:
            for framework, seeds in turn:
                if (workload, framework) in skipped:
                    continue
                run = measure(args, workload, framework, seeds) | {"repeat": r}
                runs.append(run)
                print(_progress(run), flush=True)
                if "skipped" in run:
                    skipped.add((workload, framework))
    return runs


def _progress(run: dict) -> str:
    head = f"[{run['repeat']}] {run['workload']:18s} {run['framework']:10s}"
    load = f"load {run['before']['load'][0]:.2f} -> {run['after']['load'][0]:.2f}"
    if "skipped" in run:
        return f"{head} skipped: {run['skipped']}"
    if "error" in run:
        return f"{head} FAILED: {' | '.join(run['error'])}"
    return f"{head} {run['examples_per_s']:10,.0f} ex/s  compile {run['compile_s']:6.1f} s  {load}"


# ---------------------------------------------------------------- summary and table


def _by_repeat(runs: list[dict], workload: str, framework: str) -> dict[int, float]:
    return {
        r["repeat"]: r["examples_per_s"]
        for r in runs
        if r["workload"] == workload and r["framework"] == framework and "examples_per_s" in r
    }


def _median(values) -> float | None:
    import statistics

    values = list(values)
    return statistics.median(values) if values else None


def _ratio(runs, workload: str, ours: str, peer: str) -> dict | None:
    """The median of the per-repeat ratios ``ours / peer`` (repeats where both ran)."""
    a, b = _by_repeat(runs, workload, ours), _by_repeat(runs, workload, peer)
    both = sorted(set(a) & set(b))
    return _harness.median_ratio([a[r] for r in both], [b[r] for r in both]) if both else None


def summarize_workload(runs: list[dict], workload: str, labels: list[str]) -> dict:
    """Per framework: median examples/s, median compile seconds, repeats, why it was
    left out; the fastest peer and the ratios to it; the engine's mesh and seed loop."""
    mine = [r for r in runs if r["workload"] == workload]
    frameworks = {}
    for name in labels:
        done = [r for r in mine if r["framework"] == name]
        frameworks[name] = {
            "examples_per_s": _median(r["examples_per_s"] for r in done if "examples_per_s" in r),
            "compile_s": _median(r["compile_s"] for r in done if "compile_s" in r),
            "repeats": sum("examples_per_s" in r for r in done),
            "left_out": next(
                (r.get("skipped") or r.get("error") for r in done if "examples_per_s" not in r),
                None,
            ),
            "mesh": next((r["mesh"] for r in done if "mesh" in r), None),
            "seed_loop": next((r["seed_loop"] for r in done if "seed_loop" in r), None),
        }
    peers = [p for p in PEERS if frameworks.get(p, {}).get("examples_per_s")]
    fastest = max(peers, key=lambda p: frameworks[p]["examples_per_s"], default=None)
    ratios = {
        name: _ratio(runs, workload, name, fastest)
        for name in labels
        if fastest and name not in PEERS
    }
    quiet = all(r["before"]["quiet"] and r["after"]["quiet"] for r in mine)
    return {"frameworks": frameworks, "fastest_peer": fastest, "ratios": ratios, "quiet": quiet}


def _interval(ratio: dict | None) -> str:
    if not ratio:
        return "n/a"
    if ratio.get("low") is None:
        return f"{ratio['median']:.2f} (n={ratio['n']}, no interval)"
    return f"{ratio['median']:.2f} [{ratio['low']:.2f}, {ratio['high']:.2f}]"


def _rate(f: dict) -> str:
    return "-" if not f["examples_per_s"] else f"{f['examples_per_s']:,.0f}"


def table(summary: dict, args) -> str:
    """The markdown tables: the ratios to the fastest peer, then every framework's
    examples/s and compile seconds (medians over the repeats)."""
    engines = [f"engine{n}" for n in args.seeds if "engine" in args.frameworks]
    head = "| workload | fastest peer | ours 1 seed / peer | "
    head += "".join(f"{e} / peer | " for e in engines) + "seed loop (mesh) | quiet |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for name, row in summary.items():
        fw, ratios = row["frameworks"], row["ratios"]
        loops = ", ".join(
            f"{e[6:]}: {fw[e]['seed_loop']} ({'x'.join(map(str, fw[e]['mesh']))})"
            for e in engines
            if fw[e]["seed_loop"]
        )
        cells = [name, row["fastest_peer"] or "none", _interval(ratios.get("ours"))]
        cells += [_interval(ratios.get(e)) for e in engines]
        lines.append(
            "| " + " | ".join([*cells, loops or "-", "yes" if row["quiet"] else "NO"]) + " |"
        )
    labels = next(iter(summary.values()))["frameworks"] if summary else {}
    head = "| workload | " + " | ".join(f"{x} ex/s (compile s)" for x in labels) + " |"
    lines += ["", head, "|" + "---|" * (head.count("|") - 1)]
    for name, row in summary.items():
        cells = [
            f"{_rate(f)} ({f['compile_s']:.1f})" if f["examples_per_s"] else "left out"
            for f in row["frameworks"].values()
        ]
        lines.append("| " + " | ".join([name, *cells]) + " |")
    return "\n".join(lines)


def _reason(why) -> str:
    return why if isinstance(why, str) else " | ".join(why)


def left_out(summary: dict) -> list[str]:
    """One line per (workload, framework) left out, with the reason."""
    return [
        f"{name} / {x}: {_reason(f['left_out'])}"
        for name, row in summary.items()
        for x, f in row["frameworks"].items()
        if not f["examples_per_s"] and f["left_out"]
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.child:
        print(RESULT + json.dumps(child(args)), flush=True)
        return 0
    start = _harness.wait_quiet(args.quiet_load, args.wait_quiet)
    print(f"machine at the start: {json.dumps(start)} ({os.cpu_count()} cores)", flush=True)
    if not start["quiet"]:
        print(
            f"NOT QUIET: the 1-minute load did not fall below {args.quiet_load} with no "
            f"other busy process within {args.wait_quiet:.0f} s; measuring anyway",
            flush=True,
        )
    runs = run_all(args)
    labels = [label(f, n) for f, n in entries(args)]
    summary = {w: summarize_workload(runs, w, labels) for w in args.workloads}
    end = _harness.machine_state(args.quiet_load)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(
                {
                    "argv": sys.argv[1:],
                    "start": start,
                    "end": end,
                    "runs": runs,
                    "summary": summary,
                    "small": args.small,
                },
                f,
                indent=1,
            )
    if args.table:
        print(table(summary, args))
    for line in left_out(summary):
        print(f"left out: {line}")
    quiet = start["quiet"] and all(r["quiet"] for r in summary.values())
    print(
        "every run on a quiet machine"
        if quiet
        else "NOT QUIET: some runs were not on a quiet "
        "machine (see the load before and after each run)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(_flags.run(main))
