"""IMDB reviews in Keras's formats, from the real files.

* ``load_data``: the semantics of ``keras.datasets.imdb.load_data`` (``num_words``,
  ``skip_top``, ``maxlen``, ``seed``, ``start_char=1``, ``oov_char=2``,
  ``index_from=3``) on an ``imdb.npz`` of Keras's layout (``x_train``, ``y_train``,
  ``x_test``, ``y_test``; each review a list of word ranks, 1 = most frequent).
* ``load_word_index`` / ``decode_review``: ``imdb_word_index.json`` and the way back from
  indices to words.
* ``read_aclimdb`` / ``build_npz``: the raw Large Movie Review Dataset (the ``aclImdb/``
  tree, or its ``.tar.xz``/``.tar.gz`` archive read directly), tokenized as Keras does
  and encoded with the Keras word index into that same npz layout, so the reference
  documents' pipelines run offline on real reviews. Keras's own ``imdb.npz`` was made
  with a tokenization and shuffle that cannot be rebuilt exactly; reviews rebuilt here
  contain the same words in the same order, and words missing from the index get the
  rank after the last one (so any ``num_words`` turns them into ``oov_char``).
"""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import re
import tarfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from rnn_attn.data.npz import NpzRefused, read_npz
from rnn_attn.data.paths import decode_text, open_binary, require_dir, require_file
from rnn_attn.data.text import text_to_word_sequence

SPLITS = ("train", "test")
_REVIEW = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")


def load_word_index(path: str) -> dict[str, int]:
    """``imdb_word_index.json``: word -> rank (1 = most frequent). UTF-8 (a byte-order
    mark is dropped), or UTF-16/32 with its mark."""
    hint = " (expected imdb_word_index.json, the file Keras downloads)"
    with open_binary(path, "IMDB word index", hint) as f:
        text = decode_text(f.read(), f"IMDB word index {path!r}")
    try:
        index = json.loads(text)
    except (ValueError, RecursionError) as e:  # ValueError: also a number past 4300 digits
        raise ValueError(
            f"malformed IMDB word index {path!r}: {e}; expected "
            f"imdb_word_index.json, a JSON object word -> rank"
        ) from None
    if not isinstance(index, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in index.values()
    ):
        raise ValueError(
            f"malformed IMDB word index {path!r}: expected a JSON object "
            f"mapping words to integer ranks"
        )
    _check_ranks(index, path)
    return index


MAX_RANK = 2**31 - 1 - 3  # a rank plus Keras's index_from (3) must fit int32 token ids


def _check_ranks(index: Mapping[str, int], path: str) -> None:
    """Each rank in [1, MAX_RANK] and no rank given to two words (a rank below 1 fell on
    the ids reserved for padding, start and unknown words; a repeated one made two words
    one token)."""
    bad = next(((w, r) for w, r in index.items() if not 1 <= r <= MAX_RANK), None)
    if bad is not None:
        raise ValueError(
            f"malformed IMDB word index {path!r}: the word {bad[0]!r} has rank {bad[1]}; "
            f"expected ranks from 1 to {MAX_RANK:,} (1 = most frequent)"
        )
    if len(set(index.values())) != len(index):
        seen: dict[int, str] = {}
        for word, rank in index.items():
            if rank in seen:
                raise ValueError(
                    f"malformed IMDB word index {path!r}: rank {rank} is given to both "
                    f"{seen[rank]!r} and {word!r}; expected one word per rank"
                )
            seen[rank] = word


def decode_review(
    sequence: Sequence[int],
    word_index: Mapping[str, int],
    *,
    index_from: int = 3,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    pad: int = 0,
    start_token: str | None = None,
    oov_token: str = "?",
) -> str:
    """Indices (as produced by ``load_data``) back to words.

    Padding is left out; the start mark is left out too unless ``start_token`` is given
    (e.g. ``"<START>"``); out-of-vocabulary indices become ``oov_token``.
    """
    by_rank = {rank + index_from: word for word, rank in word_index.items()}
    words = []
    for i in sequence:
        i = int(i)
        if i == pad:
            continue
        if start_char is not None and i == start_char:
            if start_token is not None:
                words.append(start_token)
            continue
        words.append(
            oov_token if oov_char is not None and i == oov_char else by_rank.get(i, oov_token)
        )
    return " ".join(words)


def _review_members(source: str) -> Iterator[tuple[str, str, int, str]]:
    """``(split, id_rating, label, text)`` for every labelled review, sorted by path."""
    if os.path.isdir(source):
        yield from _tree_members(source)
        return
    hint = " (expected the aclImdb directory or its .tar.xz / .tar.gz archive)"
    with open_binary(source, "IMDB reviews", hint) as raw:
        yield from _archive_members(source, raw)


def _archive_members(source: str, raw) -> Iterator[tuple[str, str, int, str]]:
    """``_review_members`` of the archive ``source``, opened as ``raw``."""
    try:
        with tarfile.open(fileobj=raw, mode="r:*") as archive:
            members = sorted(
                (m for m in archive if m.isfile() and _REVIEW.search(m.name)), key=lambda m: m.name
            )
            for member in members:
                split, label_name, _, _ = _REVIEW.search(member.name).groups()
                blob = archive.extractfile(member).read()
                text = decode_text(blob, f"review {member.name!r} in {source!r}")
                yield split, os.path.basename(member.name), int(label_name == "pos"), text
    except tarfile.ReadError as e:
        first = str(e).splitlines()[0].rstrip(":") if str(e) else type(e).__name__
        raise ValueError(
            f"cannot read IMDB archive {source!r}: not a readable tar archive "
            f"(empty, truncated or corrupt: {first})"
        ) from None
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as e:
        raise ValueError(f"cannot read IMDB archive {source!r}: {e}") from None


def _tree_members(source: str) -> Iterator[tuple[str, str, int, str]]:
    """``_review_members`` of an ``aclImdb/`` tree: each ``*.txt`` of its ``{train,test}/
    {pos,neg}`` folders must be a regular file (checked before it is opened)."""
    root = (
        source
        if os.path.basename(os.path.normpath(source)) == "aclImdb"
        else os.path.join(source, "aclImdb")
    )
    if not os.path.isdir(root):
        raise FileNotFoundError(f"no aclImdb/ directory in {source!r}")
    for split in SPLITS:
        for label_name in ("neg", "pos"):
            folder = require_dir(
                os.path.join(root, split, label_name),
                "aclImdb folder",
                " (expected the aclImdb tree)",
            )
            for name in sorted(os.listdir(folder)):
                if not name.endswith(".txt"):
                    continue
                path = os.path.join(folder, name)
                with open_binary(path, "review", "; expected a review text file") as f:
                    text = decode_text(f.read(), f"review {path!r}")
                yield split, name, int(label_name == "pos"), text


def read_aclimdb(source: str) -> dict[str, tuple[list[str], np.ndarray]]:
    """Raw labelled reviews: ``{split: (texts, labels <int32>[n])}``, 1 = positive."""
    texts = {s: [] for s in SPLITS}
    labels = {s: [] for s in SPLITS}
    for split, _, label, text in _review_members(source):
        texts[split].append(text)
        labels[split].append(label)
    if not texts["train"] or not texts["test"]:
        raise ValueError(
            f"{source!r} holds no labelled train/test reviews "
            f"(expected aclImdb/{{train,test}}/{{pos,neg}}/*.txt)"
        )
    return {s: (texts[s], np.asarray(labels[s], np.int32)) for s in SPLITS}


def encode_texts(texts: Sequence[str], word_index: Mapping[str, int]) -> list[list[int]]:
    """Keras-tokenized word ranks; words missing from the index get ``max rank + 1``."""
    unknown = max(word_index.values()) + 1
    get = word_index.get
    return [[get(w, unknown) for w in text_to_word_sequence(t)] for t in texts]


def build_npz(source: str, word_index_path: str, out_path: str) -> str:
    """Writes ``out_path`` in Keras's ``imdb.npz`` layout from the raw reviews."""
    word_index = load_word_index(word_index_path)
    reviews = read_aclimdb(source)
    arrays = {}
    for split in SPLITS:
        texts, labels = reviews[split]
        encoded = np.empty(len(texts), dtype=object)
        encoded[:] = encode_texts(texts, word_index)
        arrays[f"x_{split}"], arrays[f"y_{split}"] = encoded, labels.astype(np.int64)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    tmp = out_path + ".tmp.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, out_path)  # never leave a half-written cache behind
    return out_path


def _read_npz(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``x_train, y_train, x_test, y_test`` of a Keras-layout npz, checked."""
    keys = ("x_train", "y_train", "x_test", "y_test")
    with open_binary(path, "IMDB npz", " (expected Keras's imdb.npz)") as f:
        try:
            arrays = read_npz(f, keys)  # runs no code from the file: see rnn_attn.data.npz
        except NpzRefused as e:
            raise ValueError(
                f"refused IMDB npz {path!r}: {e}; expected Keras's imdb.npz (object arrays "
                f"of lists of integer word ranks, integer labels)"
            ) from None
        except Exception as e:  # noqa: BLE001 - zip, pickle and OS errors all mean "unreadable"
            raise ValueError(
                f"cannot read IMDB npz {path!r} ({type(e).__name__}: {e}); expected "
                f"Keras's imdb.npz, a zip of x_train, y_train, x_test, y_test"
            ) from None
    missing = {"x_train", "y_train", "x_test", "y_test"} - set(arrays)
    if missing:
        raise ValueError(f"malformed IMDB npz {path!r}: missing arrays {sorted(missing)}")
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if len(x) != len(y):
            raise ValueError(
                f"malformed IMDB npz {path!r}: {len(x)} x_{split} reviews but "
                f"{len(y)} y_{split} labels"
            )
        bad = np.setdiff1d(np.unique(y), [0, 1])
        if bad.size:
            raise ValueError(
                f"malformed IMDB npz {path!r}: y_{split} holds labels "
                f"{bad[:5].tolist()}; expected 0 (negative) or 1 (positive)"
            )
    return arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"]


def _shorter_than(maxlen: int, xs: list, labels: np.ndarray) -> tuple[list, np.ndarray]:
    """Keras's ``maxlen`` filter: only the reviews shorter than ``maxlen`` (ValueError when
    none is)."""
    keep = [len(x) < maxlen for x in xs]
    if not any(keep):
        raise ValueError(f"maxlen={maxlen} leaves no reviews; increase maxlen")
    return [x for x, k in zip(xs, keep, strict=True) if k], labels[np.asarray(keep, bool)]


def load_data(
    path: str,
    num_words: int | None = None,
    skip_top: int = 0,
    maxlen: int | None = None,
    seed: int = 113,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``keras.datasets.imdb.load_data`` on a local ``imdb.npz``.

    Returns ``((x_train, y_train), (x_test, y_test))``; ``x`` are object arrays of lists
    of indices: ``start_char``, then each word's rank + ``index_from``; ranks outside
    ``[skip_top, num_words)`` become ``oov_char`` (or are dropped when it is None);
    with ``maxlen``, reviews of ``maxlen`` or more indices are left out. Train and test
    are each shuffled with ``np.random.RandomState(seed)``.
    """
    require_file(path, "IMDB npz", " (expected Keras's imdb.npz)")
    if num_words is not None and (not isinstance(num_words, int) or num_words <= index_from):
        raise ValueError(
            f"num_words must be None or an integer > {index_from} (indices below "
            f"{index_from} are padding, start and out-of-vocabulary marks), got "
            f"{num_words!r}"
        )
    if maxlen is not None and (not isinstance(maxlen, int) or maxlen < 1):
        raise ValueError(f"maxlen must be None or an integer >= 1, got {maxlen!r}")
    x_train, labels_train, x_test, labels_test = _read_npz(path)

    rng = np.random.RandomState(seed)
    x_train, labels_train = _shuffled(rng, x_train, labels_train)
    x_test, labels_test = _shuffled(rng, x_test, labels_test)

    def shift(xs):
        if start_char is not None:
            return [[start_char] + [w + index_from for w in x] for x in xs]
        return [[w + index_from for w in x] for x in xs]

    x_train, x_test = shift(x_train), shift(x_test)
    if maxlen:
        (x_train, labels_train), (x_test, labels_test) = (
            _shorter_than(maxlen, x_train, labels_train),
            _shorter_than(maxlen, x_test, labels_test),
        )
    xs = x_train + x_test
    limit = num_words or max(max(x) for x in xs if x)
    if oov_char is not None:
        xs = [[w if skip_top <= w < limit else oov_char for w in x] for x in xs]
    else:
        xs = [[w for w in x if skip_top <= w < limit] for x in xs]
    split = len(x_train)

    return (
        (_as_objects(xs[:split]), np.asarray(labels_train)),
        (_as_objects(xs[split:]), np.asarray(labels_test)),
    )


def _shuffled(rng: np.random.RandomState, x: np.ndarray, labels: np.ndarray):
    """``(x, labels)`` in the order of one ``rng.shuffle`` (Keras's, train then test)."""
    order = np.arange(len(x))
    rng.shuffle(order)
    return x[order], labels[order]


def _as_objects(lists: list[list[int]]) -> np.ndarray:
    """A ragged list of lists as a 1-D object array (Keras's layout)."""
    out = np.empty(len(lists), dtype=object)
    out[:] = lists
    return out


def default_cache_dir() -> str:
    return os.environ.get(
        "RNN_ATTN_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "rnn_attn")
    )


def fingerprint(*paths: str) -> str:
    """A digest of the contents of ``paths``: a file's bytes; a directory's file names,
    sizes and modification times (the aclImdb tree has 100,000 files). A cache keyed by it
    is rebuilt whenever a source changes, even within the same second at the same size."""
    digest = hashlib.sha256()
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    stat = os.stat(os.path.join(root, name))
                    digest.update(
                        f"{os.path.relpath(os.path.join(root, name), path)}"
                        f"\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode()
                    )
        else:
            with open_binary(path, "IMDB data file") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    digest.update(chunk)
        digest.update(b"\1")
    return digest.hexdigest()[:16]


def cached_npz(source: str, word_index_path: str, cache_dir: str | None = None) -> str:
    """The npz built from ``source`` and the word index (built once, then reused from
    ``cache_dir`` while neither file changes)."""
    cache_dir = cache_dir or default_cache_dir()
    tag = f"{os.path.basename(os.path.normpath(source))}_{fingerprint(source, word_index_path)}"
    out = os.path.join(cache_dir, f"imdb_{re.sub(r'[^A-Za-z0-9_.-]', '_', tag)}.npz")
    if not _in_cache(out):
        build_npz(source, word_index_path, out)
    return out


def _in_cache(out: str) -> bool:
    """Whether the cache holds ``out``; anything there but a regular file (a directory, a
    FIFO, a dangling link) is refused, naming it, rather than read or built over."""
    if not os.path.lexists(out):
        return False
    require_file(out, "IMDB cache entry", "; expected an npz this module built: remove it")
    return True


SOURCES = ("auto", "keras_npz", "aclimdb", "tfds")
LABELED_ARCHIVE = "aclImdb_v1_labeled.tar.xz"
WORD_INDEX_FILE = "imdb_word_index.json"


def aclimdb_source(data_dir: str) -> str | None:
    """The ``aclImdb/`` tree or archive in ``data_dir``, or None."""
    for name in ("aclImdb", LABELED_ARCHIVE, "aclImdb_v1.tar.gz"):
        if os.path.lexists(os.path.join(data_dir, name)):  # a dangling link is named later
            return os.path.join(data_dir, name)
    return None


def npz_from_tfds(manual_dir: str, word_index_path: str, cache_dir: str | None = None) -> str:
    """The Keras-layout npz built from ``imdb_reviews`` read through tensorflow-datasets
    (prepared offline from ``manual_dir``; see ``tfds_imdb``)."""
    from rnn_attn.data import tfds_imdb

    cache_dir = cache_dir or default_cache_dir()
    source = aclimdb_source(manual_dir)
    if source is None:
        raise FileNotFoundError(f"no aclImdb/ tree or aclImdb*.tar.* archive in {manual_dir!r}")
    key = fingerprint(source, word_index_path)
    out = os.path.join(cache_dir, f"imdb_from_tfds_{key}.npz")
    if _in_cache(out):
        return out
    tfds_dir = tfds_imdb.prepare_imdb_reviews(manual_dir, os.path.join(cache_dir, f"tfds_{key}"))
    word_index = load_word_index(word_index_path)
    arrays = {}
    for split in SPLITS:
        texts, labels = tfds_imdb.load_imdb_reviews(tfds_dir, split)
        encoded = np.empty(len(texts), dtype=object)
        encoded[:] = encode_texts(texts, word_index)
        arrays[f"x_{split}"], arrays[f"y_{split}"] = encoded, labels.astype(np.int64)
    os.makedirs(cache_dir, exist_ok=True)
    np.savez_compressed(out + ".tmp.npz", **arrays)
    os.replace(out + ".tmp.npz", out)
    return out


def source_files(data_dir: str, source: str = "auto") -> list[str]:
    """The files ``resolve_npz`` reads for ``source`` (what a run's identity hashes):
    Keras's ``imdb.npz``, or the raw reviews (``aclImdb/`` tree or archive) and the word
    index that the cached npz is built from (the cache itself is derived from them)."""
    npz = os.path.join(data_dir, "imdb.npz")
    if source == "keras_npz" or (source == "auto" and os.path.lexists(npz)):
        return [npz]
    word_index = os.path.join(data_dir, WORD_INDEX_FILE)
    return [path for path in (aclimdb_source(data_dir), word_index) if path is not None]


def resolve_npz(data_dir: str, source: str = "auto", cache_dir: str | None = None) -> str:
    """Path of a Keras-layout ``imdb.npz`` for ``data_dir``.

    ``keras_npz``: ``data_dir/imdb.npz`` itself (Keras's file); ``aclimdb``: built from the
    raw reviews (the ``aclImdb/`` tree or ``aclImdb_v1_labeled.tar.xz``) and
    ``imdb_word_index.json`` (cached); ``tfds``: built from ``imdb_reviews`` through
    tensorflow-datasets, prepared from the same local files; ``auto``: the first of
    these whose files are present.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown IMDB source {source!r}; expected one of {SOURCES}")
    require_dir(data_dir, "IMDB data dir")
    npz = os.path.join(data_dir, "imdb.npz")
    raw = aclimdb_source(data_dir)
    word_index = os.path.join(data_dir, WORD_INDEX_FILE)
    if source == "auto":
        # Anything named imdb.npz is taken (and checked when read), never passed over.
        source = "keras_npz" if os.path.lexists(npz) else "aclimdb" if raw else "tfds"
    if source == "keras_npz":
        return npz
    if not os.path.lexists(word_index):
        raise FileNotFoundError(
            f"{word_index!r} not found: the raw reviews are encoded with "
            f"Keras's word index (imdb_word_index.json)"
        )
    require_file(word_index, "IMDB word index")
    if source == "aclimdb":
        if raw is None:
            raise FileNotFoundError(f"no aclImdb/ tree or {LABELED_ARCHIVE} in {data_dir!r}")
        return cached_npz(raw, word_index, cache_dir)
    return npz_from_tfds(data_dir, word_index, cache_dir)


def load_padded(
    data_dir: str,
    *,
    num_words: int = 10_000,
    maxlen: int = 200,
    source: str = "auto",
    padding: str = "pre",
    truncating: str = "pre",
    cache_dir: str | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """The documents' pipeline: ``load_data(num_words)`` then ``pad_sequences(maxlen)``.

    Returns ``{"train": {"inputs": <int32>[25000, maxlen], "targets": <int32>[25000]},
    "test": {...}}``.
    """
    from rnn_attn.data.sequences import pad_sequences

    if not isinstance(maxlen, int) or maxlen < 1:
        raise ValueError(f"maxlen must be an integer >= 1, got {maxlen!r}")
    (x_train, y_train), (x_test, y_test) = load_data(
        resolve_npz(data_dir, source, cache_dir), num_words=num_words
    )
    return {
        split: {
            "inputs": pad_sequences(x, maxlen=maxlen, padding=padding, truncating=truncating),
            "targets": np.asarray(y, np.int32),
        }
        for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test))
    }


def load_splits(
    data_dir: str,
    *,
    num_words: int,
    maxlen: int,
    source: str = "auto",
    validation: str = "split",
    validation_split: float = 0.2,
) -> dict[str, Any]:
    """``load_padded``'s reviews as ``{"train", "validation", "test"}`` (each
    ``{"inputs", "targets"}``) and ``"validation_described"``, the validation data in
    words: under ``validation="test"`` the test reviews (as document 000 does), under
    ``"split"`` the last ``validation_split`` of the training reviews (Keras's
    ``validation_split``, ``batching.validation_split``)."""
    from rnn_attn.data.batching import validation_split as split_off

    data = load_padded(data_dir, num_words=num_words, maxlen=maxlen, source=source)
    train, test = data["train"], data["test"]
    if validation == "test":
        described = f"the {len(test['targets']):,} test reviews (as document 000)"
        return {"train": train, "validation": test, "test": test, "validation_described": described}
    head, tail = split_off(train, validation_split)
    described = f"the last {len(tail['targets']):,} training reviews (validation_split)"
    return {"train": head, "validation": tail, "test": test, "validation_described": described}
