"""Orbax checkpoints of training state, with a JSON record beside each.

A checkpoint holds a pytree of arrays (params, optimizer state, keys, metric history)
and a JSON dict (config, step, anything small). Restoring goes through an abstract tree
built on the current devices, so a checkpoint written on 8 devices restores on 1.

Each checkpoint's record carries a SHA-256 digest of its arrays and of the rest of the
record (``DIGEST_KEY``); a restore that reads back other bytes (a flipped bit that the
file formats do not notice) is treated as unreadable, like a truncated file.

Writes are atomic (Orbax writes ``<step>.orbax-checkpoint-tmp-*`` and renames it when
complete), so a process killed mid-write leaves the previous checkpoints as they were.
In one process, asynchronous saves run on one background thread per ``Checkpointer``
and all writes of the process go one at a time (Orbax's own asynchronous saves, started
from several threads at once for seeds trained side by side, collided on their temporary
directories); with several processes (``jax.distributed``) Orbax's own are used.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

PyTree = Any

# One Orbax write at a time in this process (any Checkpointer, any thread).
_WRITE_LOCK = threading.Lock()


DIGEST_KEY = "checkpoint_sha256"


class CheckpointWriteError(RuntimeError):
    """A background checkpoint write failed (disk full, permissions, ...) in
    ``directory``; the error of the write is its ``__cause__``."""

    def __init__(self, message: str, directory: str = ""):
        super().__init__(message)
        self.directory = directory


class CheckpointDigestError(ValueError):
    """A checkpoint read back other contents than were written."""


def digest(tree: PyTree, record: dict[str, Any]) -> str | None:
    """SHA-256 of ``record`` (without ``DIGEST_KEY``) and of every array of ``tree`` in
    flattening order (dtype, shape, bytes); None when an array is not all on this process
    (a multi-host run's shards), which is then not checked."""
    leaves = jax.tree.leaves(tree)
    if any(isinstance(x, jax.Array) and not x.is_fully_addressable for x in leaves):
        return None
    h = hashlib.sha256(
        json.dumps(
            {k: v for k, v in record.items() if k != DIGEST_KEY}, sort_keys=True, default=str
        ).encode()
    )
    for leaf in leaves:
        array = np.ascontiguousarray(np.asarray(leaf))
        h.update(f"{array.dtype.str}|{array.shape}".encode())
        h.update(array.tobytes())
    return h.hexdigest()


def _with_digest(tree: PyTree, record: dict[str, Any]) -> dict[str, Any]:
    value = digest(tree, record)
    return record if value is None else {**record, DIGEST_KEY: value}


def check_digest(tree: PyTree, record: dict[str, Any]) -> None:
    """Raises ``CheckpointDigestError`` when ``tree`` and ``record`` do not hash to the
    digest saved in ``record`` (a record without one, from before digests, passes)."""
    saved = record.get(DIGEST_KEY)
    value = digest(tree, record) if saved is not None else None
    if value is not None and value != saved:
        raise CheckpointDigestError(
            f"contents differ from their SHA-256 digest "
            f"({value[:12]}... read, {str(saved)[:12]}... written)"
        )


class Checkpointer:
    """Saves and restores ``(tree, record)`` pairs under ``directory`` by step number.

    Args:
      directory: where checkpoints go (made absolute; Orbax requires that).
      max_to_keep: how many of the newest checkpoints to keep.
      asynchronous: ``save`` returns at once and the write goes on in the background
        (at most one in flight; the next ``save``, ``wait`` or ``close`` waits for it).
    """

    def __init__(self, directory: str, *, max_to_keep: int = 2, asynchronous: bool = True):
        if not isinstance(max_to_keep, int) or max_to_keep < 1:
            raise ValueError(f"max_to_keep must be an integer >= 1, got {max_to_keep!r}")
        self.directory = os.path.abspath(directory)
        # With several processes Orbax's own asynchronous saves are used: their
        # cross-process barriers must not run from a thread of ours, out of order with
        # the training step's collectives (that deadlocks).
        multiprocess = jax.process_count() > 1
        options = ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep,
            create=True,
            enable_async_checkpointing=asynchronous and multiprocess,
        )
        self._manager = ocp.CheckpointManager(self.directory, options=options)
        self._writer = (
            ThreadPoolExecutor(1, "checkpoint-writer")
            if asynchronous and not multiprocess
            else None
        )
        self._pending: Future | None = None

    def save(self, step: int, tree: PyTree, record: dict[str, Any]) -> None:
        """Saves atomically (Orbax writes to a temporary directory, then renames).

        Asynchronously, ``tree`` is first copied on its devices (the caller may donate or
        change its buffers right after) and ``record`` deep-copied; errors of the write
        are raised, as ``CheckpointWriteError``, by the next ``save``/``wait``/``close``."""
        if self._writer is None:
            self._manager.save(step, args=self._args(tree, _with_digest(tree, record)))
            return
        self.wait()
        tree = jax.tree.map(jnp.copy, tree)
        self._pending = self._writer.submit(self._write, step, tree, copy.deepcopy(record))

    def _write(self, step: int, tree: PyTree, record: dict[str, Any]) -> None:
        record = _with_digest(tree, record)  # on the writer thread: off the training path
        with _WRITE_LOCK:  # the manager is synchronous here: the write is done on return
            self._manager.save(step, args=self._args(tree, record))

    @staticmethod
    def _args(tree: PyTree, record: dict[str, Any]) -> ocp.args.Composite:
        return ocp.args.Composite(
            state=ocp.args.StandardSave(tree), record=ocp.args.JsonSave(record)
        )

    def wait(self) -> None:
        """Waits for the write in flight, if any; re-raises its error."""
        pending, self._pending = self._pending, None
        try:
            if pending is not None:
                pending.result()
            self._manager.wait_until_finished()
        except Exception as e:
            raise CheckpointWriteError(
                f"writing a checkpoint into {self.directory!r} failed: {type(e).__name__}: {e}",
                self.directory,
            ) from e

    def latest_step(self) -> int | None:
        self.wait()
        return self._manager.latest_step()

    def restore(self, step: int, like: PyTree | None = None) -> tuple[PyTree, dict[str, Any]]:
        """Restores the tree of ``step`` with the shapes, dtypes and shardings of ``like``;
        without ``like``, as saved (nested dicts and lists of arrays on the default
        device: enough to read a checkpoint's parameters). With ``like``, raises
        ``CheckpointDigestError`` when the contents differ from the digest written."""
        self.wait()
        restore = (
            ocp.args.StandardRestore()
            if like is None
            else ocp.args.StandardRestore(jax.tree.map(ocp.utils.to_shape_dtype_struct, like))
        )
        restored = self._manager.restore(
            step, args=ocp.args.Composite(state=restore, record=ocp.args.JsonRestore())
        )
        record = dict(restored["record"])
        if like is not None:  # as saved: the same tree structure, so the same leaf order
            check_digest(restored["state"], record)
        record.pop(DIGEST_KEY, None)
        return restored["state"], record

    def newest_record(self) -> dict[str, Any]:
        """The host record of the newest checkpoint whose record reads back, without
        touching any array ({} when none does): a resume can check its config before
        restoring, as an array of another shape would not read back."""
        for step in reversed(self.all_steps()):
            try:
                restored = self._manager.restore(
                    step, args=ocp.args.Composite(record=ocp.args.JsonRestore())
                )
            except Exception:  # noqa: BLE001 - unreadable: restore_newest_good reports it
                continue
            record = dict(restored["record"])
            record.pop(DIGEST_KEY, None)
            return record
        return {}

    def all_steps(self) -> list[int]:
        self.wait()
        return sorted(self._manager.all_steps())

    def restore_newest_good(self, like: PyTree) -> tuple[int, PyTree, dict[str, Any]]:
        """Restores the newest checkpoint that reads back; an unreadable one (truncated or
        corrupt files) is reported on stderr and the one before it is tried.

        Returns ``(step, tree, record)``; raises ``ConfigError`` when none is readable.
        """
        from rnn_attn.errors import ConfigError

        steps = self.all_steps()
        unreadable = []
        for step in reversed(steps):
            try:
                tree, record = self.restore(step, like)
            except Exception as e:  # noqa: BLE001 - any failure to read means "corrupt"
                print(
                    f"warning: checkpoint {step} in {self.directory} is unreadable "
                    f"({type(e).__name__}: {str(e)[:200]}); trying the one before it",
                    file=sys.stderr,
                )
                unreadable.append(step)
                continue
            for bad in unreadable:  # the run redoes those steps and saves them anew
                self._remove(bad)
            return step, tree, record
        raise ConfigError(
            f"no readable checkpoint in {self.directory!r} (tried steps "
            f"{steps}); expected at least one intact checkpoint to resume from"
        )

    def _remove(self, step: int) -> None:
        try:
            self._manager.delete(step)
        except Exception:  # noqa: BLE001 - a corrupt step may not delete cleanly
            shutil.rmtree(os.path.join(self.directory, str(step)), ignore_errors=True)
        self._manager.reload()

    def close(self) -> None:
        try:
            self.wait()
        finally:
            if self._writer is not None:
                self._writer.shutdown()
            self._manager.close()

    def __enter__(self) -> Checkpointer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
