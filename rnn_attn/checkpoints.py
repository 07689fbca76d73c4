"""Orbax checkpoints of training state, with a JSON record beside each.

A checkpoint holds a pytree of arrays (params, optimizer state, keys, metric history)
and a JSON dict (config, step, anything small). Restoring goes through an abstract tree
built on the current devices, so a checkpoint written on 8 devices restores on 1.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import orbax.checkpoint as ocp

PyTree = Any


class Checkpointer:
    """Saves and restores ``(tree, record)`` pairs under ``directory`` by step number.

    Args:
      directory: where checkpoints go (made absolute; Orbax requires that).
      max_to_keep: how many of the newest checkpoints to keep.
    """

    def __init__(self, directory: str, *, max_to_keep: int = 2, asynchronous: bool = True):
        self.directory = os.path.abspath(directory)
        options = ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep, create=True, enable_async_checkpointing=asynchronous
        )
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    def save(self, step: int, tree: PyTree, record: dict[str, Any]) -> None:
        """Saves atomically (Orbax writes to a temporary directory, then renames). With
        ``asynchronous``, returns once the arrays are copied off the devices; the write
        finishes in the background (``wait`` or ``close`` waits for it)."""
        self._manager.save(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(tree), record=ocp.args.JsonSave(record)
            ),
        )

    def wait(self) -> None:
        self._manager.wait_until_finished()

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def restore(self, step: int, like: PyTree) -> tuple[PyTree, dict[str, Any]]:
        """Restores the tree of ``step`` with the shapes, dtypes and shardings of ``like``."""
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        restored = self._manager.restore(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardRestore(abstract), record=ocp.args.JsonRestore()
            ),
        )
        return restored["state"], dict(restored["record"])

    def all_steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def restore_newest_good(self, like: PyTree) -> tuple[int, PyTree, dict[str, Any]]:
        """Restores the newest checkpoint that reads back; an unreadable one (truncated or
        corrupt files) is reported on stderr and the one before it is tried.

        Returns ``(step, tree, record)``; raises ``ConfigError`` when none is readable.
        """
        import sys

        from rnn_attn.config import ConfigError

        steps = self.all_steps()
        unreadable = []
        for step in reversed(steps):
            try:
                tree, record = self.restore(step, like)
            except Exception as e:  # noqa: BLE001 - any failure to read means "corrupt"
                print(f"warning: checkpoint {step} in {self.directory} is unreadable "
                      f"({type(e).__name__}: {str(e)[:200]}); trying the one before it",
                      file=sys.stderr)
                unreadable.append(step)
                continue
            for bad in unreadable:  # the run redoes those steps and saves them anew
                self._remove(bad)
            return step, tree, record
        raise ConfigError(f"no readable checkpoint in {self.directory!r} (tried steps "
                          f"{steps}); expected at least one intact checkpoint to resume from")

    def _remove(self, step: int) -> None:
        import shutil

        try:
            self._manager.delete(step)
        except Exception:  # noqa: BLE001 - a corrupt step may not delete cleanly
            shutil.rmtree(os.path.join(self.directory, str(step)), ignore_errors=True)
        self._manager.reload()

    def close(self) -> None:
        self._manager.wait_until_finished()
        self._manager.close()

    def __enter__(self) -> Checkpointer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
