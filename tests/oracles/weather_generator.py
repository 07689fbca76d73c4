"""The lecture's Keras-style window generator (document 002, after Chollet 6.3), kept as
the reference ``rnn_attn.data.weather.all_windows`` is tested against."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from rnn_attn.data.weather import _gather, _window_range


def window_generator(
    data: np.ndarray,
    lookback: int,
    delay: int,
    min_index: int,
    max_index: int | None,
    *,
    target_index: int,
    shuffle: bool = False,
    batch_size: int = 128,
    step: int = 6,
    seed: int = 0,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The lecture's generator, vectorized per batch; endless, as a Keras generator.

    Yields:
      ``(samples <float32>[batch, lookback // step, features], targets <float32>[batch])``
      with ``samples[b] = data[r - lookback : r : step]``, ``targets[b] = data[r + delay,
      target_index]`` for the batch's rows ``r``.

    Rows: with ``shuffle``, ``batch_size`` rows drawn uniformly (with replacement) from
    ``[min_index + lookback, max_index)`` by ``np.random.default_rng(seed)``; without,
    consecutive rows from ``min_index + lookback``, restarting there when the next batch
    would reach ``max_index`` (so, as the lecture, the tail of the range short of a full
    batch is skipped: use ``all_windows`` to cover every window once).
    ``max_index=None`` is the lecture's ``len(data) - delay - 1``.
    """
    data = np.asarray(data)
    max_index, _ = _window_range(data, lookback, delay, min_index, max_index, step, target_index)
    if not isinstance(batch_size, int | np.integer) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    rng = np.random.default_rng(seed)
    first = min_index + lookback
    i = first
    while True:
        if shuffle:
            rows = rng.integers(first, max_index, size=batch_size)
        else:
            if i + batch_size >= max_index:
                i = first
            rows = np.arange(i, min(i + batch_size, max_index))
            i += len(rows)
        yield _gather(data, rows, lookback, delay, step, target_index)
