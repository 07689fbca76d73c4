"""Mini-batches from in-memory arrays: seeded per-epoch shuffles, and evaluation batches
that cover every example (the last partial batch padded and masked, never dropped)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np


def epoch_order(num_examples: int, *, seed: int, epoch: int, shuffle: bool = True) -> np.ndarray:
    """The example order of one epoch: a permutation that depends only on (seed, epoch),
    so a resumed run sees the same order as an uninterrupted one."""
    if not shuffle:
        return np.arange(num_examples)
    return np.random.default_rng([seed, epoch]).permutation(num_examples)


def train_batches(
    arrays: Mapping[str, np.ndarray],
    batch_size: int,
    *,
    seed: int,
    epoch: int,
    shuffle: bool = True,
    drop_remainder: bool = False,
    start_batch: int = 0,
) -> Iterator[dict[str, np.ndarray]]:
    """Batches of one training epoch; each batch has a ``weight`` array (1 for real
    examples). Without ``drop_remainder`` the last batch is padded to full size with
    weight 0, so every batch has one shape (one compiled step). ``start_batch``: begin
    with that batch of the epoch (a run resumed mid-epoch)."""
    n = _length(arrays)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if start_batch < 0:
        raise ValueError(f"start_batch must be >= 0, got {start_batch}")
    order = epoch_order(n, seed=seed, epoch=epoch, shuffle=shuffle)
    stop = n - n % batch_size if drop_remainder else n
    for start in range(start_batch * batch_size, stop, batch_size):
        yield _take(arrays, order[start : start + batch_size], batch_size)


def eval_batches(
    arrays: Mapping[str, np.ndarray], batch_size: int
) -> Iterator[dict[str, np.ndarray]]:
    """Every example once, in order; the last batch padded, with ``weight`` 0 on padding."""
    yield from train_batches(arrays, batch_size, seed=0, epoch=0, shuffle=False)


def _length(arrays: Mapping[str, np.ndarray]) -> int:
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"arrays of different lengths: {lengths}")
    return next(iter(lengths.values()))


def _take(arrays, index: np.ndarray, batch_size: int) -> dict[str, np.ndarray]:
    pad = batch_size - len(index)
    padded = np.concatenate([index, np.full(pad, index[0] if len(index) else 0)])
    batch = {k: np.asarray(v)[padded] for k, v in arrays.items()}
    batch["weight"] = np.concatenate([np.ones(len(index), np.float32), np.zeros(pad, np.float32)])
    return batch


def validation_split(
    arrays: Mapping[str, np.ndarray], fraction: float
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Keras's ``validation_split``: ``(head, tail)``, the tail the last
    ``round(n * fraction)`` examples of every array, taken before any shuffling (Keras
    keeps the first ``floor(n * (1 - fraction))``: the same split wherever ``n * fraction``
    is a whole number, as for IMDB's 25,000 reviews and 0.2)."""
    n = _length(arrays)
    cut = n - int(round(n * fraction))
    head, tail = ({k: v[s] for k, v in arrays.items()} for s in (slice(cut), slice(cut, n)))
    return head, tail
