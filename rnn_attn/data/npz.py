"""Reads ``.npz`` archives without running code from them.

``np.load(..., allow_pickle=True)`` unpickles object arrays, and a pickle may call any
function importable (``os.system`` ...): loading a planted file would run its code.
Keras's ``imdb.npz`` stores its ragged reviews exactly that way, as object arrays of lists
of word ranks. ``read_npz`` reads numeric arrays with ``allow_pickle=False``, and an object
array through ``_ListsUnpickler``, whose ``find_class`` admits only the names numpy's
object-array pickle uses: ``_reconstruct`` (of ``numpy.core.multiarray`` in numpy 1, as
Keras's file, or ``numpy._core.multiarray`` in numpy 2), ``numpy.ndarray``,
``numpy.dtype``, and ``_codecs.encode`` (the one-letter type code in a protocol-2 pickle
written by Python 3). Each resolves to an inert stand-in, so no numpy code sees the
pickle's data either; every element must then be a list of Python integers. Anything
else is refused with one ``ValueError``, and nothing of it runs.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Collection
from typing import Any, BinaryIO

import numpy as np
from numpy.lib import format as npy_format


class NpzRefused(ValueError):
    """The archive holds something other than numbers and lists of integers."""


_RECONSTRUCT = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
}
_OBJECT_DTYPES = {"O8", "O4"}
_INT = {int}


class _ObjectDtype:
    """Stands for ``numpy.dtype('O')``: the only dtype an object-array pickle may name."""

    def __init__(self, spec: object, align: object = False, copy: object = True):
        if spec not in _OBJECT_DTYPES:
            raise NpzRefused(f"its pickle builds the dtype {spec!r}, not an object dtype")

    def __setstate__(self, state: object) -> None:  # byte order, flags: nothing to keep
        pass


class _ArrayState:
    """Stands for the array ``_reconstruct`` makes; ``__setstate__`` receives numpy's
    ``(version, shape, dtype, fortran, elements)`` and keeps the shape and elements."""

    def __init__(self) -> None:
        self.shape: object = None
        self.elements: list | None = None

    def __setstate__(self, state: object) -> None:
        if not (isinstance(state, tuple) and len(state) == 5):
            raise NpzRefused("its pickle is not numpy's object-array layout")
        _, shape, dtype, _, elements = state
        if not isinstance(dtype, _ObjectDtype) or not isinstance(elements, list):
            raise NpzRefused("its pickle is not numpy's object-array layout")
        self.shape, self.elements = shape, elements


class _ListsUnpickler(pickle.Unpickler):
    """Resolves only numpy's object-array names, each to an inert stand-in of this
    unpickler's own (bound methods and a bare ``object()``: a pickle's BUILD cannot set
    attributes on them, so one file cannot change how the next is read)."""

    def __init__(self, file: BinaryIO) -> None:
        super().__init__(file, encoding="ASCII")
        self._ndarray = object()  # stands for numpy.ndarray

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _RECONSTRUCT:
            return self._reconstruct
        if (module, name) == ("numpy", "ndarray"):
            return self._ndarray
        if (module, name) == ("numpy", "dtype"):
            return self._dtype
        if (module, name) == ("_codecs", "encode"):  # protocol 2 from Python 3: b"b"
            return self._latin1
        raise NpzRefused(
            f"its pickle refers to {module}.{name}, which would run code (only numpy's "
            f"object-array reconstruction is allowed; nothing in a data file is executed)"
        )

    def _reconstruct(self, cls: object, shape: object, typecode: object) -> _ArrayState:
        if cls is not self._ndarray:
            raise NpzRefused("its pickle reconstructs something other than a numpy array")
        return _ArrayState()

    def _dtype(self, *args: object) -> _ObjectDtype:
        return _ObjectDtype(*args)

    def _latin1(self, text: object, encoding: object = None) -> bytes:
        if not (isinstance(text, str) and len(text) <= 8 and encoding == "latin1"):
            raise NpzRefused("its pickle encodes something other than numpy's type code")
        return text.encode("latin-1")

    def persistent_load(self, pid: object) -> Any:
        raise NpzRefused("its pickle asks for a persistent object")


def _int_lists(state: _ArrayState, shape: tuple) -> np.ndarray:
    """The elements as a 1-D object array of lists of ints (checked)."""
    if state.shape != shape or len(shape) != 1 or len(state.elements) != shape[0]:
        raise NpzRefused(
            f"its pickle holds {len(state.elements)} elements of shape {state.shape}, its "
            f"header says {shape}; expected a 1-D array"
        )
    for i, element in enumerate(state.elements):
        if type(element) is not list:
            raise NpzRefused(
                f"element {i} is {element!r:.40} ({type(element).__name__}), not a list"
            )
        if set(map(type, element)) <= _INT:  # the common case, at C speed
            continue
        bad = next(v for v in element if type(v) is not int)
        raise NpzRefused(f"element {i} holds {bad!r:.40} ({type(bad).__name__}), not an integer")
    out = np.empty(shape[0], dtype=object)
    out[:] = state.elements
    return out


def _object_array(stream: BinaryIO, shape: tuple) -> np.ndarray:
    """The rest of an object array's ``.npy`` member, unpickled with ``_ListsUnpickler``."""
    try:
        state = _ListsUnpickler(stream).load()
    except NpzRefused:
        raise
    except RecursionError:
        raise NpzRefused("its pickle nests too deeply") from None
    if not isinstance(state, _ArrayState) or state.elements is None:
        raise NpzRefused("its pickle is not numpy's object-array layout")
    return _int_lists(state, shape)


def _header(stream: BinaryIO) -> tuple[tuple, np.dtype] | None:
    """``(shape, dtype)`` of a ``.npy`` stream of format 1.0 or 2.0 (3.0, for non-Latin-1
    field names, never holds an object array: None)."""
    version = npy_format.read_magic(stream)
    if version == (1, 0):
        shape, _, dtype = npy_format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, _, dtype = npy_format.read_array_header_2_0(stream)
    else:
        return None
    return shape, dtype


def _member(archive: zipfile.ZipFile, key: str) -> np.ndarray:
    with archive.open(f"{key}.npy") as stream:
        header = _header(stream)
        if header is not None and header[1].hasobject:
            if header[1] != np.dtype(object):
                raise NpzRefused(f"its dtype {header[1]} holds objects in fields")
            return _object_array(stream, header[0])
    with archive.open(f"{key}.npy") as stream:
        return npy_format.read_array(stream, allow_pickle=False)


def read_npz(file: BinaryIO, keys: Collection[str]) -> dict[str, np.ndarray]:
    """The arrays of ``keys`` present in the ``.npz`` (a zip of ``<key>.npy``) opened as
    ``file``: numeric arrays as numpy reads them, object arrays as 1-D object arrays of
    lists of ints.

    Raises:
      NpzRefused (a ValueError): ``"<key>: <what>"``, for an array that is neither (a
        pickle naming anything but numpy's object-array reconstruction: nothing of it
        runs).
      zipfile.BadZipFile, ValueError, pickle.UnpicklingError, EOFError, OSError: an
        unreadable archive.
    """
    out = {}
    with zipfile.ZipFile(file) as archive:
        names = set(archive.namelist())
        for key in keys:
            if f"{key}.npy" not in names:
                continue
            try:
                out[key] = _member(archive, key)
            except NpzRefused as e:
                raise NpzRefused(f"{key}: {e}") from None
    return out
