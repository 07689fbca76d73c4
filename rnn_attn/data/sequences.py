"""Variable-length integer sequences: Keras's ``pad_sequences``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

import numpy as np

from rnn_attn.checks import argument
from rnn_attn.memory import check_fits


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
    kind = _check_arguments(maxlen, dtype, padding, truncating, value)
    lengths = _lengths(sequences)
    if maxlen is None:
        maxlen = int(lengths.max()) if lengths.size else 0
    _check_fits(len(sequences), maxlen, kind)
    out = np.full((len(sequences), maxlen), value, dtype=dtype)
    if not len(sequences) or maxlen == 0:
        return out
    kept = np.minimum(lengths, maxlen)
    # Source offset within each sequence, and destination offset within each row.
    src_start = np.where(truncating == "pre", lengths - kept, 0)
    dst_start = np.where(padding == "pre", maxlen - kept, 0)
    try:
        items = [np.asarray(s) for s in sequences if len(s)]
        flat = np.concatenate(items) if kept.any() else np.zeros(0)
    except (TypeError, ValueError):
        _raise_bad_values(sequences, dtype)
    _check_flat(items if kept.any() else [], flat, dtype)
    seq_offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    rows = np.repeat(np.arange(len(sequences)), kept)
    within = np.arange(kept.sum()) - np.repeat(np.cumsum(kept) - kept, kept)
    try:
        out[rows, np.repeat(dst_start, kept) + within] = flat[
            np.repeat(seq_offsets + src_start, kept) + within
        ]
    except (TypeError, ValueError):
        _raise_bad_values(sequences, dtype)
    return out


def _check_arguments(maxlen, dtype, padding, truncating, value) -> np.dtype:
    """``pad_sequences``' options checked (TypeError/ValueError naming each); the dtype."""
    try:
        kind = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be a numpy dtype (e.g. 'int32'), got {dtype!r}") from None
    _check_value(value, kind)
    if padding not in ("pre", "post"):
        raise ValueError(f"padding must be 'pre' or 'post', got {padding!r}")
    if truncating not in ("pre", "post"):
        raise ValueError(f"truncating must be 'pre' or 'post', got {truncating!r}")
    argument("maxlen", maxlen, int, minimum=1, optional=True, why="the padded length")
    return kind


def _check_fits(count: int, maxlen: int, kind: np.dtype) -> None:
    """The padded array within half the free memory (numpy would raise MemoryError)."""
    check_fits(
        f"{count} sequences padded to maxlen {maxlen}",
        count * maxlen * kind.itemsize,
        "a smaller maxlen",
        dtype=kind,
    )


def _check_value(value: object, kind: np.dtype) -> None:
    """The padding value representable in ``kind`` (numpy raises OverflowError for 2**40
    in int32 and truncates 0.5 to 0)."""
    try:
        cast = np.asarray(value, dtype=kind)
        fits = cast.ndim == 0 and (bool(cast == value) or bool(np.isnan(cast) & np.isnan(value)))
    except (TypeError, ValueError, OverflowError):
        fits = False
    if not fits:
        raise ValueError(
            f"value {value!r} does not fit dtype {kind.name}; expected a padding "
            f"value of that dtype"
        )


def _check_flat(items: list[np.ndarray], flat: np.ndarray, dtype) -> None:
    """Each sequence 1-D, and every value representable in ``dtype`` (numpy would wrap
    2**40 round to 0 in int32, silently)."""
    for i, item in enumerate(items):
        if item.ndim != 1:
            raise ValueError(
                f"sequence {i} has shape {item.shape}; expected a 1-D sequence of "
                f"numbers (pad sequences of vectors one feature at a time)"
            )
    kind = np.dtype(dtype)
    if flat.size and kind.kind in "iu" and flat.dtype.kind in "iuf":
        info = np.iinfo(kind)
        outside = (flat < info.min) | (flat > info.max)
        if outside.any():
            first = flat[outside][0].item()
            raise ValueError(
                f"the value {first!r} does not fit dtype {kind.name} ([{info.min}, "
                f"{info.max}]); expected indices in that range or a wider dtype"
            )
        fractional = flat != np.trunc(flat) if flat.dtype.kind == "f" else None
        if fractional is not None and fractional.any():  # numpy would truncate 1.5 to 1
            raise ValueError(
                f"the value {flat[fractional][0].item()!r} is not an integer, "
                f"which dtype {kind.name} cannot hold; expected integer indices "
                f"or dtype='float32'"
            )


def _lengths(sequences: Sequence[Sequence[int]]) -> np.ndarray:
    """``<int64>[n]``, the length of each sequence; a TypeError naming the first item that
    is not a sequence (or ``sequences`` itself when it is not a list of them)."""
    if isinstance(sequences, str | bytes) or not hasattr(sequences, "__len__"):
        raise TypeError(
            f"sequences must be a list of sequences of numbers, got "
            f"{type(sequences).__name__} {sequences!r:.60}"
        )
    try:
        return np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    except TypeError:
        i, item = next((i, s) for i, s in enumerate(sequences) if not hasattr(s, "__len__"))
        raise TypeError(
            f"sequences[{i}] is {item!r:.60}; expected a sequence of numbers "
            f"(sequences must be a list of them)"
        ) from None


def _raise_bad_values(sequences: Sequence[Sequence[int]], dtype: str | np.dtype) -> NoReturn:
    """Raises a ValueError naming the first sequence whose values are not numbers."""
    for i, s in enumerate(sequences):
        try:
            values = np.asarray(s)
            if values.ndim != 1:
                raise ValueError("nested")
            values.astype(dtype)
        except (TypeError, ValueError):
            raise ValueError(
                f"sequences[{i}] = {list(s)!r:.60} does not hold numbers of "
                f"dtype {np.dtype(dtype).name}; expected a flat sequence of "
                f"numbers"
            ) from None
    raise ValueError(f"the values of sequences do not convert to dtype {np.dtype(dtype).name}")
