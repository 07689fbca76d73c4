import jax
import numpy as np
import optax
import pytest

from experiments.vanishing_gradients import study as gs
from experiments.vanishing_gradients import train as vg
from experiments.vanishing_gradients.config import VanishingConfig
from rnn_attn.config import to_dict
from rnn_attn.errors import NonFiniteError
from rnn_attn.experiment import runner
from rnn_attn.experiment.cli import main
from rnn_attn.experiment.context import RunContext
from rnn_attn.parallel.mesh import make_mesh
from tests._results import check_work_dir

SMALL = gs.StudySettings(
    units=8, symbols=4, batch_size=16, steps=30, eval_examples=64, gradient_examples=16
)


def test_task_labels_are_the_first_symbol():
    x, y = gs.sample_first_symbol_task(jax.random.PRNGKey(0), 32, 6, 5)
    assert x.shape == (32, 6, 5) and y.shape == (32,)
    np.testing.assert_array_equal(np.argmax(x[:, 0], -1), y)


def test_gradient_by_step_is_each_examples_own_input_gradient():
    model, _ = gs.build("gru", SMALL)
    params = model.init(jax.random.PRNGKey(0))
    x, y = gs.sample_first_symbol_task(jax.random.PRNGKey(1), 3, 5, SMALL.symbols)
    got = np.asarray(gs.gradient_by_step(model, params, x, y))
    per_example = []
    for b in range(3):

        def loss(xb, b=b):
            logits = model.apply(params, xb[None])
            return -jax.nn.log_softmax(logits)[0, y[b]]

        per_example.append(np.linalg.norm(np.asarray(jax.grad(loss)(x[b])), axis=-1))
    np.testing.assert_allclose(got, np.mean(per_example, 0), rtol=1e-6)


def test_random_normal_init_vanishes_where_orthogonal_does_not():
    x_len = 30
    norms = {}
    for name in ("simple_rnn", "simple_rnn_normal_init"):
        model, _ = gs.build(name, SMALL)
        params = model.init(jax.random.PRNGKey(0))
        x, y = gs.sample_first_symbol_task(jax.random.PRNGKey(1), 16, x_len, SMALL.symbols)
        norms[name] = gs.reach(np.asarray(gs.gradient_by_step(model, params, x, y)))
    assert norms["simple_rnn_normal_init"] < -5  # more than five orders of magnitude
    assert norms["simple_rnn"] > norms["simple_rnn_normal_init"] + 3


def test_at_init_simple_rnn_loses_the_first_input_where_remembering_gates_keep_it():
    """T = 100 at the study's default width: SimpleRNN (orthogonal init) and the gated
    cells with Keras's gate biases lose orders of magnitude; gated cells whose keep-gate
    bias is 5 do not."""
    settings = gs.StudySettings()
    x, y = gs.sample_first_symbol_task(jax.random.PRNGKey(1), 32, 100, settings.symbols)
    reach = {}
    for name in ("simple_rnn", "lstm", "gru", "lstm_forget_bias_5", "gru_update_bias_5"):
        model, _ = gs.build(name, settings)
        params = model.init(jax.random.PRNGKey(0))
        reach[name] = gs.reach(np.asarray(gs.gradient_by_step(model, params, x, y)))
    assert reach["simple_rnn"] < -4, reach
    assert reach["lstm"] < -4 and reach["gru"] < -4, reach
    assert reach["lstm_forget_bias_5"] > -1 and reach["gru_update_bias_5"] > -1, reach


def _one_device():
    return make_mesh(2, devices=jax.devices()[:1])


def _small_config(**changes) -> VanishingConfig:
    """SMALL's training settings as the experiment's config, one job at length 5."""
    base = dict(
        configs="lstm",
        lengths="5",
        seeds=2,
        units=SMALL.units,
        symbols=SMALL.symbols,
        batch_size=SMALL.batch_size,
        steps=SMALL.steps,
        learning_rate=SMALL.learning_rate,
        checkpoint_every=0,
    )
    return VanishingConfig(**(base | changes)).validate()


def _train(cfg: VanishingConfig, mesh, workdir):
    """The experiment's setup and every job trained by the shared runner's pieces."""
    ctx = RunContext(
        "vanishing_gradients",
        str(workdir),
        mesh,
        "float32",
        resume=False,
        progress=False,
        primary=True,
        record=to_dict(cfg),
    )
    setup = vg.build(cfg, ctx)
    return setup, runner.train(cfg, ctx, setup, {})


@pytest.mark.slow  # several compiled jobs; the engine test checks seeds in one program against a loop
def test_the_runner_over_seeds_matches_a_plain_loop(tmp_path):
    cfg = _small_config()
    setup, fits = _train(cfg, _one_device(), tmp_path / "both")
    job = setup.extras["lstm_T5"]
    out = gs.measure(fits["lstm_T5"], job.model, job.optimizer, SMALL, 5)
    assert out["grad_init"].shape == (2, 5) and out["test_accuracy"].shape == (2,)
    assert out["train_loss"].shape == (2, SMALL.steps)
    assert np.isfinite(out["train_loss"]).all()
    # A seed trained alone gets the numbers it gets beside another seed.
    alone_cfg = _small_config(seeds=1, first_seed=1)
    alone_setup, alone_fits = _train(alone_cfg, make_mesh(1), tmp_path / "alone")
    job = alone_setup.extras["lstm_T5"]
    alone = gs.measure(alone_fits["lstm_T5"], job.model, job.optimizer, SMALL, 5)
    np.testing.assert_allclose(alone["train_loss"][0], out["train_loss"][1], rtol=1e-6)
    np.testing.assert_allclose(alone["grad_trained"][0], out["grad_trained"][1], rtol=1e-5)
    # ... and the losses of a plain optax loop over the same sampled batches.
    model, optimizer = gs.build("lstm", SMALL)
    init_key, data_key, _, _ = gs.repeat_keys(1)
    params = model.init(init_key)
    opt_state = optimizer.init(params)
    for step in range(3):
        x, y = gs.sample_first_symbol_task(
            jax.random.fold_in(data_key, step), SMALL.batch_size, 5, SMALL.symbols
        )

        def loss(p, x=x, y=y):
            return optax.softmax_cross_entropy_with_integer_labels(model.apply(p, x), y).mean()

        value, grads = jax.value_and_grad(loss)(params)
        assert out["train_loss"][1, step] == pytest.approx(float(value), rel=1e-5)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
    assert gs.reach(np.array([1e-3, 1.0, 1.0])) == pytest.approx(-3.0)
    entry = vg.evaluate(cfg, setup, "lstm_T5", fits["lstm_T5"])
    assert entry["config"] == "lstm" and entry["length"] == 5
    assert len(entry["per_seed"]["test_accuracy"]) == 2
    with pytest.raises(ValueError, match="unknown configuration 'rnn'"):
        gs.build("rnn", SMALL)
    with pytest.raises(ValueError, match="length must be an integer >= 2"):
        gs.sampler(SMALL, 1, [0])


def test_a_diverging_run_stops_naming_the_seed_and_step(tmp_path):
    cfg = _small_config(configs="simple_rnn", seeds=1, learning_rate=1e38)
    with pytest.raises(
        NonFiniteError,
        match=r"seed 0: training step \d+ .*went NaN or "
        r"infinite",
    ):
        _train(cfg, make_mesh(1), tmp_path)


@pytest.mark.parametrize(
    "args,message",
    [
        (["--lengths", "1"], "--lengths must be comma-separated integers >= 2"),
        (["--lengths", "ten"], "--lengths must be comma-separated integers >= 2"),
        (["--configs", "simple_rnn,transformer"], "unknown configuration 'transformer'"),
        (["--seeds", "0"], "--seeds must be an integer >= 1, got 0"),
    ],
)
def test_cli_bad_input_gets_one_line(args, message, tmp_path, capsys):
    code = main(vg.EXPERIMENT, ["--workdir", str(tmp_path), "--no-progress", *args])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and message in err, err
    assert len(err.strip().splitlines()) == 1


def test_the_experiment_writes_its_table_results_and_plots_and_resumes(tmp_path, capsys):
    import json

    args = [
        "--workdir",
        str(tmp_path),
        "--no-progress",
        "--configs",
        "gru_update_bias_5",
        "--lengths",
        "6",
        "--seeds",
        "2",
        "--steps",
        "20",
        "--units",
        "4",
        "--symbols",
        "3",
        "--checkpoint-every",
        "10",
    ]
    code = main(vg.EXPERIMENT, args)
    out = capsys.readouterr().out
    assert code == 0
    assert "reach@init" in out and "TEST accuracy" in out and "gru_update_bias_5" in out
    results = check_work_dir(str(tmp_path))  # the schema, and a TensorBoard curve per seed
    assert set(results["models"]) == {"gru_update_bias_5_T6"}
    per_seed = results["models"]["gru_update_bias_5_T6"]["per_seed"]
    assert len(per_seed["test_accuracy"]) == 2 and len(per_seed["reach_init"]) == 2
    assert all(0.0 <= a <= 1.0 for a in per_seed["test_accuracy"])
    assert len(results["models"]["gru_update_bias_5_T6"]["grad_norm_by_step_init_mean"]) == 6
    for name in ("gradient_by_step", "gradient_by_step_cells", "accuracy_by_length"):
        path = tmp_path / f"{name}.png"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert (tmp_path / "checkpoints" / "gru_update_bias_5_T6").is_dir()
    # --resume of the finished run gives the same results; another config is refused.
    assert main(vg.EXPERIMENT, [*args, "--resume"]) == 0
    again = json.loads((tmp_path / "results.json").read_text())["models"]
    assert again["gru_update_bias_5_T6"]["per_seed"] == per_seed
    capsys.readouterr()
    assert main(vg.EXPERIMENT, [*args, "--resume", "--units", "8"]) == 2
    assert "units: saved 4, now 8" in capsys.readouterr().err
