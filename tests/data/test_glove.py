import gzip
import os
import re

import numpy as np
import pytest

from rnn_attn.data.glove import embedding_matrix, read_glove
from tests._paths import SHARED_DATA

REAL_GLOVE = os.path.join(SHARED_DATA, "glove.6B.50d.imdb_top20k.txt.gz")
SMALL = "the 0.1 0.2 -0.3\nmovie 1 2 3\ncaf\u00e9 -1.5 0 2.5e-1\n"


def _write(tmp_path, text, name="vectors.txt"):
    path = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("name", ["vectors.txt", "vectors.txt.gz"])
def test_reads_plain_and_gzip(tmp_path, name):
    vectors = read_glove(_write(tmp_path, SMALL, name))
    assert list(vectors) == ["the", "movie", "caf\u00e9"]
    np.testing.assert_array_equal(vectors["the"], np.float32([0.1, 0.2, -0.3]))
    np.testing.assert_array_equal(vectors["caf\u00e9"], [-1.5, 0, 0.25])
    assert vectors["movie"].dtype == np.float32 and vectors["movie"].shape == (3,)


def test_dimension_from_first_line_and_word_subset(tmp_path):
    path = _write(tmp_path, "a 1 2 3 4 5\nb 6 7 8 9 10\n\nc 0 0 0 0 1\n")
    vectors = read_glove(path, words={"c", "a", "not-there"})
    assert list(vectors) == ["a", "c"]
    np.testing.assert_array_equal(vectors["c"], [0, 0, 0, 0, 1])
    assert read_glove(path, dtype="float64")["b"].dtype == np.float64


def test_a_repeated_word_keeps_its_last_vector_as_keras(tmp_path):
    """Keras's GloVe example fills a dict line by line (``embeddings_index[word] =
    coefs``): a word listed twice keeps the vector of its last line, at the place of its
    first."""
    path = _write(tmp_path, "a 1 2\nb 5 6\na 3 4\n")
    vectors = read_glove(path)
    assert list(vectors) == ["a", "b"]
    np.testing.assert_array_equal(vectors["a"], [3, 4])
    np.testing.assert_array_equal(read_glove(path, words={"a"})["a"], [3, 4])


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="GloVe file not found: .*nope.txt"):
        read_glove(str(tmp_path / "nope.txt"))


def test_ragged_row(tmp_path):
    path = _write(tmp_path, "the 0.1 0.2 0.3\nmovie 1 2\n")
    with pytest.raises(ValueError, match="line 2: the word 'movie' has 2 values, expected 3"):
        read_glove(path)


def test_non_numeric_value(tmp_path):
    path = _write(tmp_path, "the 0.1 0.2 0.3\nmovie 1 two 3\n", "v.txt.gz")
    with pytest.raises(
        ValueError, match="line 2: the word 'movie' has the value 'two', expected a finite number"
    ):
        read_glove(path)
    with pytest.raises(ValueError, match="line 1: the word 'the' has the value 'nan'"):
        read_glove(_write(tmp_path, "the nan 1\n"))


@pytest.mark.parametrize("value", ["1_0", "\u0661", "\uff11", "\u00a01", "1e1_0"])
def test_a_value_in_another_number_syntax_is_refused(tmp_path, value):
    """numpy parses ``1_0`` as 10 (and non-ASCII digits and spaces): a
    GloVe file holds plain decimal numbers, so anything else is refused, naming it."""
    path = _write(tmp_path, f"the 0.1 {value} 0.3\nmovie 1 2 3\n")
    with pytest.raises(
        ValueError,
        match=re.escape(f"line 1: the word 'the' has the value {value!r}, not a plain decimal"),
    ):
        read_glove(path)


@pytest.mark.parametrize("text", ["", "\n\n"])
def test_empty_file(tmp_path, text):
    with pytest.raises(ValueError, match="is empty"):
        read_glove(_write(tmp_path, text))


def test_word_without_values(tmp_path):
    with pytest.raises(ValueError, match="line 1: the word 'the' has no values"):
        read_glove(_write(tmp_path, "the\n"))


def test_not_gzip(tmp_path):
    path = _write(tmp_path, SMALL)
    os.rename(path, path + ".gz")
    with pytest.raises(ValueError, match="not a readable gzip file"):
        read_glove(path + ".gz")


def test_embedding_matrix_rows_follow_the_index():
    vectors = {"the": np.float32([1, 2]), "movie": np.float32([3, 4]), "film": np.float32([5, 6])}
    word_index = {"the": 1, "it's": 2, "movie": 3, "film": 4}
    out = embedding_matrix(vectors, word_index, num_words=4)
    # Row 0 (padding) and row 2 (no vector) are zero; "film" (index 4) is cut off.
    np.testing.assert_array_equal(out.matrix, [[0, 0], [1, 2], [0, 0], [3, 4]])
    assert out.matrix.dtype == np.float32
    assert out.found == 2 and out.missing == ("it's",)
    assert embedding_matrix(vectors, word_index, num_words=10, dim=2).found == 3


def test_embedding_matrix_errors():
    with pytest.raises(ValueError, match="the vector of 'the' has 2 values, expected dim=3"):
        embedding_matrix({"the": np.zeros(2)}, {"the": 1}, num_words=2, dim=3)
    with pytest.raises(ValueError, match="num_words must be an integer >= 1, got 0"):
        embedding_matrix({}, {}, num_words=0, dim=2)


@pytest.mark.skipif(not os.path.isfile(REAL_GLOVE), reason=f"{REAL_GLOVE} is absent")
def test_real_glove_subset():
    vectors = read_glove(REAL_GLOVE)
    assert len(vectors) == 19_131
    assert {v.shape for v in vectors.values()} == {(50,)}
    # The file's first line: "the 0.418 0.24968 -0.41242 0.1217 ... -0.78581".
    assert list(vectors)[:3] == ["the", "of", "to"]
    np.testing.assert_array_equal(
        vectors["the"][:4], np.float32([0.418, 0.24968, -0.41242, 0.1217])
    )
    assert vectors["the"][-1] == np.float32(-0.78581)
    out = embedding_matrix(vectors, {"the": 1, "it's": 2, "movie": 3}, num_words=4)
    assert out.found == 2 and out.missing == ("it's",)
    np.testing.assert_array_equal(out.matrix[3, :3], np.float32([0.30824, 0.17223, -0.23339]))
