import dataclasses
import os
import re
import subprocess
import sys
import types

import jax
import numpy as np
import pytest

from experiments.copy_task import train as copy_task
from experiments.copy_task.config import CopyTaskConfig
from rnn_attn.config import ConfigError
from rnn_attn.data.copy_task import check_copy_task, one_hot, repeat_keys, sample_copy_task
from rnn_attn.errors import NonFiniteError
from rnn_attn.experiment import runner
from rnn_attn.experiment.cli import main
from rnn_attn.experiment.context import bare_context
from rnn_attn.parallel.mesh import make_mesh
from rnn_attn.train.run import Callback
from rnn_attn.train.sampled_test import sampled_test
from tests._paths import ROOT
from tests._results import check_work_dir


def test_targets_copy_the_first_values_then_zeros():
    inputs, targets = sample_copy_task(jax.random.PRNGKey(0), 64, 7, 3, 11)
    inputs, targets = np.asarray(inputs), np.asarray(targets)
    assert inputs.shape == targets.shape == (64, 7)
    np.testing.assert_array_equal(targets[:, :3], inputs[:, :3])
    np.testing.assert_array_equal(targets[:, 3:], 0)
    assert inputs.min() >= 0 and inputs.max() <= 10
    assert len(np.unique(inputs)) == 11  # every symbol is drawn
    x = np.asarray(one_hot(inputs, 11))
    np.testing.assert_array_equal(x.argmax(-1), inputs)
    np.testing.assert_array_equal(x.sum(-1), 1)


@pytest.mark.parametrize(
    "args,message",
    [
        ((5, 6, 50), "cannot copy 6 values from sequences of length 5"),
        ((5, 2, 1), "cardinality must be an integer >= 2"),
        ((0, 1, 5), "sequence length must be an integer >= 1"),
    ],
)
def test_bad_problem_sizes(args, message):
    with pytest.raises(ValueError, match=message):
        check_copy_task(*args)


def _small_config(**overrides):
    base = dict(
        seeds=2,
        steps=300,
        checkpoint_every=100,
        units=32,
        cardinality=8,
        eval_examples=50,
        batch_size=4,
        spot_checks=2,
    )
    return CopyTaskConfig(**(base | overrides)).validate()


def _mesh(cfg):
    return make_mesh(cfg.seeds, devices=jax.devices()[:1])


def _train(cfg, mesh, *, workdir=None, resume=False, record=None, callbacks=None):
    """Every model of ``cfg`` trained as a run does (the shared runner's training)."""
    ctx = bare_context("copy_task", cfg, mesh, workdir=workdir, resume=resume, record=record)
    setup = copy_task.build(cfg, ctx)
    if callbacks is not None:
        setup = dataclasses.replace(setup, callbacks=callbacks)
    return runner.train(cfg, ctx, setup)


@pytest.mark.slow  # 2 models compiled and trained 300 steps; learning on this task is also
# checked by the slow tier's --local run, the compiled test by tests/train/test_sampled_test.py
def test_short_training_lowers_the_loss():
    cfg = _small_config()
    mesh = _mesh(cfg)
    fits = _train(cfg, mesh)
    for name in ("baseline", "attention"):
        losses = fits[name].step_loss
        assert losses.shape == (2, 300)
        first, last = losses[:, :30].mean(1), losses[:, -30:].mean(1)
        assert np.all(last < 0.8 * first), (name, first, last)
        program = copy_task.test_program(cfg, mesh)(name, copy_task.build_model(name, cfg))
        keys = np.stack([np.asarray(repeat_keys(s)[2]) for s in cfg.seed_sources["data"]])
        metrics = sampled_test(program, fits[name].state.params, keys, mesh)
        assert metrics["exact_match"].shape == (2,)
        assert np.all((metrics["token_accuracy"] >= 0) & (metrics["token_accuracy"] <= 1))


@pytest.mark.slow  # three runs of 200 steps; the default tier checks resumes are bit-identical in
# tests/train/test_engine.py (mid-epoch, another checkpoint interval) and through the CLI in
# the char_textgen and vanishing_gradients tests
def test_resume_replays_the_same_run(tmp_path):
    cfg = _small_config(models="attention", steps=200)
    mesh = _mesh(cfg)
    record = dataclasses.asdict(cfg)
    whole = _train(cfg, mesh)["attention"]

    # Interrupted after the first checkpoint (step 100), then resumed.
    class Interrupted(Exception):
        pass

    class StopAfterFirstCheckpoint(Callback):
        def on_segment_end(self, run):
            raise Interrupted

    workdir = str(tmp_path)
    with pytest.raises(Interrupted):
        _train(
            cfg,
            mesh,
            workdir=workdir,
            record=record,
            callbacks=lambda name: [StopAfterFirstCheckpoint()],
        )
    resumed = _train(cfg, mesh, workdir=workdir, resume=True, record=record)["attention"]
    np.testing.assert_array_equal(resumed.step_loss, whole.step_loss)
    for a, b in zip(
        jax.tree.leaves(resumed.state.params), jax.tree.leaves(whole.state.params), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))

    # A resume under another configuration is refused, naming the key.
    with pytest.raises(ConfigError, match="units: saved 32, now 64"):
        _train(cfg, mesh, workdir=workdir, resume=True, record=dict(record, units=64))


@pytest.mark.slow  # the default tier checks the message in the engine's NaN tests and through
# the shared runner in tests/experiments/test_vanishing_gradients.py
def test_a_diverging_run_stops_naming_the_seed_and_step(tmp_path):
    cfg = _small_config(models="baseline", steps=40, checkpoint_every=20, learning_rate=1e38)
    with pytest.raises(
        NonFiniteError,
        match=r"seed 0: training step \d+ .*went NaN or "
        r"infinite",
    ):
        _train(cfg, _mesh(cfg), workdir=str(tmp_path), record={})


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("seeds", 0, "--seeds must be an integer >= 1, got 0"),
        ("n_copy", 9, "cannot copy 9 values from sequences of length 5"),
        ("cardinality", 1, "cardinality must be an integer >= 2"),
        ("cell", "tree", "--cell must be one of ['gru', 'lstm', 'simple_rnn'], got 'tree'"),
        ("attention", "cosine", "--attention must be one of ['bahdanau', "),
        ("models", "baseline,transformer", "unknown model 'transformer'"),
    ],
)
def test_config_validation(field, value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        CopyTaskConfig(**{field: value}).validate()


def _run_cli(*args, env_extra=None):
    env = dict(os.environ, PYTHONPATH=ROOT, **(env_extra or {}))
    return subprocess.run(
        [sys.executable, "-m", "experiments.copy_task", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )


@pytest.mark.parametrize(
    "args,message",
    [
        (["--seeds", "0"], "--seeds must be an integer >= 1, got 0"),
        (["--n-copy", "6"], "cannot copy 6 values from sequences of length 5"),
        (["--cardinality", "1"], "cardinality must be an integer >= 2"),
        (["--cell", "tree"], "argument --cell: invalid choice: 'tree'"),
        (["--attention", "cosine"], "argument --attention: invalid choice: 'cosine'"),
        (["--seeds", "ten"], "argument --seeds: invalid int value: 'ten'"),
    ],
)
def test_cli_bad_input_gets_one_line(args, message, tmp_path, capsys):
    """In process (the command's own process: ``test_cli_unwritable_workdir``)."""
    try:
        code = main(copy_task.EXPERIMENT, [*args, "--workdir", str(tmp_path / "run")])
    except SystemExit as e:  # argparse's own refusals
        code = e.code
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    assert not (tmp_path / "run").exists()


def test_cli_unwritable_workdir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = _run_cli("--workdir", str(blocker / "sub"))
    assert result.returncode == 2
    assert "cannot be written" in result.stderr and "Traceback" not in result.stderr


def test_cli_end_to_end(tmp_path, capsys):
    """The command line in this process (the module's entry point runs as a subprocess in
    ``test_cli_unwritable_workdir``)."""
    # Small sizes, 3 symbols and loops not unrolled: XLA compiles the two models' programs
    # faster (the slow tier's --local run takes the defaults)
    sizes = ["--units", "32", "--cardinality", "8", "--eval-examples", "50", "--batch-size", "4"]
    sizes += ["--length", "3", "--n-copy", "1", "--no-unroll"]
    argv = ["--workdir", str(tmp_path), "--seeds", "2", "--steps", "200", *sizes]
    argv += ["--checkpoint-every", "100", "--no-progress", "--spot-checks", "3"]
    code = main(copy_task.EXPERIMENT, argv)
    result = capsys.readouterr()
    assert code == 0, result.err
    assert "Expected:" in result.out and "Welch" in result.out
    results = check_work_dir(str(tmp_path))  # the schema, and a TensorBoard curve per seed
    for name in ("baseline", "attention"):
        per_seed = results["models"][name]["per_seed"]["test_exact_match"]
        assert len(per_seed) == 2
    assert results["config"]["steps"] == 200
    for png in ("accuracy_by_seed.png", "attention_weights.png", "train_loss.png"):
        assert (tmp_path / png).stat().st_size > 1000
    assert (tmp_path / "checkpoints" / "attention").is_dir()
    # Running again into the same work dir without --resume is refused, nothing lost.
    assert (
        main(copy_task.EXPERIMENT, ["--workdir", str(tmp_path), "--seeds", "2", "--steps", "200"])
        == 2
    )
    assert "pass --resume" in capsys.readouterr().err
    # (--resume: test_resume_replays_the_same_run.)


@pytest.mark.slow  # two trainings; tests/train/test_engine.py checks one program against a loop per seed
def test_seed_loop_map_and_vmap_agree():
    results = {}
    for loop in ("map", "vmap"):
        cfg = _small_config(models="attention", steps=60, checkpoint_every=60, seed_loop=loop)
        results[loop] = _train(cfg, _mesh(cfg))["attention"].step_loss
    np.testing.assert_allclose(results["map"], results["vmap"], rtol=1e-4)


def test_the_plots_need_no_spot_check(tmp_path):
    """``--spot-checks 0`` leaves the attention model no test pair to draw: the report
    writes its other plots (it raised an IndexError)."""
    from experiments.copy_task.report import write_plots

    cfg = _small_config(steps=20)
    spot = {"inputs": [], "targets": [], "predicted": [], "attention_weights": [[]] * 5}
    models = {
        name: {"per_seed": {"test_exact_match": [0.1, 0.2]}, "summary": None}
        for name in ("baseline", "attention")
    }
    models["attention"]["spot_checks_first_seed"] = spot
    fits = {name: types.SimpleNamespace(step_loss=np.ones((2, 20))) for name in models}
    files = write_plots(str(tmp_path), cfg, models, fits)
    assert sorted(files) == ["accuracy_by_seed", "train_loss"]
