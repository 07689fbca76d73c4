"""No code runs from a data file: ``imdb.npz`` (Keras's layout: object arrays of lists of
word ranks, which numpy stores as pickles) is read by ``rnn_attn.data.npz``, which admits
numpy's object-array reconstruction and lists of integers only."""

import io
import os
import pathlib
import pickle
import re
import shutil
import zipfile

import numpy as np
import pytest
from numpy.lib import format as npy_format

from rnn_attn.data import imdb
from rnn_attn.data.npz import NpzRefused, read_npz

KEYS = ("x_train", "y_train", "x_test", "y_test")
X_TRAIN = [[1, 14, 22, 16], [1, 194, 1153], [5, 2**40]]
X_TEST = [[1, 591, 202, 14, 31], [7]]


def _objects(items) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _keras_arrays(x_train=X_TRAIN) -> dict[str, np.ndarray]:
    return {
        "x_train": _objects(x_train),
        "y_train": np.array([1, 0, 1][: len(x_train)], np.int64),
        "x_test": _objects(X_TEST),
        "y_test": np.array([0, 1], np.int64),
    }


def _npy(array: np.ndarray, pickled: bytes | None = None) -> bytes:
    """A ``.npy`` member: version 1.0 header, then ``pickled`` (an object array's pickle)
    or the array as ``np.save`` writes it."""
    stream = io.BytesIO()
    if pickled is None:
        np.save(stream, array, allow_pickle=True)
        return stream.getvalue()
    npy_format.write_array_header_1_0(stream, npy_format.header_data_from_array_1_0(array))
    return stream.getvalue() + pickled


def _numpy1_pickle(array: np.ndarray, python2: bool) -> bytes:
    """An object array pickled as numpy 1 did (protocol 2, ``numpy.core.multiarray``);
    ``python2``: as Python 2 wrote it, the type code a plain string (Keras's own file),
    else as Python 3 writes it (``_codecs.encode('b', 'latin1')``)."""
    data = pickle.dumps(array, protocol=2).replace(
        b"numpy._core.multiarray", b"numpy.core.multiarray"
    )
    codecs_call = data[data.index(b"c_codecs\nencode\n") :]
    codecs_call = codecs_call[: codecs_call.index(b"R") + 1]
    assert codecs_call.count(b"latin1") == 1
    if python2:
        data = data.replace(codecs_call, b"U\x01b")  # SHORT_BINSTRING 'b'
    return data


def _write_npz(path, arrays: dict[str, np.ndarray], pickles: dict[str, bytes] | None = None):
    with zipfile.ZipFile(path, "w") as archive:
        for key, array in arrays.items():
            archive.writestr(f"{key}.npy", _npy(array, (pickles or {}).get(key)))
    return str(path)


def _lists(array) -> list[list[int]]:
    return [list(x) for x in array]


@pytest.mark.parametrize("layout", ["numpy2_savez", "numpy1_python3", "numpy1_python2_keras"])
def test_reads_keras_layout_without_numpys_unpickler(tmp_path, layout):
    arrays = _keras_arrays()
    path = tmp_path / "imdb.npz"
    if layout == "numpy2_savez":
        np.savez(path, **arrays)
    else:
        python2 = layout.endswith("keras")
        pickles = {k: _numpy1_pickle(arrays[k], python2) for k in ("x_train", "x_test")}
        _write_npz(path, arrays, pickles)
    with np.load(path, allow_pickle=True) as reference:  # the bytes are a valid npz
        expected = {k: reference[k] for k in KEYS}
    with open(path, "rb") as f:
        got = read_npz(f, KEYS)
    for key in ("x_train", "x_test"):
        assert got[key].dtype == object and got[key].shape == expected[key].shape
        assert _lists(got[key]) == _lists(expected[key]) == [list(x) for x in arrays[key]]
        assert all(type(x) is list for x in got[key])
    for key in ("y_train", "y_test"):
        np.testing.assert_array_equal(got[key], expected[key])
    (x_train, _), _ = imdb.load_data(str(path), seed=0)
    assert sorted(map(len, x_train)) == sorted(len(x) + 1 for x in X_TRAIN)


class _RunsShell:
    """Unpickled, runs ``touch MARKER``: what a planted file could do with np.load."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Execs:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


class _NumpyCall:
    """A call to numpy itself (not the reconstruction): refused as well."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (np.save, (str(self.marker), np.zeros(1)))


@pytest.mark.parametrize(
    "payload,name",
    [(_RunsShell, "posix.system"), (_Execs, "builtins.exec"), (_NumpyCall, "numpy.save")],
)
@pytest.mark.parametrize("key", ["x_train", "x_test"])
def test_planted_code_is_refused_and_never_run(tmp_path, payload, name, key):
    marker = tmp_path / "MARKER"
    arrays = _keras_arrays()
    arrays[key] = _objects([[1, 2], payload(marker)])
    path = tmp_path / "imdb.npz"
    np.savez(path, **arrays)

    with pytest.raises(ValueError) as info:
        imdb.load_data(str(path))
    message = str(info.value)
    assert message.startswith(f"refused IMDB npz {str(path)!r}: {key}: its pickle refers to {name}")
    assert "nothing in a data file is executed" in message and "\n" not in message
    assert not marker.exists() and not (tmp_path / "MARKER.npy").exists()

    # The payload is live: numpy's own unpickler runs it.
    control = tmp_path / "control"
    control.mkdir()
    live = _keras_arrays()
    live[key] = _objects([[1, 2], payload(control / "MARKER")])
    np.savez(control / "imdb.npz", **live)
    with np.load(control / "imdb.npz", allow_pickle=True) as f:
        f[key]
    assert (control / "MARKER").exists() or (control / "MARKER.npy").exists()


def test_a_planted_cache_entry_is_refused(tmp_path, monkeypatch):
    """The aclImdb cache ($RNN_ATTN_CACHE) is read by the same loader."""
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            folder = tmp_path / "aclImdb" / split / label
            folder.mkdir(parents=True)
            (folder / "0_5.txt").write_text("the movie")
    (tmp_path / "imdb_word_index.json").write_text('{"the": 1, "movie": 2}')
    cache = tmp_path / "cache"
    monkeypatch.setenv("RNN_ATTN_CACHE", str(cache))
    npz = imdb.resolve_npz(str(tmp_path), "aclimdb")
    assert os.path.dirname(npz) == str(cache)
    arrays = _keras_arrays()
    arrays["x_train"] = _objects([[1], _RunsShell(tmp_path / "MARKER")])
    np.savez(tmp_path / "planted.npz", **arrays)
    shutil.copy(tmp_path / "planted.npz", npz)
    assert imdb.resolve_npz(str(tmp_path), "aclimdb") == npz  # a cache hit
    with pytest.raises(ValueError, match="refused IMDB npz .* refers to posix.system"):
        imdb.load_data(npz)
    assert not (tmp_path / "MARKER").exists()


@pytest.mark.parametrize(
    "element,what",
    [
        ([1, 2.5], "element 1 holds 2.5 (float), not an integer"),
        ([1, "the"], "element 1 holds 'the' (str), not an integer"),
        ([1, True], "element 1 holds True (bool), not an integer"),
        ([1, [2]], "element 1 holds [2] (list), not an integer"),
        ((1, 2), "element 1 is (1, 2) (tuple), not a list"),
        ({"a": 1}, "element 1 is {'a': 1} (dict), not a list"),
        (np.int64(3), "its pickle refers to numpy._core.multiarray.scalar"),
    ],
)
def test_only_lists_of_integers(tmp_path, element, what):
    arrays = _keras_arrays()
    arrays["x_train"] = _objects([[1, 2], element])
    if isinstance(element, list):  # an object array of two lists, not a 2-D array
        arrays["x_train"] = _objects([[1, 2], None])
        arrays["x_train"][1] = element
    np.savez(tmp_path / "imdb.npz", **arrays)
    with pytest.raises(ValueError, match="refused IMDB npz") as info:
        imdb.load_data(str(tmp_path / "imdb.npz"))
    assert f"x_train: {what}" in str(info.value)


def test_object_labels_and_structured_objects_are_refused(tmp_path):
    arrays = _keras_arrays()
    arrays["y_train"] = _objects([1, 0, 1])
    np.savez(tmp_path / "labels.npz", **arrays)
    with pytest.raises(ValueError, match="y_train: element 0 is 1 \\(int\\), not a list"):
        imdb.load_data(str(tmp_path / "labels.npz"))
    arrays = _keras_arrays()
    arrays["x_test"] = np.zeros(2, dtype=[("a", object), ("b", np.int64)])
    np.savez(tmp_path / "fields.npz", **arrays)
    with pytest.raises(ValueError, match="x_test: its dtype .* holds objects in fields"):
        imdb.load_data(str(tmp_path / "fields.npz"))


def _crafted(pickled: bytes) -> bytes:
    """A protocol-2 pickle body after numpy's two stand-in names are in the memo."""
    return b"\x80\x02" + pickled + b"."


@pytest.mark.parametrize(
    "body,message",
    [
        # BUILD on the ndarray stand-in, setting an attribute: it has none to set.
        (
            b"cnumpy\nndarray\nN}X\x01\x00\x00\x00aK\x01s\x86b",
            "cannot read IMDB npz .* \\(AttributeError: 'object' object has no attribute 'a'\\)",
        ),
        # _reconstruct of something other than ndarray.
        (
            b"cnumpy.core.multiarray\n_reconstruct\n(K\x01K\x00\x85U\x01btR",
            "x_train: its pickle reconstructs something other than a numpy array",
        ),
        # A dtype other than object.
        (
            b"cnumpy\ndtype\n(X\x02\x00\x00\x00i8\x89\x88tR",
            "x_train: its pickle builds the dtype 'i8', not an object dtype",
        ),
        # _codecs.encode of something else.
        (
            b"c_codecs\nencode\n(X\x03\x00\x00\x00abcX\x05\x00\x00\x00rot13tR",
            "x_train: its pickle encodes something other than numpy's type code",
        ),
    ],
)
def test_crafted_pickles_are_refused_and_change_nothing(tmp_path, body, message):
    arrays = _keras_arrays()
    path = _write_npz(tmp_path / "crafted.npz", arrays, {"x_train": _crafted(body)})
    with pytest.raises(ValueError, match=message):
        imdb.load_data(path)
    # The next file reads as before.
    np.savez(tmp_path / "ok.npz", **_keras_arrays())
    with open(tmp_path / "ok.npz", "rb") as f:
        assert _lists(read_npz(f, KEYS)["x_train"]) == X_TRAIN


def test_read_npz_names_the_array():
    stream = io.BytesIO()
    arrays = _keras_arrays()
    arrays["x_test"] = _objects([[1], _RunsShell("/nonexistent/MARKER")])
    np.savez(stream, **arrays)
    stream.seek(0)
    with pytest.raises(NpzRefused, match="^x_test: its pickle refers to posix.system"):
        read_npz(stream, KEYS)


# What could run code from a file: unpickling (numpy's object arrays too), eval/exec,
# and the serializers built on pickle. Only rnn_attn/data/npz.py unpickles, through its
# restricted Unpickler.
UNSAFE = re.compile(
    r"allow_pickle\s*=\s*True|\bpickle\.(load|loads)\b|\b(np|numpy|jnp)\.load\(|\beval\(|"
    r"\bexec\(|\bmarshal\b|\bshelve\b|\bjoblib\b|\bdill\b|torch\.load|yaml\.(unsafe_)?load\(|"
    r"\bcloudpickle\b|\bUnpickler\b"
)
SAFE_UNPICKLER = pathlib.Path("rnn_attn/data/npz.py")


def test_no_code_reads_a_file_unsafely():
    root = pathlib.Path(__file__).resolve().parents[2]
    found = []
    for folder in ("rnn_attn", "experiments", "benchmarks"):
        for path in sorted((root / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                code = line.split("#")[0]
                if UNSAFE.search(code) and path.relative_to(root) != SAFE_UNPICKLER:
                    found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    assert found == []
    npz_source = (root / SAFE_UNPICKLER).read_text()
    assert "class _ListsUnpickler(pickle.Unpickler)" in npz_source
    assert "pickle.load(" not in npz_source and "pickle.loads(" not in npz_source
