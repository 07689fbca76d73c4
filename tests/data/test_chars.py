import os

import numpy as np
import pytest

from rnn_attn.data import chars
from tests._paths import SHARED_DATA

BOOK = os.path.join(SHARED_DATA, "alice_in_wonderland_pg11.txt")


def _book(tmp_path):
    path = tmp_path / "book.txt"
    path.write_text(
        "\ufeffProject header\r\n*** START ***\r\nCHAPTER I. Down\r\n\r\n"
        "  Alice was   \r\nBEGINNING to get caf\u00e9 tired\r\nTHE END\r\n"
        "licence text\r\n",
        encoding="utf-8",
    )
    return str(path)


def test_body_and_document_003_normalization(tmp_path):
    body = chars.read_book_body(_book(tmp_path))
    assert body.splitlines()[0] == "CHAPTER I. Down" and body.splitlines()[-1] == "THE END"
    assert (
        chars.normalize_text(body) == "chapter i. down alice was beginning to get caf tired the end"
    )


def test_windows_and_vocab_round_trip():
    vocab = chars.CharVocab.from_text("hello world")
    assert vocab.chars == " dehlorw"
    ids = vocab.encode("hello world")
    assert vocab.decode(ids) == "hello world"
    x, y = chars.windows(ids, 3, 2)
    # windows start at 0, 2, 4, 6 (the last start leaves a target: 11 - 3 = 8 > 6)
    assert [vocab.decode(r) for r in x] == ["hel", "llo", "o w", "wor"]
    assert vocab.decode(y) == "l ol"
    with pytest.raises(ValueError, match=r"characters \['z'\] are not in the vocabulary"):
        vocab.encode("zoo")
    with pytest.raises(ValueError, match="seqlen must be an integer >= 1, got 0"):
        chars.windows(ids, 0)
    with pytest.raises(ValueError, match="too short for windows of 20"):
        chars.windows(ids, 20)


def test_split_and_real_word_fraction():
    train, held = chars.split_text("alpha beta gamma delta epsilon", 0.3)
    assert train + held == "alpha beta gamma delta epsilon" and held.startswith(" ")
    words = chars.vocabulary_words("Alice's cat, the Queen!")
    assert words == {"alice's", "cat", "the", "queen"}
    # first and last tokens are left out (possibly cut); 'qeen' is not a word
    fraction, n = chars.real_word_fraction("xx the cat, qeen alice's yy", words)
    assert (fraction, n) == (0.75, 4)


def test_missing_or_bodiless_book(tmp_path):
    with pytest.raises(FileNotFoundError, match="text file not found"):
        chars.read_book_body(str(tmp_path / "none.txt"))
    (tmp_path / "x.txt").write_text("no chapters here")
    with pytest.raises(ValueError, match="no line starting with 'CHAPTER I.'"):
        chars.read_book_body(str(tmp_path / "x.txt"))


@pytest.mark.skipif(
    not os.path.isfile(BOOK), reason="../shared/data/alice_in_wonderland_pg11.txt absent"
)
def test_real_book():
    text = chars.normalize_text(chars.read_book_body(BOOK))
    assert text.startswith("chapter i. down the rabbit-hole alice was beginning")
    assert text.endswith("the end")
    assert "gutenberg" not in text
    vocab = chars.CharVocab.from_text(text)
    assert 30 < vocab.size < 60
    x, y = chars.windows(vocab.encode(text), 10)
    assert x.shape == (len(text) - 10, 10)
    np.testing.assert_array_equal(x[1, :-1], x[0, 1:])
