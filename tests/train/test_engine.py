"""The training engine against a plain per-seed loop, and its guarantees: per-seed data,
non-finite guard, exact resume, early stopping per seed, one trace, clear mesh errors."""

import dataclasses
import re

import jax
import numpy as np
import pytest

from rnn_attn.errors import ConfigError, NonFiniteError
from rnn_attn.models.forecasters import make_forecaster
from rnn_attn.parallel.mesh import make_mesh, mesh_shape
from rnn_attn.train import engine, feed, objectives, steps
from rnn_attn.train.callbacks import BestEpoch, Checkpointing, EpochEnd
from rnn_attn.train.optimizers import keras_optimizer
from rnn_attn.train.run import Callback

SEEDS = (0, 1, 2)


def series(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6, 3)).astype(np.float32)
    return {"inputs": x, "targets": (x[:, -1, 0] + 0.3).astype(np.float32)}


MODEL = make_forecaster("gru_dropout", 3, 6, units=6)
OPTIMIZER = keras_optimizer("rmsprop", 1e-2)
MAE = objectives.mean_absolute_error()
CONFIG = engine.FitConfig(
    seeds=SEEDS, epochs=3, batch_size=16, eval_batch_size=24, monitor="val_mae"
)


def data(n=100, rows=None, val_rows=None):
    return engine.FitData(feed.Split(series(n, 1), rows), feed.Split(series(37, 2), val_rows))


def plain_loop(config, fit_data):
    """Per seed: jitted train/eval steps over numpy batches, in a Python loop."""
    train_step = jax.jit(steps.make_train_step(MODEL, MAE, OPTIMIZER))
    eval_step = jax.jit(steps.make_eval_step(MODEL, MAE))
    histories = []
    for i, seed in enumerate(config.seeds):
        state = steps.init_state(MODEL, OPTIMIZER, *steps.default_seed_keys(seed))
        history = {}
        for epoch in range(config.epochs):
            rows = fit_data.train.rows
            own = feed.Split(fit_data.train.arrays, None if rows is None else rows[i : i + 1])
            index, weight = feed.epoch_plan(own, [seed], epoch, config.batch_size)
            total = None
            for b in range(index.shape[1]):
                batch = {k: fit_data.train.arrays[k][index[0, b]] for k in ("inputs", "targets")}
                state, sums = train_step(state, batch | {"weight": weight[0, b]})
                total = sums if total is None else jax.tree.map(np.add, total, sums)
            logs = engine.means(jax.device_get(total))
            vi, vw = feed.eval_plan(fit_data.validation, len(config.seeds), 24)
            val = None
            for b in range(vi.shape[1]):
                batch = {k: fit_data.validation.arrays[k][vi[i, b]] for k in ("inputs", "targets")}
                sums = eval_step(state.params, batch | {"weight": vw[i, b]})
                val = sums if val is None else jax.tree.map(np.add, val, sums)
            logs |= engine.means(jax.device_get(val), "val_")
            for k, v in logs.items():
                history.setdefault(k, []).append(v)
        histories.append(history)
    return histories


def assert_histories_close(a, b, rtol=1e-6):
    assert len(a) == len(b)
    for ha, hb in zip(a, b, strict=True):
        assert set(ha) == set(hb)
        for k in ha:
            np.testing.assert_allclose(ha[k], hb[k], rtol=rtol, err_msg=k)


def test_all_seeds_in_one_program_equal_a_plain_loop_per_seed():
    fit_data = data()
    result = engine.fit(MAE, MODEL, fit_data, CONFIG, optimizer=OPTIMIZER)
    assert_histories_close(result.history, plain_loop(CONFIG, fit_data))
    assert result.seeds == SEEDS
    for i in range(3):  # the seeds differ (init, dropout, order)
        assert result.history[i]["loss"] != result.history[(i + 1) % 3]["loss"]
    assert result.best_epoch == [int(np.argmin(h["val_mae"])) + 1 for h in result.history]


def test_each_seed_trains_and_validates_on_its_own_rows():
    rows = np.stack([np.random.default_rng(s).permutation(100)[:40] for s in SEEDS])
    val_rows = np.stack([np.random.default_rng(10 + s).permutation(37)[:20] for s in SEEDS])
    fit_data = data(rows=rows, val_rows=val_rows)
    result = engine.fit(MAE, MODEL, fit_data, CONFIG, optimizer=OPTIMIZER)
    assert_histories_close(result.history, plain_loop(CONFIG, fit_data))


def test_one_trace_however_the_epochs_are_cut():
    traces = []

    @dataclasses.dataclass(frozen=True)
    class Counting:
        def init(self, key):
            return MODEL.init(key)

        def apply(self, params, x, *, train=False, key=None):
            traces.append(train)
            return MODEL.apply(params, x, train=train, key=key)

    config = dataclasses.replace(CONFIG, checkpoint_every=4)  # 7 batches: segments 4, 3, 1, 4, ...
    engine.fit(MAE, Counting(), data(), config, optimizer=OPTIMIZER)
    # Each program traced once, however many segments and epochs ran: the train step for
    # its sums' shape and in the segment; the eval step for its sums' shape and in the scan.
    assert traces.count(True) == 2
    assert traces.count(False) == 2


def test_segments_within_epochs_give_the_same_run():
    whole = engine.fit(MAE, MODEL, data(), CONFIG, optimizer=OPTIMIZER)
    cut = engine.fit(
        MAE, MODEL, data(), dataclasses.replace(CONFIG, checkpoint_every=3), optimizer=OPTIMIZER
    )
    assert_histories_close(cut.history, whole.history, rtol=0)


def poisoned(row=5):
    fit_data = data()
    fit_data.train.arrays["inputs"][row, 2, 1] = np.nan
    return fit_data


def first_hit(fit_data, row, batch_size=16):
    """Per seed, the global step of the first batch that holds ``row``."""
    out = []
    for seed in SEEDS:
        for epoch in range(3):
            index, weight = feed.epoch_plan(fit_data.train, [seed], epoch, batch_size)
            hits = [
                b for b in range(index.shape[1]) if (index[0, b][weight[0, b] > 0] == row).any()
            ]
            if hits:
                out.append(epoch * index.shape[1] + hits[0])
                break
    return out


def test_a_nan_step_stops_naming_the_seed_and_step():
    fit_data = poisoned()
    step = first_hit(fit_data, 5)[0]
    with pytest.raises(
        NonFiniteError,
        match=rf"seed 0: training step {step} \(epoch 1, "
        rf"batch {step + 1}\): the loss went NaN",
    ):
        engine.fit(MAE, MODEL, fit_data, CONFIG, optimizer=OPTIMIZER)


class GradientTrap:
    """MODEL plus ``0 * sqrt(|w * x|)``: the same finite outputs, but a NaN gradient for
    ``w`` on an example whose ``x[:, 0, 2]`` is 0 (0 * inf)."""

    def init(self, key):
        return {"model": MODEL.init(key), "w": jax.numpy.ones(())}

    def apply(self, params, x, *, train=False, key=None):
        out = MODEL.apply(params["model"], x, train=train, key=key)
        trap = 0.0 * jax.numpy.sqrt(jax.numpy.abs(params["w"] * x[:, 0, 2]))
        return out + trap.reshape(out.shape)


def test_a_gradient_only_nan_is_located_at_its_own_step():
    fit_data = data()
    fit_data.train.arrays["inputs"][5, 0, 2] = 0.0
    step = first_hit(fit_data, 5)[0]
    with pytest.raises(
        NonFiniteError,
        match=rf"seed 0: training step {step} \(epoch 1, "
        rf"batch {step + 1}\): the gradients \(the loss "
        rf"was finite\) went NaN",
    ):
        engine.fit(MAE, GradientTrap(), fit_data, CONFIG, optimizer=OPTIMIZER)
    result = engine.fit(
        MAE,
        GradientTrap(),
        fit_data,
        dataclasses.replace(CONFIG, on_nonfinite="skip"),
        optimizer=OPTIMIZER,
    )
    for h in result.history:
        assert h["skipped_steps"] == [1.0, 1.0, 1.0]


def test_after_a_nan_stop_the_newest_checkpoint_is_the_clean_runs(tmp_path):
    from rnn_attn.train.checkpoints import Checkpointer

    # A row seed 0 first meets at step 5 or 6 (after the checkpoints at steps 2 and 4).
    row = next(r for r in range(100) if first_hit(data(), r)[0] >= 5)
    fit_data = poisoned(row)
    step = first_hit(fit_data, row)[0]
    # (one seed: another seed meeting the row earlier would stop the run before that)
    config = dataclasses.replace(CONFIG, seeds=(0,), checkpoint_every=2)
    with pytest.raises(NonFiniteError), Checkpointing(str(tmp_path / "nan"), {}) as ckpt:
        engine.fit(MAE, MODEL, fit_data, config, optimizer=OPTIMIZER, callbacks=[BestEpoch(), ckpt])
    with Checkpointer(str(tmp_path / "nan")) as nan_ckpt:
        newest = nan_ckpt.latest_step()
        assert newest is not None and newest <= step  # nothing saved after the bad step
        nan_state, _ = nan_ckpt.restore(newest)

    # The clean run (no NaN), stopped right after its checkpoint `newest` is written.
    class StopAt(Callback):
        def on_segment_end(self, run):
            if run.step == newest and run.batch < run.num_batches:
                raise Interrupt

        def on_epoch_closed(self, run):  # after the epoch's checkpoint
            if run.step == newest:
                raise Interrupt

    with pytest.raises(Interrupt), Checkpointing(str(tmp_path / "replay"), {}) as ckpt:
        engine.fit(
            MAE, MODEL, data(), config, optimizer=OPTIMIZER, callbacks=[BestEpoch(), ckpt, StopAt()]
        )
    with Checkpointer(str(tmp_path / "replay")) as replay:
        clean_state, _ = replay.restore(newest)
    for a, b in zip(
        jax.tree.leaves(nan_state["state"]), jax.tree.leaves(clean_state["state"]), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_skip_drops_the_nan_steps_and_counts_them():
    fit_data = poisoned()
    result = engine.fit(
        MAE, MODEL, fit_data, dataclasses.replace(CONFIG, on_nonfinite="skip"), optimizer=OPTIMIZER
    )
    for h in result.history:
        assert h["skipped_steps"] == [1.0, 1.0, 1.0]  # the poisoned row, once per epoch
        assert np.all(np.isfinite(h["loss"]))


class Interrupt(Exception):
    pass


def test_resume_mid_epoch_ends_bit_identical(tmp_path):
    config = dataclasses.replace(CONFIG, checkpoint_every=3)
    record = {"experiment": "test"}
    whole = engine.fit(MAE, MODEL, data(), config, optimizer=OPTIMIZER)

    calls = []

    class StopAfter(Callback):
        def on_segment_end(self, run):
            calls.append(run.step)
            if run.step == 9:  # mid epoch 2, right after the checkpoint at step 9
                raise Interrupt

    with pytest.raises(Interrupt), Checkpointing(str(tmp_path), record) as ckpt:
        engine.fit(
            MAE,
            MODEL,
            data(),
            config,
            optimizer=OPTIMIZER,
            callbacks=[BestEpoch(), ckpt, StopAfter()],
        )
    with (
        pytest.raises(ConfigError, match="already holds checkpoints"),
        Checkpointing(str(tmp_path), record) as ckpt,
    ):
        engine.fit(MAE, MODEL, data(), config, optimizer=OPTIMIZER, callbacks=[ckpt])
    with (
        pytest.raises(ConfigError, match="cannot resume: .*experiment"),
        Checkpointing(str(tmp_path), {"experiment": "other"}, resume=True) as ckpt,
    ):
        engine.fit(MAE, MODEL, data(), config, optimizer=OPTIMIZER, callbacks=[ckpt])
    with Checkpointing(str(tmp_path), record, resume=True) as ckpt:
        resumed = engine.fit(
            MAE, MODEL, data(), config, optimizer=OPTIMIZER, callbacks=[BestEpoch(), ckpt]
        )
    assert_histories_close(resumed.history, whole.history, rtol=0)
    for a, b in zip(jax.tree.leaves(resumed.state), jax.tree.leaves(whole.state), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_early_stopping_stops_each_seed_on_its_own():
    params_by_epoch = []
    config = dataclasses.replace(CONFIG, epochs=8, patience=1, monitor="val_loss")
    optimizer = keras_optimizer("rmsprop", 0.3)  # large steps: validation loss bounces
    result = engine.fit(
        MAE,
        MODEL,
        data(),
        config,
        optimizer=optimizer,
        callbacks=[EpochEnd(lambda run: params_by_epoch.append(jax.device_get(run.state.params)))],
    )
    lengths = [len(h["loss"]) for h in result.history]
    assert any(result.stopped_early) and len(set(lengths)) > 1, lengths
    final = jax.device_get(result.state.params)
    for i, stopped in enumerate(result.stopped_early):
        if stopped:
            assert lengths[i] == result.best_epoch[i] + 1
            # a stopped seed's parameters no longer change
            for a, b in zip(
                jax.tree.leaves(final), jax.tree.leaves(params_by_epoch[-1]), strict=True
            ):
                np.testing.assert_array_equal(a[i], b[i])


def test_mesh_shapes_and_their_errors():
    assert mesh_shape(8, 8) == (8, 1)
    assert mesh_shape(3, 2) == (1, 1)
    assert mesh_shape(6, 8, data_parallel=2) == (3, 2)
    assert mesh_shape(8, 8, data_parallel=-1) == (1, 8)
    assert mesh_shape(8, 8, seed_parallel=2, data_parallel=-1) == (2, 4)
    with pytest.raises(
        ConfigError,
        match=r"--seed-parallel 3 cannot split 8 seeds evenly; "
        r"expected a divisor of --seeds 8 \(\[1, 2, 4, 8\]\)",
    ):
        mesh_shape(8, 8, seed_parallel=3)
    with pytest.raises(
        ConfigError,
        match=r"a \(4 seed x 4 data\) mesh needs 16 devices, but "
        r"only 8",
    ):
        mesh_shape(8, 8, seed_parallel=4, data_parallel=4)
    with pytest.raises(ConfigError, match=r"mesh of 6 devices does not divide the 8 devices"):
        mesh_shape(6, 8, seed_parallel=3, data_parallel=2)
    mesh = make_mesh(3, devices=jax.devices()[:1])
    with pytest.raises(ConfigError, match="expected at least one"):
        feed.Split({"inputs": np.zeros((0, 2)), "targets": np.zeros(0)})
    assert mesh.shape == {"seed": 1, "data": 1}


def test_a_corrupt_newest_checkpoint_falls_back_to_the_previous_one(tmp_path, capfd):
    import os

    whole = engine.fit(MAE, MODEL, data(), CONFIG, optimizer=OPTIMIZER)

    class StopAfterEpoch2(Callback):
        def on_epoch_closed(self, run):  # after epoch 2's checkpoint is written
            if run.epoch == 2:
                raise Interrupt

    with pytest.raises(Interrupt), Checkpointing(str(tmp_path), {}) as ckpt:
        engine.fit(
            MAE,
            MODEL,
            data(),
            CONFIG,
            optimizer=OPTIMIZER,
            callbacks=[BestEpoch(), ckpt, StopAfterEpoch2()],
        )
    for root, _, files in os.walk(tmp_path / "14"):  # epoch 2's checkpoint (7 steps each)
        for name in files:
            with open(os.path.join(root, name), "r+b") as f:
                f.truncate(3)  # as a crash mid-write might leave it
    capfd.readouterr()
    with Checkpointing(str(tmp_path), {}, resume=True) as ckpt:
        resumed = engine.fit(
            MAE, MODEL, data(), CONFIG, optimizer=OPTIMIZER, callbacks=[BestEpoch(), ckpt]
        )
    err = capfd.readouterr().err
    assert "warning: checkpoint 14 in" in err and "unreadable" in err, err
    assert_histories_close(resumed.history, whole.history, rtol=0)


def test_a_resume_may_change_how_often_it_checkpoints(tmp_path):
    whole = engine.fit(MAE, MODEL, data(), CONFIG, optimizer=OPTIMIZER)

    class StopAt(Callback):
        def on_segment_end(self, run):
            if run.step == 8:
                raise Interrupt

    every4 = dataclasses.replace(CONFIG, checkpoint_every=4)
    with pytest.raises(Interrupt), Checkpointing(str(tmp_path), {"checkpoint_every": 4}) as c:
        engine.fit(
            MAE, MODEL, data(), every4, optimizer=OPTIMIZER, callbacks=[BestEpoch(), c, StopAt()]
        )
    every2 = dataclasses.replace(CONFIG, checkpoint_every=2)
    with Checkpointing(str(tmp_path), {"checkpoint_every": 2}, resume=True) as c:
        resumed = engine.fit(
            MAE, MODEL, data(), every2, optimizer=OPTIMIZER, callbacks=[BestEpoch(), c]
        )
    assert_histories_close(resumed.history, whole.history, rtol=0)


def test_restore_best_ends_with_the_best_epochs_parameters():
    # A zero learning rate never improves on epoch 1: patience 2 stops every seed after 3
    # (a run that leaves its parameters, so check_updates off).
    config = dataclasses.replace(
        CONFIG, epochs=10, patience=2, restore_best=True, check_updates=False
    )
    import optax

    result = engine.fit(MAE, MODEL, data(), config, optimizer=optax.sgd(0.0))
    assert result.stopped_early == [True] * 3 and result.best_epoch == [1] * 3
    assert all(len(h["val_loss"]) == 3 for h in result.history)
    for a, b in zip(
        jax.tree.leaves(result.state.params), jax.tree.leaves(result.best_params), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize(
    "changes,message",
    [
        (dict(epochs=0), "epochs must be an integer >= 1, got 0"),
        (dict(batch_size=-1), "batch_size must be an integer >= 1"),
        (dict(on_nonfinite="ignore"), "on_nonfinite must be one of ('stop', 'skip')"),
        (dict(seeds=(1, 1)), "seeds must be distinct"),
        (dict(feed="disk"), "feed must be one of ('device', 'host')"),
    ],
)
def test_bad_config_gets_one_clear_error(changes, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        dataclasses.replace(CONFIG, **changes).validate()


def test_host_fed_batches_give_the_device_fed_run():
    device = engine.fit(MAE, MODEL, data(), CONFIG, optimizer=OPTIMIZER)
    host = engine.fit(
        MAE, MODEL, data(), dataclasses.replace(CONFIG, feed="host"), optimizer=OPTIMIZER
    )
    # the same batches and keys; two programs, so equal up to float rounding
    assert_histories_close(host.history, device.history, rtol=1e-6)


def test_bfloat16_compute_runs_and_stays_close_to_float32():
    from rnn_attn.parallel.distributed import with_compute_dtype

    fp32 = engine.fit(MAE, MODEL, data(), CONFIG, optimizer=OPTIMIZER)
    bf16 = engine.fit(
        MAE, with_compute_dtype(MODEL, "bfloat16"), data(), CONFIG, optimizer=OPTIMIZER
    )
    for a, b in zip(bf16.history, fp32.history, strict=True):
        assert np.all(np.isfinite(a["loss"]))
        relative = np.abs(np.subtract(a["val_mae"], b["val_mae"])) / np.abs(b["val_mae"])
        assert 0 < relative.max() < 3e-2  # it did compute in bfloat16
