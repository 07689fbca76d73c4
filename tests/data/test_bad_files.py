"""Data files that used to be read silently wrong, or not at all: byte-order marks and
UTF-16 text, float32 overflow in the weather CSV, and FIFOs or devices where a data file
should be (which blocked a reader forever: each test here fails instead of hanging, see
``tests/_fifo.py``)."""

import gzip
import io
import json
import os
import tarfile

import numpy as np
import pytest

from rnn_attn.data import chars, glove, imdb, paths, tfds_imdb, weather
from tests._fifo import Unblocker, make_fifo

GLOVE = "the 0.1 0.2 0.3\nmovie 1 2 3\ncaf\u00e9 -1.5 0 0.25\n"
JENA = '"Date Time","p (mbar)","T (degC)"\n' + "".join(
    f"01.01.2009 {h:02d}:00:00,996.5,{10 + h / 4:.2f}\n" for h in range(24)
)
BOOK = "Header\nCHAPTER I. Down\nAlice was beginning to get very tired\nTHE END\nLicence\n"
WORD_INDEX = {"the": 1, "movie": 2, "caf\u00e9": 3}
ENCODINGS = {
    "utf-8": lambda text: text.encode("utf-8"),
    "utf-8-bom": lambda text: text.encode("utf-8-sig"),
    "utf-16-le-bom": lambda text: text.encode("utf-16"),  # the mark, then little-endian
    "utf-16-be-bom": lambda text: b"\xfe\xff" + text.encode("utf-16-be"),
    "utf-32-bom": lambda text: text.encode("utf-32"),
}


def _write(path, text: str, encoding: str, compressed: bool = False) -> str:
    data = ENCODINGS[encoding](text)
    if compressed:
        data = gzip.compress(data)
    path.write_bytes(data)
    return str(path)


def _tree(root, reviews: dict[str, bytes] | None = None) -> str:
    """A tiny aclImdb tree, one review a folder (``reviews`` replaces some, by path)."""
    for split in ("train", "test"):
        for label in ("neg", "pos"):
            folder = root / "aclImdb" / split / label
            folder.mkdir(parents=True)
            (folder / "0_5.txt").write_text(f"the movie was {label}")
    for rel, blob in (reviews or {}).items():
        (root / "aclImdb" / rel).write_bytes(blob)
    return str(root)


# -- byte-order marks and UTF-16 ------------------------------------------------------------------


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
@pytest.mark.parametrize("compressed", [False, True])
def test_glove_reads_the_first_word_whatever_the_mark(tmp_path, encoding, compressed):
    name = "v.txt.gz" if compressed else "v.txt"
    vectors = glove.read_glove(_write(tmp_path / name, GLOVE, encoding, compressed))
    assert list(vectors) == ["the", "movie", "caf\u00e9"]  # not "\ufeffthe"
    np.testing.assert_array_equal(vectors["the"], np.float32([0.1, 0.2, 0.3]))
    subset = glove.read_glove(str(tmp_path / name), words={"the"})
    assert list(subset) == ["the"]


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_weather_csv_header_whatever_the_mark(tmp_path, encoding):
    series = weather.load_jena(_write(tmp_path / "jena.csv", JENA, encoding))
    assert series.columns == ("p (mbar)", "T (degC)") and len(series) == 24
    np.testing.assert_allclose(series.values[:, 1], 10 + np.arange(24) / 4)


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_book_whatever_the_mark(tmp_path, encoding):
    body = chars.read_book_body(_write(tmp_path / "book.txt", BOOK, encoding))
    assert body == "CHAPTER I. Down\nAlice was beginning to get very tired\nTHE END"


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_word_index_whatever_the_mark(tmp_path, encoding):
    text = json.dumps(WORD_INDEX, ensure_ascii=False)
    assert imdb.load_word_index(_write(tmp_path / "wi.json", text, encoding)) == WORD_INDEX


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_reviews_whatever_the_mark(tmp_path, encoding):
    """In the tree and in an archive: the first word is "the", not "\\ufeffthe"."""
    blob = ENCODINGS[encoding]("The caf\u00e9 was great")
    source = _tree(tmp_path / "tree", {"train/pos/0_5.txt": blob})
    texts, labels = imdb.read_aclimdb(source)["train"]
    assert texts[int(np.flatnonzero(labels)[0])] == "The caf\u00e9 was great"
    archive = tmp_path / "reviews.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "tree" / "aclImdb", arcname="aclImdb")
    texts, labels = imdb.read_aclimdb(str(archive))["train"]
    assert texts[int(np.flatnonzero(labels)[0])] == "The caf\u00e9 was great"
    assert imdb.encode_texts(texts, {"the": 1, "caf\u00e9": 2})[1][:2] == [1, 2]


@pytest.mark.parametrize(
    "read,text,message",
    [
        (glove.read_glove, GLOVE, "GloVe file {path!r} is not UTF-8 text: 'utf-8' codec"),
        (glove.read_glove, "the 0.1 0.2\n", "GloVe file {path!r} line 1 holds a NUL character"),
        (weather.load_jena, JENA, "weather CSV {path!r} line 1 holds a NUL character"),
        (chars.read_book_body, BOOK, "text file {path!r} line 1 holds a NUL character"),
        (imdb.load_word_index, json.dumps(WORD_INDEX), "holds a NUL character (character 1)"),
    ],
)
def test_utf16_without_its_mark_is_refused(tmp_path, read, text, message):
    path = tmp_path / "no_mark"
    path.write_bytes(text.encode("utf-16-le"))
    with pytest.raises(ValueError) as info:
        read(str(path))
    assert message.format(path=str(path)) in str(info.value)
    assert "UTF-16 or UTF-32 text without a byte-order mark" in str(info.value)


def test_utf16_review_without_its_mark_is_refused(tmp_path):
    source = _tree(tmp_path, {"train/pos/0_5.txt": "the movie".encode("utf-16-le")})
    path = os.path.join(source, "aclImdb", "train", "pos", "0_5.txt")
    with pytest.raises(ValueError, match="holds a NUL character") as info:
        imdb.read_aclimdb(source)
    assert str(info.value).startswith(f"review {path!r} holds a NUL character (character 1)")


def test_truncated_utf16_is_named(tmp_path):
    path = tmp_path / "wi.json"
    path.write_bytes('{"the": 1}'.encode("utf-16") + b"\x00")
    with pytest.raises(ValueError, match="is not UTF-16 text \\(truncated data"):
        imdb.load_word_index(str(path))


# -- float32 overflow --------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["1e39", "-3.5e38", "340282356779733661637539395458142568448"])
def test_weather_value_beyond_float32_names_line_and_column(tmp_path, cell):
    lines = JENA.splitlines()
    lines[5] = lines[5].rsplit(",", 1)[0] + "," + cell
    lines.insert(2, "")  # a blank line: the line numbers are the file's
    path = tmp_path / "jena.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError) as info:
        weather.load_jena(str(path))
    assert str(info.value) == (
        f"{str(path)!r} line 7, column 'T (degC)': {cell!r} overflows float32 (largest "
        f"3.403e+38); expected a value that fits float32"
    )


def test_weather_values_near_the_float32_limit_are_kept(tmp_path):
    path = tmp_path / "jena.csv"
    path.write_text(JENA.replace("996.5", "3.4028234e38"))
    assert weather.load_jena(str(path)).values[0, 0] == np.float32(3.4028234e38)


def test_glove_value_beyond_float32_names_line_word_and_position(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("the 0.1 0.2 0.3\nmovie 1 1e39 3\n")
    with pytest.raises(ValueError) as info:
        glove.read_glove(str(path))
    assert str(info.value) == (
        f"{str(path)!r} line 2: the word 'movie' has the value '1e39', which overflows "
        f"float32; expected a finite float32 value (value 2 of 3)"
    )


# -- FIFOs, devices and directories where files belong -----------------------------------------


def _fifo_cases(tmp_path):
    """``{case: (call, the path named, the FIFO, what)}``: each reader on a FIFO."""
    fifo = make_fifo(tmp_path / "pipe")
    tree = _tree(tmp_path / "tree")
    review = make_fifo(tmp_path / "tree" / "aclImdb" / "train" / "pos" / "1_9.txt")
    npz_dir = tmp_path / "npz_dir"
    npz_dir.mkdir()
    npz = make_fifo(npz_dir / "imdb.npz")
    index_dir = tmp_path / "index_dir"
    _tree(index_dir)
    index = make_fifo(index_dir / "imdb_word_index.json")
    link = tmp_path / "link.txt"
    link.symlink_to(fifo)
    return {
        "glove": (lambda: glove.read_glove(fifo), fifo, fifo, "GloVe file"),
        "book": (lambda: chars.read_book_body(fifo), fifo, fifo, "text file"),
        "book_link": (lambda: chars.read_book_body(str(link)), str(link), fifo, "text file"),
        "jena": (lambda: weather.load_jena(fifo), fifo, fifo, "weather CSV"),
        "tmy3": (lambda: weather.load_tmy3(fifo), fifo, fifo, "weather CSV"),
        "word_index": (lambda: imdb.load_word_index(fifo), fifo, fifo, "IMDB word index"),
        "npz": (lambda: imdb.load_data(fifo), fifo, fifo, "IMDB npz"),
        "archive": (lambda: imdb.read_aclimdb(fifo), fifo, fifo, "IMDB reviews"),
        "tree_review": (lambda: imdb.read_aclimdb(tree), review, review, "review"),
        "data_dir_npz": (
            lambda: imdb.load_padded(str(npz_dir), source="auto"),
            npz,
            npz,
            "IMDB npz",
        ),
        "data_dir_word_index": (
            lambda: imdb.resolve_npz(str(index_dir), "aclimdb", str(tmp_path / "cache")),
            index,
            index,
            "IMDB word index",
        ),
        "tfds_tree": (
            lambda: list(tfds_imdb._iter_manual(tree)),
            review,
            review,
            "aclImdb file",
        ),
    }


CASES = [
    "glove",
    "book",
    "book_link",
    "jena",
    "tmy3",
    "word_index",
    "npz",
    "archive",
    "tree_review",
    "data_dir_npz",
    "data_dir_word_index",
    "tfds_tree",
]


@pytest.mark.parametrize("case", CASES)
def test_a_fifo_is_refused_before_it_is_opened(tmp_path, case):
    call, named, fifo, what = _fifo_cases(tmp_path)[case]
    with Unblocker(fifo) as watch, pytest.raises(ValueError) as info:
        call()
    assert not watch.freed, f"the reader waited on {fifo}"
    message = str(info.value)
    assert message.startswith(f"{what} is a FIFO (named pipe), not a regular file: {named!r}")
    if case == "book_link":
        assert f"(a symbolic link to {os.path.realpath(fifo)!r})" in message


def test_a_fifo_swapped_in_after_the_check_is_refused_too(tmp_path, monkeypatch):
    """The descriptor is opened without blocking and checked again."""
    fifo = make_fifo(tmp_path / "pipe")
    monkeypatch.setattr(paths, "require_file", lambda path, what, hint="": path)
    with Unblocker(fifo, period=5.0) as watch, pytest.raises(ValueError) as info:
        paths.open_binary(fifo, "weather CSV", "; expected the CSV file")
    assert not watch.freed
    assert str(info.value) == (
        f"weather CSV is a FIFO (named pipe), not a regular file: {fifo!r}; expected the CSV file"
    )


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_a_device_is_refused(tmp_path):
    """/dev/zero never ends: the GloVe reader would read it for ever."""
    with pytest.raises(ValueError, match="GloVe file is a character device, not a regular file"):
        glove.read_glove("/dev/zero")
    link = tmp_path / "book.txt"
    link.symlink_to("/dev/zero")
    with pytest.raises(ValueError) as info:
        chars.read_book_body(str(link))
    assert str(info.value) == (
        f"text file is a character device, not a regular file: {str(link)!r} (a symbolic "
        f"link to '/dev/zero'); expected the book's text file"
    )


def test_directories_and_dangling_links(tmp_path):
    with pytest.raises(ValueError, match="^IMDB word index is a directory: "):
        imdb.load_word_index(str(tmp_path))
    with pytest.raises(ValueError, match="^IMDB data dir is a regular file, not a directory"):
        imdb.resolve_npz(str(paths.__file__))
    dangling = tmp_path / "gone.txt"
    dangling.symlink_to(tmp_path / "nothing_here.txt")
    with pytest.raises(FileNotFoundError) as info:
        glove.read_glove(str(dangling))
    assert str(info.value).startswith(
        f"GloVe file not found: {str(dangling)!r} (a symbolic link to "
        f"{str(tmp_path / 'nothing_here.txt')!r})"
    )
    folder = _tree(tmp_path / "tree")
    os.remove(os.path.join(folder, "aclImdb", "test", "pos", "0_5.txt"))
    os.rmdir(os.path.join(folder, "aclImdb", "test", "pos"))
    (tmp_path / "tree" / "aclImdb" / "test" / "pos").write_text("not a folder")
    with pytest.raises(ValueError, match="^aclImdb folder is a regular file, not a directory"):
        imdb.read_aclimdb(folder)


def test_text_helpers():
    assert paths.encoding_of(b"\xff\xfe\x00\x00") == "utf-32"
    assert paths.encoding_of(b"\xff\xfeA\x00") == "utf-16"
    assert paths.encoding_of(b"\xef\xbb\xbfA") == "utf-8-sig"
    assert paths.encoding_of(b"abcd") == "utf-8"
    assert paths.decode_text("\ufeffword".encode(), "x") == "word"
    with pytest.raises(ValueError, match="^x is not UTF-8 text \\(invalid start byte at byte 1\\)"):
        paths.decode_text(b"a\xffb", "x")
    stream = io.StringIO("a\nb\x00\n")
    with pytest.raises(ValueError, match="^x line 2 holds a NUL character"):
        list(paths.checked_lines(stream, "x"))


def test_the_unblocker_frees_a_reader_that_waits(tmp_path):
    """What the FIFO tests rely on: a reader that does open a FIFO fails them, not hangs."""
    fifo = make_fifo(tmp_path / "pipe")
    with Unblocker(fifo, period=0.1) as watch:
        with open(fifo, "rb") as f:  # waits for a writer: the unblocker
            assert f.read() == b""
    assert watch.freed
