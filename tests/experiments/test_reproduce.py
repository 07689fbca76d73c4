"""The reproduction of the documents' recipes: the table is built from results.json files
alone, and (slow) ``--quick`` runs every row and rebuilds the same table."""

import json
import os
import subprocess
import sys

import pytest

from experiments.reproduce import config, run, table
from experiments.reproduce.config import RECIPES, Figure, Recipe
from rnn_attn.analysis import schema, stats
from tests._paths import ROOT

RESULTS = {
    "models": {
        "a": {
            "per_seed": {"acc": [0.8, 0.9, 0.85]},
            "history_per_seed": [{"val": [0.1, 0.2]}, {"val": [0.3, 0.4]}],
        }
    },
    "baseline": {"validation": {"mae": 0.25}},
    "timing_seconds": 12.5,
}


def test_lookup_follows_dots_stars_and_indices():
    assert table.lookup(RESULTS, "models.a.per_seed.acc") == [0.8, 0.9, 0.85]
    assert table.lookup(RESULTS, "models.a.history_per_seed.*.val.1") == [0.2, 0.4]
    assert table.lookup(RESULTS, "baseline.validation.mae") == 0.25
    with pytest.raises(KeyError, match="no 'b'"):
        table.lookup(RESULTS, "models.b.per_seed.acc")


def test_a_figure_is_the_mean_with_its_t_interval_and_every_seed():
    text, n = table.format_figure([0.8, 0.9, 0.85], Figure("x", "p"))
    low, high = stats.t_confidence_interval([80.0, 90.0, 85.0])
    assert n == 3 and text == f"**85.0** [{low:.1f}, {high:.1f}] (80.0, 90.0, 85.0)"
    assert table.format_figure(0.25, Figure("x", "p", scale=1.0, digits=3)) == ("0.250", 0)


def test_the_table_comes_from_the_files_and_says_what_did_not_run(tmp_path):
    recipe = Recipe(
        "row",
        "002",
        "t",
        "imdb",
        ("--seeds", "3"),
        (),
        (
            Figure("a: acc", "models.a.per_seed.acc", "about 75"),
            Figure("a: epoch 2", "models.a.history_per_seed.*.val.1"),
            Figure("a: gone", "models.a.per_seed.gone"),
        ),
        note="why",
    )
    (tmp_path / "row").mkdir()
    (tmp_path / "row" / "results.json").write_text(json.dumps(RESULTS))
    results = {"row": table.load_results(str(tmp_path), recipe)}
    lines = table.render_table([recipe], results).splitlines()
    assert lines[2].startswith("| 002 | `python -m experiments.imdb --seeds 3` | a: acc | 3 |")
    assert lines[2].endswith("| about 75 | why |")
    assert "| a: epoch 2 | 2 | **30.0**" in lines[3]
    assert "missing (" in lines[4]
    missing = table.render_table([recipe], {"row": None}).splitlines()
    assert all("not run" in line for line in missing[2:])
    # A file written before the schema is read through schema.migrate: timing.total_seconds.
    assert results["row"]["schema_version"] == 1
    assert results["row"]["timing"]["total_seconds"] == 12.5
    assert table.wall_time(results) == (12.5, 1)
    copy_task = schema.migrate({"timing_seconds": {"total": 2.5}})  # the copy task's old shape
    assert table.wall_time({**results, "copy": copy_task}) == (15.0, 2)


def test_the_doc_section_is_replaced_between_the_markers_only():
    text = f"head\n{table.BEGIN}\nold\n{table.END}\ntail\n"
    assert table.replace_section(text, "new") == f"head\n{table.BEGIN}\nnew\n{table.END}\ntail\n"
    with pytest.raises(ValueError, match="no <!-- reproduce:begin -->"):
        table.replace_section("no markers", "new")


def test_every_row_is_distinct_and_the_results_doc_has_the_section():
    names = [r.name for r in RECIPES]
    assert len(set(names)) == len(names)
    assert {r.document for r in RECIPES} == {"000", "001", "002", "003"}
    assert all(r.figures for r in RECIPES)
    with open(os.path.join(ROOT, "docs", "results.md"), encoding="utf-8") as f:
        table.replace_section(f.read(), "")  # the markers are there


def test_bad_arguments_get_one_line_and_write_nothing(tmp_path, capsys):
    assert run.main(["--only", "nope", "--workdir", str(tmp_path / "w")]) == 2
    assert "unknown row(s) ['nope']" in capsys.readouterr().err
    doc = tmp_path / "doc.md"
    doc.write_text("no markers")
    assert run.main(["--update-doc", str(doc), "--workdir", str(tmp_path / "w")]) == 2
    assert "has no <!-- reproduce:begin -->" in capsys.readouterr().err
    assert not (tmp_path / "w").exists() and doc.read_text() == "no markers"
    (tmp_path / "q").mkdir()
    (tmp_path / "q" / run.MANIFEST).write_text(json.dumps({"quick": True}))
    assert run.main(["--table-only", "--workdir", str(tmp_path / "q")]) == 2
    assert "holds a quick reproduction" in capsys.readouterr().err


def test_a_relative_data_dir_reaches_the_rows_as_the_command_meant_it(tmp_path, monkeypatch):
    """The rows run from the repository's root: a relative $RNN_ATTN_DATA is made absolute
    from the directory the command ran in first (the rows read another directory)."""
    calls = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RNN_ATTN_DATA", "data")
    monkeypatch.setattr(run.subprocess, "call", lambda args, **kw: calls.append(kw) or 1)
    assert run.run_row(RECIPES[0], str(tmp_path / "w"), quick=True) == 1
    assert calls[0]["cwd"] == run.ROOT
    assert calls[0]["env"]["RNN_ATTN_DATA"] == str(tmp_path / "data")


def test_a_corrupt_results_file_gets_one_line_naming_it_and_the_doc_stays(tmp_path, capsys):
    row = tmp_path / "w" / RECIPES[0].name
    row.mkdir(parents=True)
    (row / "results.json").write_text('{"models": ')
    doc = tmp_path / "results.md"
    doc.write_text("before\n<!-- reproduce:begin -->\nold\n<!-- reproduce:end -->\n")
    before = doc.read_text()
    assert (
        run.main(["--table-only", "--workdir", str(tmp_path / "w"), "--update-doc", str(doc)]) == 2
    )
    err = capsys.readouterr().err
    assert "results.json is not valid JSON" in err and "Traceback" not in err
    assert doc.read_text() == before and (row / "results.json").read_text() == '{"models": '


def test_a_full_runs_rows_are_archived_beside_the_doc_and_outlive_its_work_dir(tmp_path):
    row = RECIPES[2]  # 002_embedding_flatten
    model = row.figures[0].path.split(".")[1]
    run_dir = tmp_path / "first" / row.name
    run_dir.mkdir(parents=True)
    (run_dir / "history.png").write_bytes(b"png")
    per_seed = {"val_accuracy_final": [0.75, 0.76, 0.77], "val_accuracy_best": [0.8] * 3}
    (run_dir / "results.json").write_text(
        json.dumps(
            {
                "models": {model: {"per_seed": per_seed}},
                "timing_seconds": 20.0,
                "files": {"history": str(run_dir / "history.png")},
            }
        )
    )
    (run_dir / table.PROVENANCE).write_text(json.dumps(run.provenance(row, False, 21.0)))
    doc = tmp_path / "docs" / "results.md"
    doc.parent.mkdir()
    doc.write_text(f"{table.BEGIN}\n{table.END}\n")
    run.write_table(str(tmp_path / "first"), False, str(doc))
    first = doc.read_text()
    assert "**76.0** [73.5, 78.5] (75.0, 76.0, 77.0)" in first
    assert f"- `{row.name}`: commit {run.git_commit()}, finished 20" in first
    assert f"![{row.name}: history](figures/{row.name}_history.png)" in first
    archived = json.loads((doc.parent / run.ARCHIVE / row.name / "results.json").read_text())
    assert archived["schema_version"] == 1 and archived["timing"]["total_seconds"] == 20.0
    # Another session, another machine: its work dir holds no such row.
    (tmp_path / "second").mkdir()
    run.write_table(str(tmp_path / "second"), False, str(doc))
    assert doc.read_text() == first
    second = (tmp_path / "second" / "results_table.md").read_text()
    assert "**76.0** [73.5, 78.5]" in second and f"- `{row.name}`: commit" in second
    # A quick run neither reads nor writes the archive.
    (tmp_path / "quick").mkdir()
    run.write_table(str(tmp_path / "quick"), True, "")
    assert "**76.0**" not in (tmp_path / "quick" / "results_table.md").read_text()


def test_a_row_finished_before_provenance_was_recorded_says_so(tmp_path):
    row = RECIPES[2]
    (tmp_path / "w" / row.name).mkdir(parents=True)
    (tmp_path / "w" / row.name / "results.json").write_text(json.dumps({"timing_seconds": 5}))
    run.archive_rows(str(tmp_path / "w"), str(tmp_path / "archive"))
    record = table.load_provenance(str(tmp_path / "archive"), row)
    assert record["commit"] is None and record["seconds"] == 5.0
    assert table.provenance_lines({row.name: record})[0].startswith(
        f"- `{row.name}`: commit not recorded, finished 20"
    )


def test_the_recorded_commit_counts_code_changes_not_the_docs_it_rewrites(tmp_path, monkeypatch):
    def git(*args):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
        )

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "results.md").write_text("table\n")
    (tmp_path / "model.py").write_text("x = 1\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "c")
    monkeypatch.setattr(run, "ROOT", str(tmp_path))
    commit = run.git_commit()
    assert commit and "+" not in commit
    (tmp_path / "docs" / "results.md").write_text("regenerated table\n")
    assert run.git_commit() == commit
    (tmp_path / "model.py").write_text("x = 2\n")
    assert run.git_commit() == commit + "+changes"


def test_the_archive_beside_the_results_doc_is_not_ignored_by_git():
    """The archived rows must be committable (a ``runs/`` pattern once ignored them)."""
    if not os.path.exists(os.path.join(ROOT, ".git")):
        pytest.skip("not a git checkout: nothing to check the ignore rules against")
    archived = os.path.join("docs", run.ARCHIVE, "000_imdb_attention", "results.json")
    ignored = subprocess.run(["git", "check-ignore", "-q", archived], cwd=ROOT)
    assert ignored.returncode == 1, f"{archived} is ignored by git"


@pytest.mark.slow
def test_quick_runs_every_row_and_the_table_is_rebuilt_from_the_files(tmp_path):
    workdir, doc = tmp_path / "quick", tmp_path / "results.md"
    doc.write_text(f"# Results\n{table.BEGIN}\n{table.END}\nprose\n")
    cmd = [sys.executable, "-m", "experiments.reproduce", "--quick", "--workdir", str(workdir)]
    done = subprocess.run(
        [*cmd, "--update-doc", str(doc)], cwd=ROOT, capture_output=True, text=True, timeout=1200
    )
    assert done.returncode == 0, done.stderr[-3000:]
    first = (workdir / "results_table.md").read_text()
    assert "not run" not in first and "missing (" not in first, first
    assert f"{len(config.RECIPES)} of {len(config.RECIPES)} rows run" in first
    assert doc.read_text().endswith(f"{table.END}\nprose\n")
    assert (tmp_path / "figures" / "002_weather_temperature.png").is_file()
    again = subprocess.run(
        [*cmd, "--table-only"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert (workdir / "results_table.md").read_text() == first


def _row_results(models: dict) -> dict:
    return {"models": {n: {"seeds": s, "per_seed": {"acc": v}} for n, (s, v) in models.items()}}


def test_a_document_figure_is_held_against_our_prediction_interval_for_one_run():
    values = [0.86, 0.87, 0.865]
    cell = table.prediction_cell(values, Figure("x", "p", reference=86.27))
    low, high = stats.prediction_interval([86.0, 87.0, 86.5])
    assert cell == f"[{low:.1f}, {high:.1f}]: 86.27 inside"
    outside = table.prediction_cell(values, Figure("x", "p", reference=95.7))
    assert outside.endswith(": 95.7 **OUTSIDE**")
    mean_of_ten = table.prediction_cell(values, Figure("x", "p", reference=86.9, reference_runs=10))
    low10, high10 = stats.prediction_interval([86.0, 87.0, 86.5], runs=10)
    assert mean_of_ten.startswith(f"[{low10:.1f}, {high10:.1f}]: 86.9 (mean of 10)")
    assert table.prediction_cell(values, Figure("x", "p")) == f"[{low:.1f}, {high:.1f}]"
    assert table.prediction_cell(0.25, Figure("x", "p", reference=25.0)) == "-"


def test_the_tables_comparisons_pair_by_seed_across_rows_and_share_one_holm_family():
    first = Recipe(
        "r1",
        "002",
        "t",
        "imdb",
        (),
        (),
        (
            Figure("base: acc", "models.base.per_seed.acc"),
            Figure("att: acc", "models.att.per_seed.acc", versus="models.base.per_seed.acc"),
        ),
    )
    second = Recipe(
        "r2",
        "002",
        "t",
        "imdb",
        (),
        (),
        (
            Figure("big: acc", "models.big.per_seed.acc", versus="r1:models.base.per_seed.acc"),
            Figure("odd: acc", "models.odd.per_seed.acc", versus="r1:models.base.per_seed.acc"),
            Figure("gone: acc", "models.big.per_seed.acc", versus="r3:models.x.per_seed.acc"),
        ),
    )
    base, att = [0.80, 0.82, 0.81], [0.81, 0.835, 0.82]
    big, odd = [0.70, 0.73, 0.71], [0.79, 0.80, 0.83]
    results = {
        "r1": _row_results({"base": ([0, 1, 2], base), "att": ([0, 1, 2], att)}),
        "r2": _row_results({"big": ([0, 1, 2], big), "odd": ([3, 4, 5], odd)}),
        "r3": None,
    }
    out = table.table_comparisons([first, second], results)
    att_vs = out["r1", "att: acc"]
    assert att_vs["headline"]["kind"] == "paired" and att_vs["names"] == ["att", "base"]
    assert out["r2", "big: acc"]["names"] == ["big", "base (r1)"]
    assert out["r2", "odd: acc"]["headline"]["kind"] == "unpaired"  # other seeds
    assert out["r2", "gone: acc"] == "not compared (row r3 has not run)"
    family = [
        out[k]["headline"]["p_value"]
        for k in (("r1", "att: acc"), ("r2", "big: acc"), ("r2", "odd: acc"))
    ]
    held = [
        out[k]["headline"]["p_value_holm"]
        for k in (("r1", "att: acc"), ("r2", "big: acc"), ("r2", "odd: acc"))
    ]
    assert held == pytest.approx(stats.holm_adjust(family))
    expected = stats.paired_test([100 * v for v in att], [100 * v for v in base])
    assert att_vs["paired"]["mean_difference"] == pytest.approx(expected["mean_difference"])
    cell = table.comparison_cell(att_vs, first.figures[1])
    assert cell.startswith(f"vs base: **{expected['mean_difference']:+.1f}** [")
    assert "paired, paired t-test p = " in cell and "Holm" in cell and "Wilcoxon p = " in cell
    assert "unpaired, Welch t-test p = " in table.comparison_cell(
        out["r2", "odd: acc"], first.figures[1]
    )
    lines = table.render_table([first, second], results).splitlines()
    assert "prediction interval" in lines[0] and "Holm over the table" in lines[0]
    assert "| vs base: **" in lines[3]


def test_an_aggregate_is_the_iqm_of_every_rows_seeds_with_a_stratified_interval():
    from experiments.reproduce.config import Aggregate

    results = {
        "r1": _row_results({"a": ([0, 1, 2], [0.80, 0.82, 0.81])}),
        "r2": _row_results({"b": ([0, 1, 2], [0.86, 0.85, 0.87])}),
    }
    aggregate = Aggregate("acc", (("r1", "models.a.per_seed.acc"), ("r2", "models.b.per_seed.acc")))
    expected = stats.stratified_bootstrap_iqm({"r1": [80.0, 82.0, 81.0], "r2": [86.0, 85.0, 87.0]})
    line = table.aggregate_line(aggregate, results)
    assert line.startswith(
        f"- acc: IQM **{expected['iqm']:.1f}** [{expected['ci_low']:.1f}, {expected['ci_high']:.1f}] over 2 rows x 3 seeds"
    )
    assert "not computed (row r2 has not run)" in table.aggregate_line(
        aggregate, {**results, "r2": None}
    )


def test_the_archived_runs_still_rebuild_the_table_with_the_new_columns(tmp_path):
    """``--table-only --update-doc`` on a copy of docs/results.md reads docs/runs/ (the
    archive beside it) and writes every row, with the prediction and paired columns."""
    import shutil

    docs = tmp_path / "docs"
    shutil.copytree(os.path.join(ROOT, "docs", "runs"), docs / "runs")
    shutil.copy(os.path.join(ROOT, "docs", "results.md"), docs / "results.md")
    status = run.main(
        ["--table-only", "--workdir", str(tmp_path / "w"), "--update-doc", str(docs / "results.md")]
    )
    assert status == 0
    text = (docs / "results.md").read_text()
    assert f"{len(RECIPES)} of {len(RECIPES)} rows run" in text
    assert "not run" not in text and "missing (" not in text and "not compared" not in text
    assert "95.7 (mean of 10) **OUTSIDE**" in text  # the copy task's attention (document 001)
    assert "vs bilstm: **" in text and "paired, paired t-test" in text
    assert "IQM **" in text


def test_a_sweeps_trial_is_compared_on_its_own_seeds_and_named_by_its_setting():
    """A figure inside ``models.M.trials.K`` pairs on the trial's (tuning) seeds, not the
    model's fresh ones, and the comparison names the setting."""
    from experiments.reproduce.table import _seeded_figure

    results = {
        "models": {
            "m": {
                "seeds": [3, 4],
                "per_seed": {"acc": [0.5, 0.6]},
                "trials": [
                    {
                        "hyperparameters": {"dropout": 0.0},
                        "seeds": [0, 1],
                        "per_seed": {"acc": [0.7, 0.8]},
                    },
                    {
                        "hyperparameters": {"optimizer": "sgd"},
                        "seeds": [0, 1],
                        "per_seed": {"acc": [0.1, 0.2]},
                    },
                ],
            }
        }
    }
    name, values, seeds, _ = _seeded_figure(results, "models.m.trials.0.per_seed.acc", "r", 100.0)
    assert (name, values, seeds) == ("m (dropout=0)", [70.0, 80.0], [0, 1])
    assert (
        _seeded_figure(results, "models.m.trials.1.per_seed.acc", "r", 1.0)[0]
        == "m (optimizer=sgd)"
    )
    assert _seeded_figure(results, "models.m.per_seed.acc", "r", 1.0)[2] == [3, 4]
