"""benchmarks/gpu.py, the one command of a GPU session, on the CPU: its flags, the budget's
shares, the plan it would run (workload and experiment command lines, the data checks),
a child stopped at its time limit with its children, a results.json headline, the
summary, and the environment step's JSON record. The whole dry run (about a minute) is
in the slow tier."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import types

import pytest

from tests._paths import ROOT

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import _gpu_child  # noqa: E402
import cudnn_lstm  # noqa: E402
import gpu  # noqa: E402


def test_the_flags_and_their_defaults():
    args = gpu.parse_args([])
    assert args.steps == list(gpu.STEPS) and args.budget_s == 540.0 and not args.dry_run
    assert args.workloads[0] == "imdb_lstm" and args.workload_seeds == 8
    args = gpu.parse_args(["--dry-run", "--steps", "cudnn,experiments", "--out", "x"])
    assert args.steps == ["cudnn", "experiments"] and args.out == os.path.abspath("x")


@pytest.mark.parametrize("argv", [["--steps", "gpu"], ["--budget-s", "0"], ["--workloads", "x"]])
def test_bad_flags_are_one_line(argv, capsys):
    with pytest.raises(SystemExit) as e:
        gpu.parse_args(argv)
    assert e.value.code == 2 and capsys.readouterr().err.startswith("error: ")


def test_a_cudnn_shape_has_four_numbers(capsys):
    assert cudnn_lstm.parse_args(["--shapes", "2,3,4,5"]).shapes == [[2, 3, 4, 5]]
    with pytest.raises(SystemExit):
        cudnn_lstm.parse_args(["--shapes", "2,3,4"])
    assert "batch,maxlen,features,units" in capsys.readouterr().err


def test_the_budget_s_shares_add_up_and_roll_over():
    now = [100.0]
    clock = gpu.Clock(500.0, list(gpu.STEPS), now=lambda: now[0])
    assert abs(sum(gpu.SHARES.values()) - 1.0) < 1e-9
    assert clock.ends["experiments"] == pytest.approx(600.0)
    assert clock.left("environment") == pytest.approx(500 * gpu.SHARES["environment"])
    now[0] = 110.0  # the environment took 10 s: the cuDNN step has the rest of its share too
    assert clock.left("cudnn") == pytest.approx(500 * (0.08 + 0.20) - 10)
    only = gpu.Clock(100.0, ["experiments"], now=lambda: 0.0)
    assert only.left("experiments") == pytest.approx(100.0)


def _args(**kw):
    base = dict(dry_run=False, out="/o", workloads=list(gpu.WORKLOADS), workload_seeds=8)
    return types.SimpleNamespace(**(base | kw))


def test_the_workload_plan_scales_its_repeats_and_takes_torch_only_when_it_imports():
    plan = gpu.workload_plan(_args(), torch_ok=False, seconds=135.0)
    assert plan["frameworks"] == ["ours", "engine"] and plan["repeats"] == 1
    plan = gpu.workload_plan(_args(workloads=["imdb_lstm"]), torch_ok=True, seconds=3600)
    assert plan["frameworks"] == ["ours", "engine", "torch"] and plan["repeats"] == 5
    dry = gpu.workload_plan(_args(dry_run=True), torch_ok=False, seconds=1e4)
    assert dry == dict(
        workloads=[gpu.DRY_WORKLOAD], frameworks=["ours", "engine"], repeats=1, steps=1
    )


def test_a_workload_command_runs_one_workload_with_vmapped_seeds():
    plan = gpu.workload_plan(_args(), torch_ok=True, seconds=300)
    command = gpu.workload_command(_args(), plan, "imdb_lstm", 99.5)
    flags = {
        flag: value
        for flag, value in zip(command, command[1:] + [""], strict=True)
        if flag.startswith("--") and not value.startswith("--")
    }
    assert command[:2] == [sys.executable, os.path.join(gpu.HERE, "workloads.py")]
    assert flags["--workloads"] == "imdb_lstm" and flags["--seed-loop"] == "vmap"
    assert flags["--frameworks"] == "ours,engine,torch" and flags["--seeds"] == "8"
    assert flags["--peer-python"] == sys.executable and flags["--timeout"] == "99"
    assert flags["--wait-quiet"] == "0" and "--small" not in command
    dry = gpu.workload_command(_args(dry_run=True), plan, "char_lstm", 10)
    assert dry[-1] == "--small" and dry[dry.index("--seeds") + 1] == "2"


def test_experiments_without_their_data_are_skipped_saying_why(tmp_path):
    why = gpu.data_missing("weather", str(tmp_path))
    assert why.startswith("data absent: none of tmy3_723170_greensboro_nc.csv in ")
    assert "imdb.npz or aclImdb_v1_labeled.tar.xz + imdb_word_index.json" in gpu.data_missing(
        "imdb", str(tmp_path)
    )
    assert gpu.data_missing("copy_task", str(tmp_path)) is None  # generated data
    (tmp_path / "imdb.npz").write_bytes(b"")
    assert gpu.data_missing("imdb_attention", str(tmp_path)) is None
    assert gpu.data_missing("imdb_glove", str(tmp_path)) is not None


def test_the_experiment_command_lines():
    argv = gpu.experiment_argv(_args(), "imdb", "/w/imdb")
    assert argv == ["--local", "--workdir", "/w/imdb", "--no-progress", "--model", "lstm"]
    assert gpu.experiment_argv(_args(dry_run=True), "weather", "/w") == argv[:2] + ["/w", argv[3]]
    dry = gpu.experiment_argv(_args(dry_run=True), gpu.DRY_EXPERIMENT, "/w")
    assert dry[-len(gpu.DRY_FLAGS) :] == gpu.DRY_FLAGS


def test_the_check_adds_seed_loop_vmap_where_the_experiment_has_the_flag(tmp_path):
    copy = _gpu_child.check_experiment("copy_task", ["--local", "--workdir", str(tmp_path)], "vmap")
    assert copy["argv"][-2:] == ["--seed-loop", "vmap"] and copy["seed_loop"] == "vmap"
    assert copy["seeds"] == 2 and copy["workdir"] == str(tmp_path)
    weather = _gpu_child.check_experiment("weather", ["--local"], "vmap")
    assert not weather["seed_loop_flag"] and "--seed-loop" not in weather["argv"]
    assert not os.listdir(tmp_path)  # parsed, nothing run


def test_a_child_past_its_time_is_stopped_with_its_children(tmp_path):
    ok = gpu.call(
        [sys.executable, "-c", 'print("x"); print("RESULT {\\"a\\": 1}")'],
        30,
        str(tmp_path / "ok.log"),
    )
    assert ok["status"] == "ok" and ok["result"] == {"a": 1} and ok["tail"] == ["x"]
    pid_file = tmp_path / "pid"
    script = (
        "import subprocess, sys, time; "
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        f"open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(60)"
    )
    t0 = time.monotonic()
    late = gpu.call([sys.executable, "-c", script], 1.5, str(tmp_path / "late.log"))
    assert late["status"].startswith("timed out after") and time.monotonic() - t0 < 10
    child = int(pid_file.read_text())
    time.sleep(0.2)
    assert (
        not os.path.exists(f"/proc/{child}") or "Z" in open(f"/proc/{child}/stat").read().split()[2]
    )
    failed = gpu.call([sys.executable, "-c", "raise SystemExit(3)"], 30, str(tmp_path / "f.log"))
    assert failed["status"] == "failed (exit 3)" and failed["result"] is None


def test_a_results_json_headline_means_the_test_figures_over_seeds():
    path = os.path.join(ROOT, "docs", "runs", "001_copy_task", "results.json")
    head = gpu.headline(path)
    with open(path) as f:
        results = json.load(f)
    for model, record in results["models"].items():
        figures = head["models"][model]["mean"]
        assert figures and all(k.startswith("test") for k in figures)
        name = next(iter(figures))
        values = record["per_seed"][name]
        assert figures[name] == pytest.approx(sum(values) / len(values))
    assert head["timing"] == results["timing"] and gpu.headline("/nonexistent") is None


def _made_up_report() -> dict:
    diffs = {"outputs": 3e-7, "h_n": 2e-7, "c_n": 2e-7, "grad_inputs": 3e-7, "grad_params": 1e-6}
    check = dict(shape=[128, 500, 32, 32], num_layers=1, bidirectional=False, ok=True)
    check |= dict(implementation="cudnn", max_relative_difference=diffs)
    timing = {"shape": [128, 500, 32, 32], "implementations": {"ours": {"median_s": 0.02}}}
    timing["implementations"]["cudnn"] = {"error": "XlaRuntimeError: no"}
    timing["implementations"]["ours_fastest_over_cudnn"] = 2.5
    big = {"kind": "timing", "args": "((512, 500, 128, 256), 20)", "why": "budget spent"}
    workloads = {"plan": dict(frameworks=["ours", "engine"], repeats=1, steps=10), "runs": {}}
    workloads["runs"]["imdb_lstm"] = {
        "status": "ok",
        "frameworks": {"ours": {"examples_per_s": 5e3}},
    }
    workloads["runs"]["bilstm"] = {"status": "not run: 3 s left of the step's budget"}
    headline = {"models": {"lstm": {"seeds": [0, 1], "mean": {"test_accuracy": 0.81}}}}
    experiments = {"data_dir": "/d", "runs": {"weather": {"status": "data absent: none of x"}}}
    experiments["runs"]["imdb"] = dict(
        status="ok", wall_s=41.0, seeds=2, seed_loop="vmap", headline=headline
    )
    return {
        "argv": ["benchmarks/gpu.py"],
        "dry_run": False,
        "wall_s": 500.0,
        "steps": {
            "environment": {"status": "ok", "result": {"jax": "0.4.35", "cuda": True}},
            "cudnn": {
                "status": "ok",
                "result": {"check": [check], "timing": [timing], "not_run": [big]},
            },
            "workloads": workloads,
            "experiments": experiments,
        },
    }


def test_the_summary_has_every_step_s_lines():
    text = gpu.summary_markdown(_made_up_report())
    assert "- jax: 0.4.35" in text and "- lock_jax: not measured" in text
    assert "vs cudnn: outputs 3.0e-07" in text and "within bounds" in text
    assert (
        "fwd+bwd [128, 500, 32, 32]: ours 20.00 ms, cudnn error, our fastest / cuDNN 2.50" in text
    )
    assert "not run: timing ((512, 500, 128, 256), 20) (budget spent)" in text
    assert "| imdb_lstm | ok | ours 5,000 ex/s |" in text
    assert "| bilstm | not run: 3 s left of the step's budget | - |" in text
    assert "| imdb | ok | 41 | 2, vmap | lstm: test_accuracy 0.81 |" in text
    assert "| weather | data absent: none of x | - | -, - | - |" in text


def test_the_environment_step_s_record(tmp_path):
    assert gpu.main(["--steps", "environment", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "gpu.json").read_text())
    assert report["dry_run"] is False and set(report["steps"]) == {"environment"}
    record = report["steps"]["environment"]
    assert {"status", "returncode", "wall_s", "command", "log", "tail", "result"} <= set(record)
    assert record["status"] == "ok" and os.path.exists(record["log"])
    found = record["result"]
    assert found["rnn_attn_from"] == os.path.join(ROOT, "rnn_attn")  # from source
    assert {"jax", "devices", "cuda", "torch", "experimental_rnn"} <= set(found)
    assert isinstance(found["torch"]["importable"], bool)
    assert "- backend: " in (tmp_path / "summary.md").read_text()


@pytest.mark.slow
def test_the_dry_run_runs_every_step_in_well_under_two_minutes(tmp_path):
    t0 = time.monotonic()
    command = [sys.executable, os.path.join(ROOT, "benchmarks", "gpu.py"), "--dry-run"]
    done = subprocess.run(command + ["--out", str(tmp_path)], capture_output=True, text=True)
    wall = time.monotonic() - t0
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "gpu.json").read_text())
    steps = report["steps"]
    assert set(steps) == set(gpu.STEPS) and report["dry_run"] and wall < 120
    assert steps["cudnn"]["result"]["ok"] and len(steps["cudnn"]["result"]["check"]) == 2
    assert steps["workloads"]["runs"][gpu.DRY_WORKLOAD]["status"] == "ok"
    runs = steps["experiments"]["runs"]
    assert runs[gpu.DRY_EXPERIMENT]["status"] == "ok"
    assert runs[gpu.DRY_EXPERIMENT]["headline"]["models"]
    others = [r["status"] for n, r in runs.items() if n != gpu.DRY_EXPERIMENT]
    assert all(s == "validated only (dry run)" or s.startswith("data absent") for s in others)
