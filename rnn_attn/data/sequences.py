"""Variable-length integer sequences: Keras's ``pad_sequences``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pad_sequences(
    sequences: Sequence[Sequence[int]],
    maxlen: int | None = None,
    dtype: str | np.dtype = "int32",
    padding: str = "pre",
    truncating: str = "pre",
    value: float = 0.0,
) -> np.ndarray:
    """Pads (or truncates) sequences to one length, as ``keras.utils.pad_sequences``.

    Args:
      sequences: a list of sequences of numbers.
      maxlen: target length; None uses the longest sequence.
      padding: ``'pre'`` pads at the start, ``'post'`` at the end.
      truncating: ``'pre'`` drops values from the start of long sequences, ``'post'``
        from the end.
      value: the padding value.

    Returns:
      ``<dtype>[len(sequences), maxlen]``.
    """
    if padding not in ("pre", "post"):
        raise ValueError(f"padding must be 'pre' or 'post', got {padding!r}")
    if truncating not in ("pre", "post"):
        raise ValueError(f"truncating must be 'pre' or 'post', got {truncating!r}")
    if maxlen is not None and (not isinstance(maxlen, int | np.integer) or maxlen < 0):
        raise ValueError(f"maxlen must be None or an integer >= 0, got {maxlen!r}")
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    if maxlen is None:
        maxlen = int(lengths.max()) if lengths.size else 0
    out = np.full((len(sequences), maxlen), value, dtype=dtype)
    if not len(sequences) or maxlen == 0:
        return out
    kept = np.minimum(lengths, maxlen)
    # Source offset within each sequence, and destination offset within each row.
    src_start = np.where(truncating == "pre", lengths - kept, 0)
    dst_start = np.where(padding == "pre", maxlen - kept, 0)
    flat = np.concatenate([np.asarray(s).ravel() for s in sequences if len(s)]) if kept.any() \
        else np.zeros(0)
    seq_offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    rows = np.repeat(np.arange(len(sequences)), kept)
    within = np.arange(kept.sum()) - np.repeat(np.cumsum(kept) - kept, kept)
    out[rows, np.repeat(dst_start, kept) + within] = flat[
        np.repeat(seq_offsets + src_start, kept) + within
    ]
    return out
