"""How much memory this machine has free, and the one check that holds the bytes of the
arrays a call is about to make against it, before anything is allocated
(``check_fits``, behind ``pad_sequences``, the one-hot encoders, the copy task's pairs,
the layers' initializers and the models' ``init``; the engine's ``check_memory`` holds a
whole run against ``device_free_bytes``).

Without it, an array larger than the memory ended in numpy's MemoryError, in JAX's
RESOURCE_EXHAUSTED when the array was first used, or in an abort of the interpreter
inside XLA.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np


def host_free_bytes() -> int:
    """Bytes of physical memory available now (``SC_AVPHYS_PAGES``)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def device_free_bytes(devices: Sequence[Any] | None = None) -> int:
    """Bytes free for JAX arrays on ``devices`` (default: JAX's default device): the
    host's available memory on CPU; on an accelerator, the least free memory of one
    device times their number (arrays spread over them)."""
    devices = list(devices) if devices is not None else jax.devices()[:1]
    stats = [d.memory_stats() for d in devices] if devices[0].platform != "cpu" else []
    if stats and all(s and "bytes_limit" in s for s in stats):
        return len(devices) * min(s["bytes_limit"] - s.get("bytes_in_use", 0) for s in stats)
    return host_free_bytes()


def gib(nbytes: float) -> str:
    """``nbytes`` in GiB, one decimal (``"3.2 GiB"``)."""
    return f"{nbytes / 2**30:.1f} GiB"


def check_fits(
    what: str, need: int, expected: str, *, dtype: Any = None, device: bool = False
) -> None:
    """Raises ValueError when ``need`` bytes are more than half the free memory (the
    host's; with ``device``, that of JAX's default device, ``device_free_bytes``): half,
    as the arrays made next to it (a copy, the gradients) need room too. One line:
    ``{what} need 7450.6 GiB of int32, more than half the 20.1 GiB free; expected
    {expected}``, so ``what`` names the sizes (``"copy-task pairs of batch_size 1000000
    and length 1000000"``)."""
    free = device_free_bytes() if device else host_free_bytes()
    if need > free / 2:
        of = f" of {np.dtype(dtype).name}" if dtype is not None else ""
        raise ValueError(
            f"{what} need {gib(need)}{of}, more than half the {gib(free)} free; expected {expected}"
        )


def traced(*values: Any) -> bool:
    """Whether any leaf of ``values`` is a tracer (under ``jit``, ``vmap`` or
    ``eval_shape``): then nothing is allocated now, and the memory checks leave the call
    alone (the engine checks a compiled run's arrays itself)."""
    return any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves(values))


def check_array(what: str, shape: Sequence[int], dtype: Any, key: Any = None) -> None:
    """``check_fits`` for one JAX array of ``shape`` and ``dtype`` about to be made on the
    default device (nothing checked when ``key``, the call's PRNG key, is traced)."""
    if traced(key):
        return
    need = math.prod(shape) * np.dtype(dtype).itemsize
    shape_text = "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
    check_fits(f"{what} of shape {shape_text}", need, "smaller sizes", dtype=dtype, device=True)


def checked_init(init: Callable) -> Callable:
    """Wraps a model's ``init(self, key)``: called with a concrete key, it first takes the
    parameters' shapes from ``jax.eval_shape`` (nothing allocated) and refuses, through
    ``check_fits`` against the default device's free memory, parameters that would take
    more than half of it, naming the model (its sizes), the count and the largest
    parameter. A traced key (the model initialized under ``jit`` or ``eval_shape``) is
    left alone: the engine's ``check_memory`` holds a run's states against the memory.
    The parameters are those ``init`` gives: the check only reads shapes."""

    @functools.wraps(init)
    def checked(self, key, *args, **kwargs):
        if not traced(key):
            shapes = jax.eval_shape(lambda k: init(self, k, *args, **kwargs), key)
            leaves = jax.tree_util.tree_leaves_with_path(shapes)
            need = sum(math.prod(x.shape) * x.dtype.itemsize for _, x in leaves)
            count = sum(math.prod(x.shape) for _, x in leaves)
            path, big = max(leaves, key=lambda item: math.prod(item[1].shape))
            check_fits(
                f"the {count:,} parameters of {self!r} (the largest, "
                f"{jax.tree_util.keystr(path)}, of shape {tuple(big.shape)})",
                need,
                "a smaller model",
                device=True,
            )
        return init(self, key, *args, **kwargs)

    return checked
