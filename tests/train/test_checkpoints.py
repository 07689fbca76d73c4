"""Checkpointer: atomic Orbax saves, written in the background, restored as saved."""

import os
import threading
import time

import jax.numpy as jnp
import numpy as np
import pytest

from rnn_attn.train.checkpoints import (
    DIGEST_KEY,
    CheckpointDigestError,
    Checkpointer,
    CheckpointWriteError,
    check_digest,
    digest,
)


def _tree(value):
    return {"params": {"w": jnp.full((4, 3), float(value))}, "step": jnp.array(value, jnp.int32)}


def test_an_asynchronous_save_returns_before_the_write_finishes(tmp_path, monkeypatch):
    release = threading.Event()
    real_write = Checkpointer._write

    def slow_write(self, step, tree, record):
        assert release.wait(30)
        real_write(self, step, tree, record)

    monkeypatch.setattr(Checkpointer, "_write", slow_write)
    with Checkpointer(str(tmp_path / "c"), asynchronous=True) as ckpt:
        tree = _tree(1)
        start = time.perf_counter()
        ckpt.save(1, tree, {"epoch": 1})
        assert time.perf_counter() - start < 5  # training goes on while the write waits
        assert not os.path.exists(tmp_path / "c" / "1")
        # The caller may change (or donate) its buffers at once: the save holds copies.
        tree["params"]["w"] = tree["params"]["w"].at[0, 0].set(99.0)
        release.set()
        assert ckpt.latest_step() == 1  # waits for the write
        restored, record = ckpt.restore(1)
    np.testing.assert_array_equal(restored["params"]["w"], np.ones((4, 3)))
    assert record == {"epoch": 1}


def test_a_failed_background_write_is_raised_by_the_next_call(tmp_path, monkeypatch):
    def failing_write(self, step, tree, record):
        raise OSError(28, "No space left on device")

    ckpt = Checkpointer(str(tmp_path / "c"), asynchronous=True)
    monkeypatch.setattr(Checkpointer, "_write", failing_write)
    ckpt.save(1, _tree(1), {})
    with pytest.raises(CheckpointWriteError, match="No space left on device"):
        ckpt.wait()
    monkeypatch.undo()
    ckpt.save(2, _tree(2), {})
    ckpt.close()
    assert Checkpointer(str(tmp_path / "c")).all_steps() == [2]


def test_saves_of_several_checkpointers_from_several_threads(tmp_path):
    # Seeds trained side by side each save from their own thread; writes must not collide.
    def run(seed):
        with Checkpointer(str(tmp_path / f"seed_{seed}"), max_to_keep=2) as ckpt:
            for step in range(1, 6):
                ckpt.save(step, _tree(seed * 10 + step), {"seed": seed})

    threads = [threading.Thread(target=run, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for seed in range(4):
        ckpt = Checkpointer(str(tmp_path / f"seed_{seed}"))
        assert ckpt.all_steps() == [4, 5]
        tree, record = ckpt.restore(5, _tree(0))
        assert int(tree["step"]) == seed * 10 + 5 and record == {"seed": seed}
        ckpt.close()


def test_a_write_killed_midway_leaves_only_a_temporary_directory(tmp_path):
    # Orbax writes into "<step>.orbax-checkpoint-tmp-*" and renames it when complete; a
    # leftover temporary directory is not a checkpoint.
    with Checkpointer(str(tmp_path / "c")) as ckpt:
        ckpt.save(1, _tree(1), {})
    os.makedirs(tmp_path / "c" / "2.orbax-checkpoint-tmp-123" / "state")
    with Checkpointer(str(tmp_path / "c")) as ckpt:
        assert ckpt.all_steps() == [1]
        assert ckpt.restore_newest_good(_tree(0))[0] == 1


def test_a_synchronous_save_is_on_disk_when_it_returns(tmp_path):
    ckpt = Checkpointer(str(tmp_path / "c"), asynchronous=False)
    ckpt.save(3, _tree(3), {"epoch": 3})
    assert os.path.isdir(tmp_path / "c" / "3")
    tree, record = ckpt.restore(3, _tree(0))
    assert int(tree["step"]) == 3 and record == {"epoch": 3}
    ckpt.close()


def test_bad_arguments():
    with pytest.raises(ValueError, match="max_to_keep must be an integer >= 1, got 0"):
        Checkpointer("/tmp/unused", max_to_keep=0)


def test_contents_changed_after_the_write_are_caught_by_the_digest(tmp_path, capsys):
    like = {"w": jnp.arange(4.0), "step": jnp.asarray(0)}
    with Checkpointer(str(tmp_path), asynchronous=False) as ckpt:
        ckpt.save(1, like, {"history": [1.5]})
        ckpt.save(2, {"w": jnp.arange(4.0) + 1, "step": jnp.asarray(2)}, {"history": [1.5]})
        tree, record = ckpt.restore(2, like)
        assert record == {"history": [1.5]}  # the digest stays inside the checkpoint
        np.testing.assert_array_equal(tree["w"], np.arange(4.0) + 1)
    # A record edited into other valid JSON (a figure changed, the length kept): the
    # formats notice nothing, the digest does, and the resume falls back to step 1.
    path = tmp_path / "2" / "record" / "metadata"
    path.write_text(path.read_text().replace("1.5", "2.5"))
    with Checkpointer(str(tmp_path), asynchronous=False) as ckpt:
        with pytest.raises(CheckpointDigestError, match="differ from their SHA-256 digest"):
            ckpt.restore(2, like)
        step, tree, record = ckpt.restore_newest_good(like)
    assert step == 1 and record == {"history": [1.5]}
    assert "checkpoint 2" in capsys.readouterr().err
    # Arrays read back with other values fail the same check.
    saved = {"history": [1.5], DIGEST_KEY: digest(like, {"history": [1.5]})}
    check_digest(like, saved)
    with pytest.raises(CheckpointDigestError):
        check_digest({"w": jnp.arange(4.0).at[3].set(7.0), "step": jnp.asarray(0)}, saved)
