"""Everything a GPU session measures, in one command of under ~10 minutes:

    python benchmarks/gpu.py [--out runs/gpu] [--budget-s 540] [--data-dir DIR] [--dry-run]
        [--steps environment,cudnn,workloads,experiments]

It runs the project from source on the JAX it finds (the repository root on
``PYTHONPATH``, nothing installed), with PyTorch as the only peer, and only if it imports:

1. ``environment``: Python, JAX and jaxlib (and the lock file's JAX), the devices, whether
   the default device is a CUDA GPU, what ``jax.experimental.rnn`` offers, PyTorch;
2. ``cudnn``: ``benchmarks/cudnn_lstm.py``, our LSTM against ``jax.experimental.rnn``'s
   cuDNN LSTM on the same Keras-layout weights: values and gradients within the bounds,
   and the median forward + backward time at document 002's shape and a bigger one (off a
   CUDA GPU: the mapping against ``lstm_ref``, no cuDNN time, and the output says so);
3. ``workloads``: ``benchmarks/workloads.py`` one workload at a time, ``--frameworks
   ours,engine`` (and ``torch``, on its CPU threads, when it imports), the engine's 8
   seeds vmapped (``--seed-loop vmap``), the repeats scaled to the budget, the workloads
   that no longer fit left out and named;
4. ``experiments``: each experiment's ``--local`` run (``--seed-loop vmap`` where the
   experiment has the flag; without it the runner batches the seeds too), into
   ``OUT/experiments/<time>/NAME``, with its wall time and its ``results.json``
   headline; one whose data is absent is skipped, saying which files it looked for.

Every step runs in processes of its own, stopped at the step's share of ``--budget-s``
(a later step gets what an earlier one left). ``OUT/gpu.json`` holds every step's record
and ``OUT/summary.md`` the tables; each step's output is in ``OUT/logs/``.

``--dry-run``: the same at tiny sizes (cudnn ``--dry-run``, one workload ``--small`` with
1 repeat of 1 step, every experiment's command line parsed but only the copy task run,
for 4 steps), on any machine, a CPU included, in about a minute.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import _flags

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = _flags.ROOT
RESULT = "RESULT "
STEPS = ("environment", "cudnn", "workloads", "experiments")
SHARES = {"environment": 0.08, "cudnn": 0.20, "workloads": 0.25, "experiments": 0.47}
# imdb_lstm first: document 002's LSTM, the cuDNN comparison's shape.
WORKLOADS = (
    "imdb_lstm",
    "bilstm",
    "char_lstm",
    "copy_attention",
    "seq2seq_bahdanau",
    "weather_gru",
    "imdb_gru",
    "imdb_simple_rnn",
)
WORKLOAD_RUN_S = 15.0  # a guess at one fresh process's start, compile and steps on a GPU
EXPERIMENTS = {  # name -> what its --local run needs beyond --local (the cheap ones first)
    "copy_task": [],
    "vanishing_gradients": [],
    "seq2seq": [],
    "weather": [],
    "char_textgen": [],
    "imdb": ["--model", "lstm"],  # document 002's LSTM
    "imdb_attention": [],
    "imdb_glove": [],
}
_IMDB = (("imdb.npz",), ("aclImdb_v1_labeled.tar.xz", "imdb_word_index.json"))
_IMDB += (("aclImdb", "imdb_word_index.json"),)
_GLOVE = "glove.6B.50d.imdb_top20k.txt.gz"
DATA = {  # name -> the alternatives (each: files that must all be in the data dir)
    "weather": (("tmy3_723170_greensboro_nc.csv",),),
    "char_textgen": (("alice_in_wonderland_pg11.txt",),),
    "imdb": _IMDB,
    "imdb_attention": _IMDB,
    "imdb_glove": ((_GLOVE, "aclImdb_v1_labeled.tar.xz"), (_GLOVE, "aclImdb")),
}
DRY_WORKLOAD = "char_lstm"
DRY_EXPERIMENT = "copy_task"
DRY_FLAGS = ["--models", "baseline", "--steps", "4", "--eval-examples", "4"]
DRY_FLAGS += ["--checkpoint-every", "2", "--spot-checks", "1"]
MIN_START_S = 15.0  # an experiment is not started with less time than this left


def parse_args(argv: list[str]):
    parser = _flags.parser(__doc__)
    parser.add_argument("--out", default=os.path.join(ROOT, "runs", "gpu"))
    parser.add_argument("--budget-s", type=_flags.positive, default=540.0)
    parser.add_argument("--data-dir", default="", help="the data sets ($RNN_ATTN_DATA)")
    parser.add_argument("--steps", type=_flags.names(STEPS), default=list(STEPS))
    parser.add_argument("--workloads", type=_flags.names(WORKLOADS), default=list(WORKLOADS))
    parser.add_argument(
        "--experiments", type=_flags.names(tuple(EXPERIMENTS)), default=list(EXPERIMENTS)
    )
    parser.add_argument("--workload-seeds", type=_flags.count(1), default=8)
    parser.add_argument("--dry-run", action="store_true", help="everything at tiny sizes")
    args = parser.parse_args(argv)
    args.out = os.path.abspath(args.out)
    return args


class Clock:
    """The budget: step ``s`` must end by the start plus the shares of ``s`` and the
    steps before it (so a step that ends early leaves its time to the next ones)."""

    def __init__(self, budget_s: float, steps: list[str], now=time.monotonic):
        self.now, self.start = now, now()
        self.ends, total = {}, 0.0
        for name in STEPS:
            total += SHARES[name] if name in steps else 0.0
        done = 0.0
        for name in (s for s in STEPS if s in steps):
            done += SHARES[name]
            self.ends[name] = self.start + budget_s * done / total

    def left(self, step: str) -> float:
        return max(0.0, self.ends[step] - self.now())


def child_env(data_dir: str = "") -> dict:
    """The environment of every child: the repository root on ``PYTHONPATH`` (the
    project from source), ``$RNN_ATTN_DATA`` from ``--data-dir``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if data_dir:
        env["RNN_ATTN_DATA"] = os.path.abspath(data_dir)
    return env


def result_line(text: str) -> dict | None:
    """The last ``RESULT {json}`` line of a child's output, or None."""
    lines = [x for x in text.splitlines() if x.startswith(RESULT)]
    try:
        return json.loads(lines[-1][len(RESULT) :]) if lines else None
    except json.JSONDecodeError:
        return None


def call(command: list[str], timeout_s: float, log: str, env: dict | None = None) -> dict:
    """Runs ``command`` in a session of its own (so a timeout stops its children too),
    its output into ``log``. Returns ``status`` (``ok``, ``failed (exit N)`` or ``timed
    out after N s``), ``returncode``, ``wall_s``, ``log``, ``tail`` (the last lines)
    and ``result`` (its ``RESULT`` line, if any)."""
    os.makedirs(os.path.dirname(log), exist_ok=True)
    t0 = time.monotonic()
    with open(log, "w") as f:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True
        )
        timed_out = False
        try:
            proc.wait(timeout=max(1.0, timeout_s))
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:  # past its time, or this script interrupted: the group this call started
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    rc = proc.returncode
    with open(log, errors="replace") as f:
        text = f.read()
    wall = time.monotonic() - t0
    status = "ok" if rc == 0 else f"failed (exit {rc})"
    if timed_out:
        status = f"timed out after {wall:.0f} s"
    tail = [x for x in text.splitlines() if x.strip() and not x.startswith(RESULT)][-5:]
    return {
        "status": status,
        "returncode": rc,
        "wall_s": round(wall, 2),
        "command": command,
        "log": log,
        "tail": tail,
        "result": result_line(text),
    }


# ---------------------------------------------------------------- 1. environment, 2. cudnn


def step_environment(args, clock: Clock, env: dict) -> dict:
    command = [sys.executable, os.path.join(HERE, "_gpu_child.py"), "environment"]
    record = call(command, clock.left("environment"), _log(args, "environment"), env)
    found = record["result"] or {}
    torch = found.get("torch", {})
    print(
        f"JAX {found.get('jax', '?')} (lock file: {found.get('lock_jax')}), backend "
        f"{found.get('backend', '?')}, devices {found.get('devices', '?')}, CUDA "
        f"{found.get('cuda')}; torch importable: {torch.get('importable', False)}"
        + (f" ({torch['version']}, CUDA {torch['cuda']})" if torch.get("importable") else ""),
        flush=True,
    )
    return record


def step_cudnn(args, clock: Clock, env: dict) -> dict:
    left = clock.left("cudnn")
    command = [sys.executable, os.path.join(HERE, "cudnn_lstm.py")]
    command += ["--budget-s", f"{max(1.0, left - 20):.0f}"]
    command += ["--out", os.path.join(args.out, "cudnn.json")]
    command += ["--dry-run"] if args.dry_run else []
    record = call(command, left, _log(args, "cudnn"), env)
    for line in cudnn_lines(record["result"] or {}):
        print(line, flush=True)
    return record


def cudnn_lines(result: dict) -> list[str]:
    """One line per check and per timing of ``cudnn_lstm.py``'s result."""
    lines = [f"cuDNN: {result['note']}"] if result.get("note") else []
    for c in result.get("check", []):
        if "error" in c:
            lines.append(f"check FAILED to run: {c['error']}")
            continue
        diffs = ", ".join(f"{k} {v:.1e}" for k, v in c["max_relative_difference"].items())
        what = f"{c['num_layers']} layer(s){' bidirectional' if c['bidirectional'] else ''}"
        ok = "within bounds" if c["ok"] else "OUTSIDE the bounds"
        lines.append(f"check {c['shape']} {what} vs {c['implementation']}: {diffs}: {ok}")
    for t in result.get("timing", []):
        if "error" in t:
            lines.append(f"timing FAILED to run: {t['error']}")
            continue
        times = t["implementations"]
        parts = [
            f"{name} {v['median_s'] * 1e3:.2f} ms" if "median_s" in v else f"{name} error"
            for name, v in times.items()
            if isinstance(v, dict)
        ]
        if "ours_fastest_over_cudnn" in times:
            parts.append(f"our fastest / cuDNN {times['ours_fastest_over_cudnn']:.2f}")
        lines.append(f"fwd+bwd {t['shape']}: " + ", ".join(parts))
    return lines + [
        f"not run: {x['kind']} {x['args']} ({x['why']})" for x in result.get("not_run", [])
    ]


def _log(args, name: str) -> str:
    return os.path.join(args.out, "logs", f"{name}.log")


# ---------------------------------------------------------------- 3. workloads


def workload_plan(args, torch_ok: bool, seconds: float) -> dict:
    """The workload runs: frameworks (``torch`` only when it imports), repeats scaled to
    ``seconds`` (1 to 5, ``WORKLOAD_RUN_S`` a run), steps, seeds; tiny in a dry run."""
    frameworks = ["ours", "engine"] + (["torch"] if torch_ok else [])
    if args.dry_run:
        return dict(workloads=[DRY_WORKLOAD], frameworks=frameworks, repeats=1, steps=1)
    runs = len(args.workloads) * len(frameworks) * WORKLOAD_RUN_S
    repeats = int(max(1, min(5, seconds // runs)))
    return dict(workloads=list(args.workloads), frameworks=frameworks, repeats=repeats, steps=10)


def workload_command(args, plan: dict, name: str, timeout_s: float) -> list[str]:
    """``workloads.py`` for one workload (its JSON: ``OUT/workloads/NAME.json``)."""
    command = [sys.executable, os.path.join(HERE, "workloads.py"), "--workloads", name]
    command += ["--frameworks", ",".join(plan["frameworks"]), "--seed-loop", "vmap"]
    command += ["--seeds", "2" if args.dry_run else str(args.workload_seeds)]
    command += ["--repeats", str(plan["repeats"]), "--steps", str(plan["steps"])]
    command += ["--warmup", "0" if args.dry_run else "2", "--wait-quiet", "0", "--table"]
    command += ["--peer-python", sys.executable, "--timeout", f"{max(1, int(timeout_s))}"]
    command += ["--out", workload_json(args, name)]
    return command + (["--small"] if args.dry_run else [])


def workload_json(args, name: str) -> str:
    return os.path.join(args.out, "workloads", f"{name}.json")


def _workload_summary(path: str, name: str) -> dict | None:
    try:
        with open(path) as f:
            return json.load(f)["summary"][name]["frameworks"]
    except (OSError, KeyError, ValueError):
        return None


def step_workloads(args, clock: Clock, env: dict, torch_ok: bool) -> dict:
    """Each workload of the plan while the step's time lasts (the rest: ``not run``)."""
    plan = workload_plan(args, torch_ok, clock.left("workloads"))
    os.makedirs(os.path.join(args.out, "workloads"), exist_ok=True)
    runs, longest = {}, 0.0
    for name in plan["workloads"]:
        left = clock.left("workloads")
        if left < max(MIN_START_S, longest):
            runs[name] = {"status": f"not run: {left:.0f} s left of the step's budget"}
        else:
            command = workload_command(args, plan, name, left)
            runs[name] = call(command, left, _log(args, f"workload_{name}"), env)
            runs[name]["frameworks"] = _workload_summary(workload_json(args, name), name)
            longest = max(longest, runs[name]["wall_s"])
        print(f"workload {name}: {runs[name]['status']} {_rates(runs[name])}", flush=True)
    return {"status": "ok", "plan": plan, "runs": runs}


def _rates(run: dict) -> str:
    frameworks = run.get("frameworks") or {}
    return ", ".join(
        f"{k} {v['examples_per_s']:,.0f} ex/s" if v.get("examples_per_s") else f"{k} -"
        for k, v in frameworks.items()
    )


# ---------------------------------------------------------------- 4. experiments


def data_dir(args) -> str:
    """Where the experiments look for data: ``--data-dir``, ``$RNN_ATTN_DATA``, else
    ``../shared/data`` beside the repository (``rnn_attn.data.paths``)."""
    from rnn_attn.data.paths import default_data_dir  # no JAX: the parent stays light

    return os.path.abspath(args.data_dir or default_data_dir())


def data_missing(name: str, directory: str) -> str | None:
    """Why experiment ``name`` cannot find its data in ``directory`` (None: it can)."""
    options = DATA.get(name)
    if not options or any(
        all(os.path.exists(os.path.join(directory, f)) for f in files) for files in options
    ):
        return None
    wanted = " or ".join(" + ".join(files) for files in options)
    return f"data absent: none of {wanted} in {directory}"


def experiment_argv(args, name: str, workdir: str) -> list[str]:
    """``python -m experiments.NAME``'s arguments: ``--local`` into ``workdir`` (a dry
    run's copy task: ``DRY_FLAGS`` too); ``--seed-loop vmap`` is added by the check."""
    argv = ["--local", "--workdir", workdir, "--no-progress", *EXPERIMENTS[name]]
    return argv + (DRY_FLAGS if args.dry_run and name == DRY_EXPERIMENT else [])


def headline(path: str) -> dict | None:
    """A ``results.json``'s headline: each model's seeds and the mean over its seeds of
    each TEST figure (each figure when it has none), the devices and the timing."""
    try:
        with open(path) as f:
            results = json.load(f)
    except (OSError, ValueError):
        return None
    models = {}
    for model, record in (results.get("models") or {}).items():
        per_seed = record.get("per_seed") or {}
        names = [k for k in per_seed if k.startswith("test")] or list(per_seed)
        means = {k: _mean(per_seed[k]) for k in names}
        models[model] = {"seeds": record.get("seeds"), "mean": means}
    return {"models": models, "devices": results.get("devices"), "timing": results.get("timing")}


def _mean(values) -> float | None:
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    return sum(numbers) / len(numbers) if numbers else None


def check_experiments(args, clock: Clock, env: dict, plan: dict) -> dict:
    """Every planned command line parsed by its experiment (``_gpu_child.py``)."""
    path = os.path.join(args.out, "logs", "experiments_plan.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"seed_loop": "vmap", "experiments": plan}, f)
    command = [sys.executable, os.path.join(HERE, "_gpu_child.py"), "experiments", path]
    timeout = min(120.0, clock.left("experiments"))
    return call(command, timeout, _log(args, "experiments_check"), env)


def run_experiment(args, clock: Clock, env: dict, name: str, checked: dict) -> dict:
    """One experiment's checked command run (or why not), with its headline."""
    if "error" in checked:
        return {"status": f"refused: {checked['error']}", "argv": checked.get("argv")}
    if args.dry_run and name != DRY_EXPERIMENT:
        return {"status": "validated only (dry run)"} | checked
    left = clock.left("experiments")
    if left < MIN_START_S:
        return {"status": f"not run: {left:.0f} s left of the step's budget"} | checked
    command = [sys.executable, "-m", f"experiments.{name}", *checked["argv"]]
    record = call(command, left, _log(args, f"experiment_{name}"), env) | checked
    record["headline"] = headline(os.path.join(checked["workdir"], "results.json"))
    return record


def step_experiments(args, clock: Clock, env: dict) -> dict:
    root = os.path.join(args.out, "experiments", time.strftime("%Y%m%d-%H%M%S"))
    where = data_dir(args)
    runs = {n: {"status": why} for n in args.experiments if (why := data_missing(n, where))}
    plan = {
        n: experiment_argv(args, n, os.path.join(root, n))
        for n in args.experiments
        if n not in runs
    }
    check = check_experiments(args, clock, env, plan) if plan else {"result": {}}
    for name in plan:
        checked = (check["result"] or {}).get(name) or {"error": f"not checked: {check['status']}"}
        runs[name] = run_experiment(args, clock, env, name, checked)
    for name in args.experiments:
        print(f"experiment {name}: {runs[name]['status']}", flush=True)
    return {"status": "ok", "data_dir": where, "workdirs": root, "runs": runs}


# ---------------------------------------------------------------- the report


def summary_markdown(report: dict) -> str:
    """``OUT/summary.md``: the environment, the cuDNN lines, the workloads' and the
    experiments' tables."""
    steps = report["steps"]
    env = (steps.get("environment") or {}).get("result") or {}
    lines = [f"# GPU run{' (DRY RUN: tiny sizes)' if report['dry_run'] else ''}", ""]
    lines += [f"- command: `{' '.join(report['argv'])}`; wall {report['wall_s']:.0f} s"]
    for key in ("jax", "lock_jax", "backend", "devices", "cuda", "torch", "rnn_attn_from"):
        lines.append(f"- {key}: {env.get(key, 'not measured')}")
    cudnn = steps.get("cudnn")
    if cudnn:
        lines += ["", "## cuDNN LSTM vs our scan", "", f"status: {cudnn['status']}", ""]
        lines += [f"- {x}" for x in cudnn_lines(cudnn.get("result") or {})]
    lines += _workload_table(steps.get("workloads")) + _experiment_table(steps.get("experiments"))
    return "\n".join(lines) + "\n"


def _workload_table(step: dict | None) -> list[str]:
    if not step:
        return []
    plan = step["plan"]
    lines = ["", "## Workloads (examples/s, median over repeats)", ""]
    lines.append(
        f"frameworks {', '.join(plan['frameworks'])}; {plan['repeats']} repeat(s) of "
        f"{plan['steps']} step(s); the engine's seeds vmapped; torch (if there) on its CPU "
        f"threads (benchmarks/_peers.py), not the GPU"
    )
    lines.append("")
    lines += ["| workload | status | rates |", "|---|---|---|"]
    for name, run in step["runs"].items():
        lines.append(f"| {name} | {run['status']} | {_rates(run) or '-'} |")
    return lines


def _experiment_table(step: dict | None) -> list[str]:
    if not step:
        return []
    lines = ["", "## Experiments (--local)", "", f"data: {step['data_dir']}", ""]
    lines += [
        "| experiment | status | wall s | seeds, seed loop | headline |",
        "|---|---|---|---|---|",
    ]
    for name, run in step["runs"].items():
        seeds = f"{run.get('seeds', '-')}, {run.get('seed_loop', '-')}"
        wall = f"{run['wall_s']:.0f}" if "wall_s" in run else "-"
        lines.append(f"| {name} | {run['status']} | {wall} | {seeds} | {_headline_text(run)} |")
    return lines


def _headline_text(run: dict) -> str:
    models = (run.get("headline") or {}).get("models") or {}
    return (
        "; ".join(
            f"{model}: " + ", ".join(f"{k} {v:.4g}" for k, v in m["mean"].items() if v is not None)
            for model, m in models.items()
        )
        or "-"
    )


def write_report(args, report: dict) -> None:
    with open(os.path.join(args.out, "gpu.json"), "w") as f:
        json.dump(report, f, indent=1)
    with open(os.path.join(args.out, "summary.md"), "w") as f:
        f.write(summary_markdown(report))


def run_steps(args, report: dict) -> None:
    """Every step of ``--steps`` in order, the report written after each."""
    clock, env = Clock(args.budget_s, args.steps), child_env(args.data_dir)
    t0 = time.monotonic()
    for name in args.steps:
        print(f"== {name} ({clock.left(name):.0f} s)", flush=True)
        if name == "environment":
            record = step_environment(args, clock, env)
        elif name == "cudnn":
            record = step_cudnn(args, clock, env)
        elif name == "workloads":
            found = (report["steps"].get("environment") or {}).get("result") or {}
            torch_ok = found.get("torch", {}).get("importable", False)
            record = step_workloads(args, clock, env, torch_ok)
        else:
            record = step_experiments(args, clock, env)
        report["steps"][name] = record
        report["wall_s"] = time.monotonic() - t0
        write_report(args, report)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.makedirs(args.out, exist_ok=True)
    report = {
        "argv": [os.path.relpath(__file__, ROOT), *(sys.argv[1:] if argv is None else argv)],
        "dry_run": args.dry_run,
        "budget_s": args.budget_s,
        "python": sys.executable,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "wall_s": 0.0,
        "steps": {},
    }
    run_steps(args, report)
    print(f"wrote {os.path.join(args.out, 'gpu.json')} and summary.md in {report['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(_flags.run(main))
