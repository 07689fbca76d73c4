"""The per-seed regression check: the comparison on hand-made results dicts, the case
filter, the tables, the command on a small git repository of its own (worktrees made and
removed, exit statuses), and (slow) one real case, HEAD against this checkout."""

import copy
import json
import math
import os
import subprocess
import sys

import pytest

from experiments.regression import checkouts, compare, config, report, run
from rnn_attn.data.paths import default_data_dir
from tests._paths import ROOT, SHARED_DATA

RESULTS = {
    "experiment": "x",
    "config": {"seeds": 3},
    "models": {
        "lstm": {
            "seeds": [0, 1, 2],
            "per_seed": {
                "acc": [0.8, 0.9, 0.85],
                "loss": [0.5, 0.4, 0.45],
                "best_epoch": [3, 2, 3],
            },
        },
        "gru": {"per_seed": {"acc": [0.7, 0.75, 0.72]}},
    },
}


def changed(**edits):
    """RESULTS with ``models.<model>.per_seed.<metric>`` (``model__metric=value``)
    replaced, or removed for None."""
    out = copy.deepcopy(RESULTS)
    for key, value in edits.items():
        model, metric = key.split("__")
        if value is None:
            del out["models"][model]["per_seed"][metric]
        else:
            out["models"][model]["per_seed"][metric] = value
    return out


# -- the comparison ------------------------------------------------------------------------------


def test_equal_results_keep_every_figure_whatever_the_envelope():
    renamed = {"schema": 2, "models": copy.deepcopy(RESULTS["models"])}  # envelope changed
    result = compare.compare_results(RESULTS, renamed)
    assert result["counts"] == {"equal": 12, "different": 0, "old_only": 0, "new_only": 0}
    assert result["one_sided"] == [] and compare.kept(result["counts"])
    assert [(r["model"], r["metric"], r["seed"]) for r in result["rows"][:4]] == [
        ("lstm", "acc", 0),
        ("lstm", "acc", 1),
        ("lstm", "acc", 2),
        ("lstm", "loss", 0),
    ]


def test_one_seed_that_differs_is_shown_with_both_values_and_the_difference():
    result = compare.compare_results(RESULTS, changed(lstm__acc=[0.8, 0.9000001, 0.85]))
    different = [r for r in result["rows"] if r["verdict"] == compare.DIFFERENT]
    assert len(different) == 1
    row = different[0]
    assert (row["model"], row["metric"], row["seed"], row["old"], row["new"]) == (
        "lstm",
        "acc",
        1,
        0.9,
        0.9000001,
    )
    assert row["difference"] == pytest.approx(1e-7)
    assert result["counts"]["different"] == 1 and not compare.kept(result["counts"])


def test_models_metrics_and_seeds_on_one_side_are_listed_and_only_losses_fail():
    new = changed(lstm__loss=None, lstm__acc=[0.8, 0.9])
    new["models"]["lstm"]["per_seed"]["f1"] = [0.1, 0.2, 0.3]
    del new["models"]["gru"]
    new["models"]["dense"] = {"per_seed": {"acc": [0.6]}}
    result = compare.compare_results(RESULTS, new)
    assert result["one_sided"] == [
        {"model": "lstm", "metric": "loss", "side": "old"},
        {"model": "lstm", "metric": "f1", "side": "new"},
        {"model": "gru", "metric": None, "side": "old"},
        {"model": "dense", "metric": None, "side": "new"},
    ]
    assert [r for r in result["rows"] if r["verdict"] == compare.OLD_ONLY] == [
        {
            "model": "lstm",
            "metric": "acc",
            "seed": 2,
            "old": 0.85,
            "new": None,
            "verdict": "old only",
            "difference": None,
        }
    ]
    assert result["counts"] == {"equal": 5, "different": 0, "old_only": 3, "new_only": 2}
    assert not compare.kept(result["counts"])
    # Figures added on the new side only are listed but do not fail the check.
    added = compare.compare_results(
        RESULTS, {"models": {**copy.deepcopy(RESULTS["models"]), "dense": {"per_seed": {"a": [1]}}}}
    )
    assert added["counts"]["new_only"] == 1 and compare.kept(added["counts"])


def test_tolerance_is_absolute_and_zero_means_exactly_equal():
    new = changed(lstm__loss=[0.5 + 1e-9, 0.4, 0.45 - 2e-6])
    exact = compare.compare_results(RESULTS, new)
    assert exact["counts"]["different"] == 2
    loose = compare.compare_results(RESULTS, new, tolerance=1e-6)
    assert loose["counts"]["different"] == 1
    within = [r for r in loose["rows"] if r["verdict"] == "equal" and r["difference"]]
    assert len(within) == 1 and within[0]["seed"] == 0
    assert compare.kept(compare.compare_results(RESULTS, new, tolerance=1e-5)["counts"])


def test_values_nan_infinities_and_non_numbers():
    nan, inf = float("nan"), math.inf
    assert compare.compare_values(nan, float("nan")) == ("equal", None)
    assert compare.compare_values(inf, inf) == ("equal", None)
    assert compare.compare_values(inf, -inf, tolerance=1e9)[0] == "different"
    assert compare.compare_values(1.0, nan, tolerance=1e9)[0] == "different"
    assert compare.compare_values(3, 3.0) == ("equal", None)
    assert compare.compare_values(True, 1)[0] == "different"  # a bool is not a number
    assert compare.compare_values("the cat", "the cat") == ("equal", None)
    assert compare.compare_values("the cat", "the dog") == ("different", None)
    assert compare.compare_values([1, 2], [1, 2]) == ("equal", None)
    assert compare.compare_values(None, 0.5) == ("different", None)


def test_results_without_per_seed_figures_compare_nothing_and_are_not_kept():
    result = compare.compare_results({"models": {"a": {"summary": {}}}}, {"other": 1})
    assert result["rows"] == [] and not compare.kept(result["counts"])
    assert compare.per_seed_figures({"models": {"a": {"per_seed": {"x": [1]}}}}) == {
        "a": {"x": [1]}
    }
    scalar = compare.compare_results(
        {"models": {"a": {"per_seed": {"x": 0.5}}}}, {"models": {"a": {"per_seed": {"x": [0.5]}}}}
    )
    assert [(r["seed"], r["verdict"]) for r in scalar["rows"]] == [(None, "different")]


# -- the cases -----------------------------------------------------------------------------------


def test_the_case_filter_keeps_the_list_order_and_refuses_unknown_names():
    assert config.select_cases("") == config.CASES
    assert [c.name for c in config.select_cases("imdb_local, copy_task")] == [
        "copy_task",
        "imdb_local",
    ]
    with pytest.raises(ValueError, match=r"--only: unknown case\(s\) \['nope'\]"):
        config.select_cases("copy_task,nope")


def test_the_cases_are_the_ones_issue_29_asks_for():
    commands = {c.name: c.command() for c in config.CASES}
    assert commands == {
        "copy_task": "python -m experiments.copy_task",
        "weather": "python -m experiments.weather --models dense,gru --seeds 2 --epochs 3",
        "imdb_attention_local": "python -m experiments.imdb_attention --local",
        "imdb_local": "python -m experiments.imdb --model embedding_flatten --local",
        "imdb_glove_local": "python -m experiments.imdb_glove --local",
        "char_textgen_local": "python -m experiments.char_textgen --local",
        "vanishing_gradients_local": "python -m experiments.vanishing_gradients --local",
    }
    for case in config.CASES:
        assert os.path.isfile(os.path.join(ROOT, "experiments", case.module, "__main__.py"))


# -- the tables ----------------------------------------------------------------------------------


def _case(new, tolerance=0.0):
    runs = {side: {"seconds": 1.25} for side in ("old", "new")}
    return {
        "name": "c",
        "command": "python -m experiments.c",
        "runs": runs,
        "comparison": compare.compare_results(RESULTS, new, tolerance),
    }


def test_all_equal_metrics_take_one_line_per_model():
    lines = report.text_lines(_case(copy.deepcopy(RESULTS)))
    assert lines == [
        "== c: python -m experiments.c (old 1.2 s, new 1.2 s): 12 equal, 0 different: kept",
        "  lstm: all 3 metrics equal on every seed (9 figures)",
        "  gru: 1 metric equal on every seed (3 figures)",
    ]


def test_a_metric_that_differs_shows_every_seed_side_by_side():
    new = changed(lstm__acc=[0.8, 0.91, 0.85], gru__acc=None)
    lines = report.text_lines(_case(new))
    assert lines[0].endswith("8 equal, 1 different, 1 old only: NOT KEPT")
    assert lines[1].split() == ["model", "metric", "seed", "old", "new", "verdict"]
    assert lines[2].split() == ["lstm", "acc", "0", "0.8", "0.8", "equal"]
    assert lines[3].split() == ["lstm", "acc", "1", "0.9", "0.91", "different", "(+0.01)"]
    assert lines[5] == "  lstm: other 2 metrics equal on every seed (6 figures)"
    assert lines[6] == "  metric gru.acc: old only"
    record = {
        "old": {"revision": "HEAD", "commit": "a" * 40},
        "new": {"revision": "WORKTREE", "commit": "b" * 40 + "+changes"},
        "cpu": "Some CPU, 2 cores",
        "tolerance": 0.0,
        "verdict": "NOT KEPT",
        "counts": compare.total_counts([_case(new)["comparison"]]),
        "seconds": 3.0,
        "cases": [_case(new)],
    }
    md = report.markdown(record)
    assert "| c | 1.2 | 1.2 | 8 equal, 1 different, 1 old only | NOT KEPT |" in md
    assert "| lstm | acc | 1 | 0.9 | 0.91 | different (+0.01) |" in md
    assert "| lstm | other 2 metrics equal on every seed (6 figures): loss, best_epoch |" in md
    assert "| gru | acc |  |  |  | old only |" in md
    assert "- CPU: Some CPU, 2 cores" in md


def test_figures_within_the_tolerance_are_counted_in_the_summary():
    lines = report.text_lines(_case(changed(gru__acc=[0.7, 0.75, 0.72 + 1e-12]), 1e-9))
    assert lines[-1] == ("  gru: 1 metric equal on every seed (3 figures, 1 within the tolerance)")


# -- the command, on a small repository of its own -----------------------------------------------

FAKE_MAIN = """import argparse, json, os, pathlib, sys
p = argparse.ArgumentParser()
p.add_argument("--workdir")
p.add_argument("--no-progress", action="store_true")
a = p.parse_args()
models = json.loads(pathlib.Path(__file__).with_name("figures.json").read_text())
print("data:", os.environ["RNN_ATTN_DATA"], "path:", os.environ["PYTHONPATH"])
if models is None:
    sys.exit(3)
with open(os.path.join(a.workdir, "results.json"), "w") as f:
    json.dump({"models": models}, f)
"""


def _git(repo, *args):
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def _commit(repo, models) -> str:
    (repo / "experiments" / "fake" / "figures.json").write_text(json.dumps(models))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "figures")
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture
def fake_repo(tmp_path, monkeypatch):
    """A git repository with one experiment, ``fake``, whose figures are a file; three
    commits: A, A again with one seed changed (B), and one whose run fails."""
    repo = tmp_path / "repo"
    (repo / "experiments" / "fake").mkdir(parents=True)
    (repo / "rnn_attn").mkdir()
    for package in ("experiments", "rnn_attn", "experiments/fake"):
        (repo / package / "__init__.py").write_text("")
    (repo / "experiments" / "fake" / "__main__.py").write_text(FAKE_MAIN)
    _git(repo, "init", "-q")
    figures = {"m": {"per_seed": {"acc": [0.5, 0.6], "n": [1, 2]}}}
    commits = {"A": _commit(repo, figures)}
    commits["B"] = _commit(repo, {"m": {"per_seed": {"acc": [0.5, 0.61], "n": [1, 2]}}})
    commits["fails"] = _commit(repo, None)
    _git(repo, "checkout", "-q", commits["A"])
    monkeypatch.setattr(checkouts, "ROOT", str(repo))
    monkeypatch.setattr(config, "CASES", (config.Case("fake", "fake"),))
    return repo, commits


def _worktrees(repo) -> list[str]:
    return [
        line
        for line in _git(repo, "worktree", "list", "--porcelain").splitlines()
        if line.startswith("worktree ")
    ]


def test_the_same_commit_twice_keeps_everything_and_leaves_no_worktree(fake_repo, tmp_path, capsys):
    repo, commits = fake_repo
    work = tmp_path / "work"
    assert run.main(["--old", commits["A"], "--new", "HEAD", "--workdir", str(work)]) == 0
    out = capsys.readouterr().out
    assert "== fake: python -m experiments.fake (old " in out
    assert "  m: all 2 metrics equal on every seed (4 figures)" in out
    record = json.loads((work / "regression.json").read_text())
    assert record["verdict"] == "kept" and record["old"]["commit"] == commits["A"]
    assert record["new"] == {"revision": "HEAD", "commit": commits["A"]}
    assert record["cases"][0]["runs"]["old"]["seconds"] > 0 and record["cpu"]
    log = (work / "fake" / "old" / "output.log").read_text()
    assert f"path: {work / 'checkouts' / 'old'}" in log  # the old side ran its own code
    assert f"data: {os.path.realpath(default_data_dir())}" in log
    assert "**kept**" in (work / "regression.md").read_text()
    assert not (work / "checkouts").exists() and _worktrees(repo) == [f"worktree {repo}"]


def test_a_changed_figure_exits_1_and_the_worktree_runs_in_place(fake_repo, tmp_path, capsys):
    repo, commits = fake_repo
    assert (
        run.main(["--old", commits["A"], "--new", commits["B"], "--workdir", str(tmp_path / "w1")])
        == 1
    )
    out = capsys.readouterr().out
    assert ["m", "acc", "1", "0.6", "0.61", "different", "(+0.01)"] in [
        line.split() for line in out.splitlines()
    ]
    assert "NOT KEPT" in out
    figures = repo / "experiments" / "fake" / "figures.json"
    figures.write_text(json.dumps({"m": {"per_seed": {"acc": [0.5, 0.6], "n": [1, 3]}}}))
    assert run.main(["--old", "HEAD", "--new", "WORKTREE", "--workdir", str(tmp_path / "w2")]) == 1
    record = json.loads((tmp_path / "w2" / "regression.json").read_text())
    assert record["new"]["commit"] == commits["A"] + "+changes"
    assert f"path: {repo}" in (tmp_path / "w2" / "fake" / "new" / "output.log").read_text()
    assert _worktrees(repo) == [f"worktree {repo}"]


def test_a_failed_run_gets_one_error_line_naming_its_log(fake_repo, tmp_path, capsys):
    repo, commits = fake_repo
    work = tmp_path / "work"
    assert run.main(["--old", "HEAD", "--new", commits["fails"], "--workdir", str(work)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    log = work / "fake" / "new" / "output.log"
    assert err == [f"error: fake (new, {commits['fails']}) exited with status 3; see {log}"]
    assert json.loads((work / "regression.json").read_text())["verdict"] == "FAILED"
    assert not (work / "checkouts").exists() and _worktrees(repo) == [f"worktree {repo}"]


def test_bad_flags_get_one_line_and_write_nothing(fake_repo, tmp_path, capsys):
    repo, commits = fake_repo
    work = tmp_path / "work"
    for argv, message in (
        (["--only", "nope"], "error: --only: unknown case(s) ['nope']; expected some of ['fake']"),
        (
            ["--old", "v9"],
            "error: --old: unknown revision 'v9'; expected a branch, a commit, HEAD~N or WORKTREE",
        ),
        (["--tolerance", "-1"], "error: --tolerance must be a finite number >= 0, got -1.0"),
    ):
        flags = {"--old": "HEAD", "--new": "HEAD", "--workdir": str(work)}
        flags.update(zip(argv[::2], argv[1::2], strict=True))
        assert run.main([x for kv in flags.items() for x in kv]) == 2
        assert capsys.readouterr().err.strip().splitlines() == [message]
        assert not work.exists()
    (tmp_path / "file").write_text("")
    for workdir, why in (
        (tmp_path / "file" / "sub", "cannot be written (Not a directory)"),
        (tmp_path, "exists and is not an empty directory"),
    ):
        assert run.main(["--old", "HEAD", "--new", "HEAD", "--workdir", str(workdir)]) == 2
        assert why in capsys.readouterr().err


# -- slow: one real case -------------------------------------------------------------------------


@pytest.mark.slow
def test_head_against_this_checkout_keeps_the_imdb_figures(tmp_path):
    if not os.path.isdir(SHARED_DATA):
        pytest.skip(f"no shared data at {SHARED_DATA} (the IMDB reviews)")
    work = tmp_path / "regression"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments.regression",
            "--only",
            "imdb_local",
            "--old",
            "HEAD",
            "--new",
            "WORKTREE",
            "--workdir",
            str(work),
        ],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=ROOT),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    record = json.loads((work / "regression.json").read_text())
    assert record["verdict"] == "kept" and record["counts"]["different"] == 0
    assert record["counts"]["equal"] > 0 and [c["name"] for c in record["cases"]] == ["imdb_local"]
    assert "embedding_flatten: all " in done.stdout
    assert not (work / "checkouts").exists()
    listed = subprocess.run(
        ["git", "worktree", "list"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    assert str(work) not in listed
