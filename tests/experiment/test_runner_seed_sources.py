"""The runner with seeds by source: a ``--seeds-by-source`` grid runs through the command
line as one program per model, results.json records each run's seeds by source and the
variance by source, the comparison pairs runs by their sources, and a resume needs the
same grid (a work dir from before the setting resumes as the default derivation)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from rnn_attn.analysis import schema
from rnn_attn.config import ConfigError
from rnn_attn.experiment import cli, findings, runner
from rnn_attn.parallel.mesh import make_mesh
from rnn_attn.train import workdir as workdirs
from tests._results import check_work_dir, minimal_record
from tests.experiment.test_runner import TOY, ToyConfig

SPEC = SimpleNamespace(compare=("acc",))
SETUP = SimpleNamespace(reference_model="base")
GRID = {"init": [0, 0, 1, 1], "data": [0, 1, 0, 1], "dropout": [0, 0, 1, 1]}


def test_a_grid_runs_end_to_end_and_records_its_sources_and_variance(tmp_path, capsys):
    workdir = str(tmp_path / "run")
    argv = ["--workdir", workdir, "--seeds-by-source", "init=2,data=2", "--epochs", "1"]
    assert cli.main(TOY, [*argv, "--no-progress"]) == 0
    record = check_work_dir(workdir)  # the schema, and a TensorBoard curve per run
    assert record["config"]["seeds"] == 4 and record["config"]["seeds_by_source"] == "init=2,data=2"
    for model in record["models"].values():
        assert model["seeds"] == [0, 1, 2, 3] and model["seeds_by_source"] == GRID
        decomposition = model["variance_by_source"]["val_mae_best"]
        assert decomposition["sources"] == ["init", "data"]
        assert decomposition["levels"] == {"init": [0, 1], "data": [0, 1]}
    paired = record["comparison"]["val_mae_best"]["paired"]
    assert paired["seeds_by_source"] == GRID
    out = capsys.readouterr().out
    assert "toy: models ['dense', 'gru'] x 4 seeds" in out
    assert "Variance by source, init 2 x data 2 (dropout follows init) runs" in out
    assert "  gru val_mae_best: init " in out and "sd of one run" in out
    # Another grid cannot resume it, and says which settings differ; nothing is changed.
    before = open(f"{workdir}/results.json").read()
    other = ["--workdir", workdir, "--seeds-by-source", "init=3,data=2", "--epochs", "1"]
    assert cli.main(TOY, [*other, "--resume", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "seeds: saved 4, now 6" in err and "seeds_by_source: saved 'init=2,data=2'" in err
    assert open(f"{workdir}/results.json").read() == before


def test_without_a_grid_every_source_is_the_seed_and_nothing_is_decomposed(tmp_path):
    workdir = str(tmp_path / "run")
    assert (
        cli.main(TOY, ["--workdir", workdir, "--seeds", "2", "--epochs", "1", "--no-progress"]) == 0
    )
    record = check_work_dir(workdir, tensorboard=False)
    for model in record["models"].values():
        assert model["seeds_by_source"] == {k: [0, 1] for k in ("init", "data", "dropout")}
        assert "variance_by_source" not in model
    comparison = record["comparison"]["val_mae_best"]
    assert "seeds_by_source" not in comparison["paired"]
    assert comparison["headline"]["why"].startswith("both models ran seeds 0, 1;")


def test_the_fit_configuration_carries_each_runs_sources():
    grid = ToyConfig(seeds=4, first_seed=3, seeds_by_source="data=2,dropout=2").validate()
    fit = runner.fit_config(grid, make_mesh(4))
    assert fit.seeds == (3, 4, 5, 6)
    assert fit.sources == ((3, 3, 3), (3, 3, 4), (3, 4, 3), (3, 4, 4))
    assert findings.crossed_sources(grid) == ["data", "dropout"]
    plain = runner.fit_config(ToyConfig(seeds=2).validate(), make_mesh(2))
    assert plain.sources == () and findings.crossed_sources(ToyConfig()) is None


def _models(**per_model) -> dict:
    return {
        name: {"seeds": [0, 1, 2, 3], "seeds_by_source": sources, "per_seed": {"acc": scores}}
        for name, (sources, scores) in per_model.items()
    }


def test_runs_of_a_grid_pair_by_their_sources():
    models = _models(base=(GRID, [0.85, 0.87, 0.86, 0.84]), att=(GRID, [0.86, 0.885, 0.87, 0.85]))
    acc = runner.compare(SPEC, SETUP, models)["acc"]
    assert acc["headline"]["kind"] == "paired" and acc["paired"]["seeds_by_source"] == GRID
    assert acc["headline"]["why"].startswith("both models ran the same 4 runs by source")
    schema.validate(minimal_record(models, {"reference_model": "base", **{"acc": acc}}))
    # The same run numbers under another grid do not pair.
    other = {"init": [0, 1, 0, 1], "data": [0, 0, 1, 1], "dropout": [0, 1, 0, 1]}
    models = _models(base=(GRID, [0.85, 0.87, 0.86, 0.84]), att=(other, [0.86, 0.88, 0.87, 0.85]))
    acc = runner.compare(SPEC, SETUP, models)["acc"]
    assert "paired" not in acc and acc["headline"]["why"].startswith("the runs' seeds by source")


def test_the_schema_checks_the_seeds_by_source():
    models = _models(base=(GRID, [0.85, 0.87, 0.86, 0.84]), att=(GRID, [0.86, 0.885, 0.87, 0.85]))
    out = runner.compare(SPEC, SETUP, models)
    out["acc"]["paired"]["seeds_by_source"] = {**GRID, "data": [1, 1, 0, 0]}
    with pytest.raises(ValueError, match=r"paired\.seeds_by_source: expected the seeds by source"):
        schema.validate(minimal_record(models, out))
    models["att"]["seeds_by_source"] = {**GRID, "init": [0, 0, 1]}
    with pytest.raises(ValueError, match=r"models\.att\.seeds_by_source\.init: expected 4 entries"):
        schema.validate(minimal_record(models))
    models["att"]["seeds_by_source"] = {**GRID, "order": [0, 0, 1, 1]}
    with pytest.raises(ValueError, match="order"):
        schema.validate(minimal_record(models))


def test_a_record_saved_before_the_setting_resumes_as_the_default_derivation():
    current = {"seeds": 3, "seeds_by_source": ""}
    workdirs.check_resume_compatible({"seeds": 3}, current)  # no error: the same run
    with pytest.raises(ConfigError, match="seeds_by_source: saved '', now 'init=3'"):
        workdirs.check_resume_compatible({"seeds": 3}, {**current, "seeds_by_source": "init=3"})


def test_a_work_dir_from_before_the_setting_resumes(tmp_path):
    """Its run record lacks the key (the checkpoints' records: tests/train/test_seed_sources)."""
    workdir = str(tmp_path / "run")
    argv = ["--workdir", workdir, "--seeds", "2", "--epochs", "1", "--no-progress"]
    assert cli.main(TOY, argv) == 0
    saved = json.load(open(f"{workdir}/run.json"))
    del saved["config"]["seeds_by_source"]  # as written before the setting existed
    workdirs.write_identity(workdir, "toy", saved["config"])
    assert cli.main(TOY, [*argv, "--resume"]) == 0
