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

    def close(self) -> None:
        self._manager.wait_until_finished()
        self._manager.close()

    def __enter__(self) -> Checkpointer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
