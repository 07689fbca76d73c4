"""TensorBoardCurves: each seed's curves in event files, read back by TensorBoard's own
reader: one curve per seed and metric, one point per epoch (or per segment), the values
the history holds; live while training; once per step after a resume; the primary process
only."""

import dataclasses
import os
import time

import jax
import numpy as np
import pytest

from rnn_attn.errors import ConfigError
from rnn_attn.models.forecasters import make_forecaster
from rnn_attn.parallel import distributed
from rnn_attn.train import engine, feed, objectives
from rnn_attn.train.callbacks import BestEpoch, Checkpointing, EpochEnd
from rnn_attn.train.optimizers import keras_optimizer
from rnn_attn.train.run import Callback
from rnn_attn.train.tensorboard import TensorBoardCurves, _open_writer

event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator",
    reason="tensorboard (the dev extra) reads the event files back",
)

SEEDS = (3, 7)  # seed numbers, not indices
MODEL = make_forecaster("gru_dropout", 3, 6, units=6)
OPTIMIZER = keras_optimizer("rmsprop", 1e-2)
MAE = objectives.mean_absolute_error()
CONFIG = engine.FitConfig(seeds=SEEDS, epochs=3, batch_size=16, monitor="val_mae")


def series(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6, 3)).astype(np.float32)
    return {"inputs": x, "targets": (x[:, -1, 0] + 0.3).astype(np.float32)}


def data():
    return engine.FitData(feed.Split(series(64, 1)), feed.Split(series(24, 2)))


def sampled(steps_per_epoch):
    """A ``feed.Sampler``, as the copy task trains: batches drawn on the device, no
    validation split."""

    def sample(key):
        x = jax.random.normal(key, (16, 6, 3), np.float32)
        return {"inputs": x, "targets": x[:, -1, 0] + 0.3}

    keys = np.stack([np.asarray(jax.random.key_data(jax.random.key(s))) for s in SEEDS])
    return engine.FitData(feed.Sampler(sample, keys, steps_per_epoch))


def read(directory):
    """``{tag: [(step, value), ...]}`` as TensorBoard's reader shows them."""
    acc = event_accumulator.EventAccumulator(str(directory), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_one_point_per_seed_metric_and_epoch_equal_to_the_history(tmp_path):
    curves = TensorBoardCurves(tmp_path, "gru")
    result = engine.fit(MAE, MODEL, data(), CONFIG, optimizer=OPTIMIZER, callbacks=[curves])
    assert curves.mode == "epoch"  # auto: several epochs
    scalars = read(tmp_path / "gru")
    metrics = set(result.history[0])
    assert metrics >= {"loss", "mae", "val_loss", "val_mae"}
    assert set(scalars) == {f"gru/seed_{s}/{m}" for s in SEEDS for m in metrics}
    for i, seed in enumerate(SEEDS):
        for metric, values in result.history[i].items():
            points = scalars[f"gru/seed_{seed}/{metric}"]
            assert [step for step, _ in points] == [1, 2, 3]
            np.testing.assert_array_equal(
                np.float32([v for _, v in points]), np.float32(values), err_msg=metric
            )
    assert curves.writer is None  # closed at the fit's end
    assert len(os.listdir(tmp_path)) == 1  # one directory per model


def test_a_seed_stopped_early_has_no_more_points(tmp_path):
    config = dataclasses.replace(CONFIG, epochs=6, patience=1, monitor="val_loss")
    result = engine.fit(
        MAE,
        MODEL,
        data(),
        config,
        optimizer=keras_optimizer("rmsprop", 0.3),
        callbacks=[TensorBoardCurves(tmp_path, "gru")],
    )
    scalars = read(tmp_path / "gru")
    for i, seed in enumerate(SEEDS):
        epochs = len(result.history[i]["loss"])
        assert [s for s, _ in scalars[f"gru/seed_{seed}/val_loss"]] == list(range(1, epochs + 1))


def test_points_are_on_disk_while_training(tmp_path):
    seen = []

    def look(run):  # after the callback wrote this epoch: wait for the writer's thread
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            scalars = read(tmp_path / "gru")
            steps = [s for s, _ in scalars.get(f"gru/seed_{SEEDS[1]}/val_mae", [])]
            if steps and steps[-1] == run.epoch:
                break
            time.sleep(0.1)
        seen.append(steps)

    config = dataclasses.replace(CONFIG, epochs=2)
    engine.fit(
        MAE,
        MODEL,
        data(),
        config,
        optimizer=OPTIMIZER,
        callbacks=[TensorBoardCurves(tmp_path, "gru"), EpochEnd(look)],
    )
    assert seen == [[1], [1, 2]]


def test_segment_mode_one_loss_point_per_segment_at_its_optimizer_step(tmp_path):
    config = dataclasses.replace(CONFIG, epochs=1, checkpoint_every=3, monitor="loss")
    curves = TensorBoardCurves(tmp_path, "copy")
    result = engine.fit(MAE, MODEL, sampled(10), config, optimizer=OPTIMIZER, callbacks=[curves])
    assert curves.mode == "segment"  # auto: one epoch
    scalars = read(tmp_path / "copy")
    # The epoch's other metrics at its last step; its loss is the segments'.
    assert set(scalars) == {f"copy/seed_{s}/{m}" for s in SEEDS for m in ("loss", "mae")}
    for i, seed in enumerate(SEEDS):
        points = scalars[f"copy/seed_{seed}/loss"]
        assert [step for step, _ in points] == [3, 6, 9, 10]
        expected = [
            np.mean(result.step_loss[i, a:b], dtype=np.float64)
            for a, b in ((0, 3), (3, 6), (6, 9), (9, 10))
        ]
        np.testing.assert_array_equal(np.float32([v for _, v in points]), np.float32(expected))
        assert scalars[f"copy/seed_{seed}/mae"] == [
            (10, pytest.approx(result.history[i]["mae"][0], rel=1e-6))
        ]


def test_segments_are_cut_at_epoch_ends_too(tmp_path):
    # 4 steps an epoch, a segment every 3: [0, 3), [3, 4), [4, 6), [6, 8).
    config = dataclasses.replace(CONFIG, epochs=2, checkpoint_every=3, monitor="loss")
    result = engine.fit(
        MAE,
        MODEL,
        sampled(4),
        config,
        optimizer=OPTIMIZER,
        callbacks=[TensorBoardCurves(tmp_path, "copy", per="segment")],
    )
    scalars = read(tmp_path / "copy")
    for i, seed in enumerate(SEEDS):
        points = scalars[f"copy/seed_{seed}/loss"]
        assert [step for step, _ in points] == [3, 4, 6, 8]
        expected = [
            np.mean(result.step_loss[i, a:b], dtype=np.float64)
            for a, b in ((0, 3), (3, 4), (4, 6), (6, 8))
        ]
        np.testing.assert_array_equal(np.float32([v for _, v in points]), np.float32(expected))
        assert [s for s, _ in scalars[f"copy/seed_{seed}/mae"]] == [4, 8]


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("per", ["epoch", "segment"])
def test_a_resume_shows_each_step_once(tmp_path, per):
    """Interrupted after the callback wrote epoch 2 but before its checkpoint: the resumed
    run writes epochs 2 and 3 again, and the reader shows each step once."""
    config = dataclasses.replace(CONFIG, checkpoint_every=3 if per == "segment" else 0)
    logdir, ckpts = tmp_path / "tb", str(tmp_path / "ckpt")

    class StopAtEpoch2(Callback):
        def on_epoch_end(self, run):
            if run.epoch == 2:
                raise Interrupt

    with (
        pytest.raises(Interrupt),
        Checkpointing(ckpts, {}) as ckpt,
        TensorBoardCurves(logdir, "gru", per=per) as curves,
    ):
        engine.fit(
            MAE,
            MODEL,
            data(),
            config,
            optimizer=OPTIMIZER,
            callbacks=[BestEpoch(), curves, StopAtEpoch2(), ckpt],
        )
    assert curves.writer is None  # closed by the with block
    before = read(logdir / "gru")
    with Checkpointing(ckpts, {}, resume=True) as ckpt:
        result = engine.fit(
            MAE,
            MODEL,
            data(),
            config,
            optimizer=OPTIMIZER,
            callbacks=[BestEpoch(), ckpt, TensorBoardCurves(logdir, "gru", per=per)],
        )
    assert len(os.listdir(logdir / "gru")) == 2  # one event file per fit
    scalars = read(logdir / "gru")
    whole = read_whole(tmp_path / "whole", config, per)
    assert set(scalars) == set(whole)
    for tag, points in scalars.items():
        assert [s for s, _ in points] == [s for s, _ in whole[tag]], tag
        assert (
            np.float32([v for _, v in points]).tolist()
            == np.float32([v for _, v in whole[tag]]).tolist()
        ), tag
    if per == "epoch":
        assert [s for s, _ in before[f"gru/seed_{SEEDS[0]}/loss"]] == [1, 2]
        np.testing.assert_array_equal(
            np.float32([v for _, v in scalars[f"gru/seed_{SEEDS[0]}/loss"]]),
            np.float32(result.history[0]["loss"]),
        )
    else:  # 4 steps an epoch: segments end at 3, 4, 6, 8, 9, 12
        assert [s for s, _ in before[f"gru/seed_{SEEDS[0]}/loss"]] == [3, 4, 6, 8]
        assert [s for s, _ in scalars[f"gru/seed_{SEEDS[0]}/loss"]] == [3, 4, 6, 8, 9, 12]


def read_whole(logdir, config, per):
    engine.fit(
        MAE,
        MODEL,
        data(),
        config,
        optimizer=OPTIMIZER,
        callbacks=[TensorBoardCurves(logdir, "gru", per=per)],
    )
    return read(logdir / "gru")


def test_two_writers_opened_in_one_second_keep_both_files_in_order(tmp_path):
    # tensorboardX names a file by its second and host, and opens it afresh.
    for value in (1.0, 2.0):
        writer = _open_writer(str(tmp_path), 1)
        writer.add_scalar("x", value, 1)
        writer.close()
    assert len(os.listdir(tmp_path)) == 2
    assert read(tmp_path) == {"x": [(1, 2.0)]}  # the second file read last


def test_a_process_other_than_the_primary_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(distributed, "is_primary", lambda: False)
    engine.fit(
        MAE,
        MODEL,
        data(),
        dataclasses.replace(CONFIG, epochs=1),
        optimizer=OPTIMIZER,
        callbacks=[TensorBoardCurves(tmp_path / "tb", "gru")],
    )
    assert not (tmp_path / "tb").exists()


def test_bad_arguments_are_refused():
    with pytest.raises(ConfigError, match="per must be one of"):
        TensorBoardCurves("tb", "gru", per="batch")
    with pytest.raises(ConfigError, match="one directory"):
        TensorBoardCurves("tb", "a/b")
