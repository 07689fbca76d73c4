import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from rnn_attn import trainer
from rnn_attn.checkpoints import Checkpointer
from rnn_attn.config import ConfigError


@dataclasses.dataclass(frozen=True)
class MeanEmbedding:
    """A tiny text classifier: mean of token embeddings -> dropout -> logit."""

    vocab_size: int = 20
    dim: int = 4
    dropout: float = 0.3

    def init(self, key):
        k1, k2 = jax.random.split(key)
        return {"emb": 0.1 * jax.random.normal(k1, (self.vocab_size, self.dim)),
                "w": 0.1 * jax.random.normal(k2, (self.dim,)), "b": jnp.zeros(())}

    def apply(self, params, tokens, *, train=False, key=None):
        h = params["emb"][tokens].mean(1)
        if train and self.dropout:
            keep = jax.random.bernoulli(key, 1 - self.dropout, h.shape)
            h = jnp.where(keep, h / (1 - self.dropout), 0.0)
        return h @ params["w"] + params["b"]

    def regularization(self, params):
        return 1e-3 * jnp.sum(params["w"] ** 2)


def _data(n, seed):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(1, 20, size=(n, 8)).astype(np.int32)
    labels = ((tokens < 10).sum(1) > 4).astype(np.int32)
    return {"inputs": tokens, "targets": labels}


OPTIONS = trainer.FitOptions(epochs=3, batch_size=16, seed=7, eval_batch_size=32)


def _fit(tmp_path=None, *, resume=False, options=OPTIONS, optimizer=None, config_record=None,
         **kwargs):
    model = MeanEmbedding()
    optimizer = optimizer or optax.adam(0.05)
    state = trainer.init_state(model, optimizer, jax.random.PRNGKey(0))
    ckpt = Checkpointer(str(tmp_path / "ckpt")) if tmp_path is not None else None
    try:
        return trainer.fit(model, trainer.binary_classification(), optimizer, state,
                           _data(100, 0), _data(50, 1), options, checkpointer=ckpt,
                           config_record=config_record or {"lr": 0.05}, resume=resume,
                           progress=False, **kwargs)
    finally:
        if ckpt is not None:
            ckpt.close()


def test_fit_learns_and_records_a_history():
    result = _fit()
    assert set(result.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 3 for v in result.history.values())
    assert result.history["loss"][-1] < result.history["loss"][0]
    assert result.history["val_accuracy"][-1] > 0.7
    assert 1 <= result.best_epoch <= 3
    best = int(np.argmin(result.history["val_loss"])) + 1  # monitor: val_loss, lower is better
    assert result.best_epoch == best
    assert result.best_value == min(result.history["val_loss"])


def test_evaluation_covers_every_example_exactly():
    model = MeanEmbedding()
    params = model.init(jax.random.PRNGKey(1))
    data = _data(53, 3)  # 53 = 3 batches of 20, the last one padded with 7 dummies
    eval_step = jax.jit(trainer.make_eval_step(model, trainer.binary_classification()))
    got = trainer.evaluate(eval_step, params, data, 20)
    logits = np.asarray(model.apply(params, jnp.asarray(data["inputs"])))
    y = data["targets"]
    expected_acc = np.mean((logits > 0) == (y == 1))
    bce = np.mean(np.logaddexp(0, logits) - y * logits) + float(model.regularization(params))
    assert got["val_accuracy"] == pytest.approx(expected_acc, abs=1e-12)
    assert got["val_loss"] == pytest.approx(bce, rel=1e-6)


def test_padding_examples_change_nothing_in_a_train_step():
    model = MeanEmbedding(dropout=0.0)
    optimizer = optax.sgd(0.1)
    step = trainer.make_train_step(model, trainer.binary_classification(), optimizer)
    data = _data(4, 5)
    state = trainer.init_state(model, optimizer, jax.random.PRNGKey(2))
    padded = {"inputs": data["inputs"], "targets": data["targets"],
              "weight": np.array([1, 1, 0, 0], np.float32)}
    real = {k: v[:2] for k, v in padded.items()}
    a, sums_a = step(state, padded)
    b, sums_b = step(state, real)
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-12), a.params, b.params)
    assert float(sums_a["count"]) == 2.0
    np.testing.assert_allclose(sums_a["loss"], sums_b["loss"], rtol=1e-12)


def test_one_step_changes_every_parameter():
    model = MeanEmbedding()
    optimizer = optax.adam(0.01)
    step = jax.jit(trainer.make_train_step(model, trainer.binary_classification(), optimizer))
    state = trainer.init_state(model, optimizer, jax.random.PRNGKey(3))
    before = jax.tree.map(np.array, state.params)
    batch = _data(16, 0) | {"weight": np.ones(16, np.float32)}
    after, _ = step(state, batch)
    for name in before:
        assert not np.allclose(before[name], after.params[name]), name
    assert int(after.step) == 1


def _fit_until_epoch(tmp_path, last_epoch):
    """``_fit`` into ``tmp_path``, interrupted right after epoch ``last_epoch``'s checkpoint."""

    class Interrupted(Exception):
        pass

    def stop(epoch, logs, state):
        if epoch == last_epoch:
            raise Interrupted

    with pytest.raises(Interrupted):
        _fit(tmp_path, on_epoch_end=stop)


def test_resume_after_interruption_is_bit_identical(tmp_path):
    whole = _fit()
    _fit_until_epoch(tmp_path, 1)
    resumed = _fit(tmp_path, resume=True)
    assert resumed.history == whole.history
    jax.tree.map(np.testing.assert_array_equal, resumed.state.params, whole.state.params)
    jax.tree.map(np.testing.assert_array_equal, resumed.best_params, whole.best_params)


def test_existing_checkpoints_are_never_overwritten(tmp_path):
    _fit(tmp_path, options=dataclasses.replace(OPTIONS, epochs=1))
    with pytest.raises(ConfigError, match="already holds checkpoints .* pass --resume"):
        _fit(tmp_path)
    model = MeanEmbedding()
    optimizer = optax.adam(0.05)
    ckpt = Checkpointer(str(tmp_path / "ckpt"))
    with pytest.raises(ConfigError, match=r"configuration differs .*lr: saved 0.05, now 0.1"):
        trainer.fit(model, trainer.binary_classification(), optimizer,
                    trainer.init_state(model, optimizer, jax.random.PRNGKey(0)), _data(100, 0),
                    _data(50, 1), OPTIONS, checkpointer=ckpt, config_record={"lr": 0.1},
                    resume=True, progress=False)
    ckpt.close()


def test_a_resume_may_change_how_often_it_checkpoints(tmp_path):
    whole = _fit()
    with pytest.raises(_StopAfter):
        _fit(tmp_path, compiled=_steps_stopping_after(9),
             options=dataclasses.replace(OPTIONS, checkpoint_every=4))
    # ... but not what it computes: a new learning rate is refused (test above).
    resumed = _fit(tmp_path, resume=True, config_record={"lr": 0.05, "checkpoint_every": 2},
                   options=dataclasses.replace(OPTIONS, checkpoint_every=2))
    assert resumed.history == whole.history
    jax.tree.map(np.testing.assert_array_equal, resumed.state.params, whole.state.params)


def test_early_stopping_and_restore_best():
    # A zero learning rate never improves on epoch 1: patience 2 stops after epoch 3.
    options = dataclasses.replace(OPTIONS, epochs=10, patience=2, restore_best=True)
    result = _fit(options=options, optimizer=optax.sgd(0.0))
    assert result.stopped_early and len(result.history["val_loss"]) == 3
    assert result.best_epoch == 1


def test_bad_options_get_one_clear_error():
    with pytest.raises(ConfigError, match="epochs must be an integer >= 1, got 0"):
        trainer.FitOptions(epochs=0, batch_size=4).validate()
    with pytest.raises(ConfigError, match="batch_size must be an integer >= 1"):
        trainer.FitOptions(epochs=1, batch_size=-1).validate()


def test_run_parallel_keeps_order_and_reraises():
    out = trainer.run_parallel(lambda job, device, slot: job * 2, range(5))
    assert out == [0, 2, 4, 6, 8]

    def failing(job, device, slot):
        if job == 2:
            raise ValueError("job 2 failed")
        return job

    with pytest.raises(ValueError, match="job 2 failed"):
        trainer.run_parallel(failing, range(4))


def _poisoned_objective():
    """Binary cross-entropy, but NaN for examples labelled 2 (a poisoned batch)."""
    base = trainer.binary_classification()

    def loss(logits, labels):
        clean = base.loss(logits, jnp.minimum(labels, 1))
        return jnp.where(labels == 2, jnp.nan, clean)

    return dataclasses.replace(base, loss=loss)


def _poisoned_data(step_with_nan):
    """64 examples, unshuffled in batches of 16: step s holds example 16 (s mod 4)."""
    data = _data(64, 0)
    data["targets"] = data["targets"].copy()
    data["targets"][16 * (step_with_nan % 4)] = 2
    return data


def _steps_with_nan_loss_at(bad_step):
    """The jitted steps, with NaN injected into the loss of step ``bad_step`` (0-based)."""
    train_step, eval_step = trainer.jit_steps(MeanEmbedding(), trainer.binary_classification(),
                                              optax.adam(0.05))

    def step(state, batch):
        if not isinstance(state.step, jax.core.Tracer) and int(state.step) == bad_step:
            batch = dict(batch, weight=batch["weight"] * np.nan)
        return train_step(state, batch)

    return step, eval_step


def test_a_nan_loss_stops_with_the_step_named_and_the_checkpoint_intact(tmp_path):
    # 100 examples in batches of 16: 7 steps an epoch; a checkpoint every 2 steps.
    options = dataclasses.replace(OPTIONS, checkpoint_every=2)
    with pytest.raises(trainer.NonFiniteError,
                       match=r"training step 12 \(epoch 2, batch 6\): the loss went NaN"):
        _fit(tmp_path / "nan", options=options, compiled=_steps_with_nan_loss_at(12))
    with pytest.raises(_StopAfter):  # the same run, clean, up to the bad step
        _fit(tmp_path / "clean", options=options, compiled=_steps_stopping_after(12))
    with Checkpointer(str(tmp_path / "nan" / "ckpt")) as ckpt:
        assert ckpt.all_steps() == [10, 12]  # nothing saved at or after the bad step
        poisoned, record = ckpt.restore(12)
    with Checkpointer(str(tmp_path / "clean" / "ckpt")) as ckpt:
        clean, _ = ckpt.restore(12)
    assert (record["epoch"], record["batch"]) == (1, 5)
    # The checkpoint from before the bad step is intact: the clean run's state there.
    jax.tree.map(np.testing.assert_array_equal, poisoned["state"], clean["state"])


def test_skip_drops_the_nonfinite_step_and_goes_on():
    model = MeanEmbedding()
    optimizer = optax.adam(0.05)
    options = trainer.FitOptions(epochs=2, batch_size=16, shuffle=False, on_nonfinite="skip")
    result = trainer.fit(model, _poisoned_objective(), optimizer,
                         trainer.init_state(model, optimizer, jax.random.PRNGKey(0)),
                         _poisoned_data(1), _data(20, 1), options, progress=False)
    assert result.history["skipped_steps"] == [1.0, 1.0]
    assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(result.state.params))
    assert np.isfinite(result.history["loss"]).all()
    with pytest.raises(ConfigError, match="on_nonfinite must be 'stop' or 'skip'"):
        trainer.FitOptions(epochs=1, batch_size=4, on_nonfinite="ignore").validate()


def test_a_corrupt_newest_checkpoint_falls_back_to_the_previous_one(tmp_path, capfd):
    whole = _fit()
    _fit_until_epoch(tmp_path, 2)
    # Truncate every file of the newest checkpoint (epoch 2 = step 14), as a crash might.
    import os

    newest = tmp_path / "ckpt" / "14"
    for root, _, files in os.walk(newest):
        for name in files:
            with open(os.path.join(root, name), "r+b") as f:
                f.truncate(3)
    capfd.readouterr()
    resumed = _fit(tmp_path, resume=True)
    err = capfd.readouterr().err
    assert "warning: checkpoint 14 in" in err and "unreadable" in err, err
    assert resumed.history == whole.history
    jax.tree.map(np.testing.assert_array_equal, resumed.state.params, whole.state.params)


class _StopAfter(Exception):
    pass


def _steps_stopping_after(count):
    """The jitted steps, with a train step that raises once ``count`` steps have run (as a
    kill would, between two steps)."""
    train_step, eval_step = trainer.jit_steps(MeanEmbedding(), trainer.binary_classification(),
                                              optax.adam(0.05))
    calls = []

    def step(state, batch):
        if not isinstance(state.step, jax.core.Tracer):  # fit's eval_shape traces it once
            if len(calls) == count:
                raise _StopAfter
            calls.append(1)
        return train_step(state, batch)

    return step, eval_step


def test_resume_mid_epoch_is_bit_identical(tmp_path):
    # 100 examples in batches of 16: 7 steps an epoch, 21 in all; a checkpoint every 3.
    options = dataclasses.replace(OPTIONS, checkpoint_every=3)
    whole = _fit(options=options)
    directory = str(tmp_path / "ckpt")
    saved_at = lambda step: max(s for s in range(step + 1) if s % 3 == 0 or s % 7 == 0)  # noqa: E731
    reached = 0
    for more in (5, 6, 9, 2):  # stopped at steps 5, 3 + 6 = 9, 9 + 9 = 18, 18 + 2 = 20
        model, optimizer = MeanEmbedding(), optax.adam(0.05)
        with Checkpointer(directory) as ckpt:
            with pytest.raises(_StopAfter):
                trainer.fit(model, trainer.binary_classification(), optimizer,
                            trainer.init_state(model, optimizer, jax.random.PRNGKey(0)),
                            _data(100, 0), _data(50, 1), options, checkpointer=ckpt,
                            config_record={"lr": 0.05}, resume=True, progress=False,
                            compiled=_steps_stopping_after(more))
            reached = saved_at(reached) + more
            assert ckpt.latest_step() == saved_at(reached), (reached, ckpt.all_steps())
    with Checkpointer(directory) as ckpt:
        model, optimizer = MeanEmbedding(), optax.adam(0.05)
        resumed = trainer.fit(model, trainer.binary_classification(), optimizer,
                              trainer.init_state(model, optimizer, jax.random.PRNGKey(0)),
                              _data(100, 0), _data(50, 1), options, checkpointer=ckpt,
                              config_record={"lr": 0.05}, resume=True, progress=False)
        assert ckpt.latest_step() == 21
    assert resumed.history == whole.history
    jax.tree.map(np.testing.assert_array_equal, resumed.state.params, whole.state.params)
    jax.tree.map(np.testing.assert_array_equal, resumed.state.opt_state, whole.state.opt_state)
    jax.tree.map(np.testing.assert_array_equal, resumed.best_params, whole.best_params)
