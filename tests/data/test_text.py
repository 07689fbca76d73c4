"""Text vectorization: expected outputs stated by hand.

(pad_sequences's 'pre'/'post' padding and truncating are stated by hand in
tests/data/test_sequences.py and not repeated here.)
"""

import math

import numpy as np
import pytest

from rnn_attn.data.sequences import pad_sequences
from rnn_attn.data.text import (
    KERAS_FILTERS,
    Tokenizer,
    bag_of_ngrams,
    ngrams,
    one_hot_chars,
    one_hot_hashing,
    one_hot_words,
    stable_hash,
    text_to_word_sequence,
)

LECTURE = ["The cat sat on the mat.", "The dog ate my homework."]
# dog x3 and cat x3 (dog seen first), bites x1 and sees x1 (bites seen first).
TEXTS = ["Dog bites dog!", "Cat sees dog", "cat, CAT"]


# ------------------------------------------------------------- text_to_word_sequence


def test_lowercasing_and_filters():
    assert text_to_word_sequence("Hello, World!! x-y\tz") == ["hello", "world", "x", "y", "z"]
    assert text_to_word_sequence("Hello, World", lower=False) == ["Hello", "World"]
    assert text_to_word_sequence("Hello, World", filters="") == ["hello,", "world"]
    assert text_to_word_sequence("a;b;;c", filters="", split=";") == ["a", "b", "c"]


@pytest.mark.parametrize(
    "text",
    [
        "plain ascii, with  double  spaces",
        "tab\there",
        "cr\rlf\r\n",
        "vt\x0bff\x0c",
        "nbsp\xa0inside",
        "caf\u00e9 na\u00efve!",
        "em\u2003space",
        "  ",
        "",
        "\x1cfs",
    ],
)
@pytest.mark.parametrize("filters", [KERAS_FILTERS, "", "!,"])
def test_fast_path_matches_the_definition(text, filters):
    # The definition: lower-case, filters -> split, split, drop empty pieces.
    want = [
        w
        for w in text.lower().translate(str.maketrans(filters, " " * len(filters))).split(" ")
        if w
    ]
    assert text_to_word_sequence(text, filters) == want


# --------------------------------------------------------------------------- one-hot


def test_one_hot_words_is_the_lectures():
    results, index = one_hot_words(LECTURE)
    # Split on spaces only, as the lecture: "The"/"the" and "mat." are words of their own.
    assert index == {
        "The": 1,
        "cat": 2,
        "sat": 3,
        "on": 4,
        "the": 5,
        "mat.": 6,
        "dog": 7,
        "ate": 8,
        "my": 9,
        "homework.": 10,
    }
    assert results.shape == (2, 10, 11) and results.dtype == np.float32
    assert results.sum() == 11  # 6 + 5 words, one 1 each
    assert results[0, 0, 1] == 1 and results[0, 4, 5] == 1 and results[0, 5, 6] == 1
    assert results[1, 0, 1] == 1 and results[1, 1, 7] == 1 and results[1, 4, 10] == 1
    assert not results[:, :, 0].any() and not results[0, 6:].any() and not results[1, 5:].any()


def test_one_hot_words_max_length_and_cleaning():
    results, index = one_hot_words(LECTURE, max_length=2, filters=KERAS_FILTERS, lower=True)
    assert index == {
        "the": 1,
        "cat": 2,
        "sat": 3,
        "on": 4,
        "mat": 5,
        "dog": 6,
        "ate": 7,
        "my": 8,
        "homework": 9,
    }
    assert results.shape == (2, 2, 10)
    np.testing.assert_array_equal(np.argmax(results, -1), [[1, 2], [1, 6]])


# ------------------------------------------------------------------------- n-grams


def test_ngrams_are_the_lectures_bags():
    words = "The cat sat on the mat".split()
    # The lecture's two sets, for "The cat sat on the mat".
    assert ngrams(words, 2) == [
        "The",
        "The cat",
        "cat",
        "cat sat",
        "sat",
        "sat on",
        "on",
        "on the",
        "the",
        "the mat",
        "mat",
    ]
    assert set(ngrams(words, 3)) == {
        "The",
        "The cat",
        "cat",
        "cat sat",
        "The cat sat",
        "sat",
        "sat on",
        "on",
        "cat sat on",
        "on the",
        "the",
        "sat on the",
        "the mat",
        "mat",
        "on the mat",
    }
    assert ngrams(words, 1) == words and ngrams([], 3) == []
    assert ngrams(list("abab"), 2, join="") == ["a", "ab", "b", "ba"]  # each gram once
    with pytest.raises(ValueError, match="n must be an integer >= 1, got 0"):
        ngrams(words, 0)


def test_bag_of_ngrams_words_and_characters():
    bags, index = bag_of_ngrams(["the cat sat", "the cat"], 2)
    assert index == {"the": 1, "the cat": 2, "cat": 3, "cat sat": 4, "sat": 5}
    np.testing.assert_array_equal(bags, [[0, 1, 1, 1, 1, 1], [0, 1, 1, 1, 0, 0]])
    assert bags.dtype == np.float32
    bags, index = bag_of_ngrams(["Aa"], 2, level="char", lower=True)
    assert index == {"a": 1, "aa": 2} and bags.tolist() == [[0, 1, 1]]
    with pytest.raises(ValueError, match="level must be 'word' or 'char', got 'line'"):
        bag_of_ngrams(["x"], level="line")
    with pytest.raises(TypeError, match="samples must be a list of texts"):
        bag_of_ngrams("the cat", 2)


def test_one_hot_chars():
    results = one_hot_chars(["The cat", "a~"])
    assert results.shape == (2, 50, 96)  # 95 printable ASCII + reserved 0
    # index = character code - 31: "T" 84 -> 53, " " 32 -> 1, "~" 126 -> 95.
    assert results[0, 0, 53] == 1 and results[0, 3, 1] == 1 and results[1, 1, 95] == 1
    assert results.sum() == 9 and not results[:, :, 0].any()
    assert one_hot_chars(["abcdef"], max_length=4).sum() == 4
    with pytest.raises(ValueError, match="sample 1 holds the character 'é'"):
        one_hot_chars(["ok", "caf\u00e9"])
    with pytest.raises(ValueError, match="max_length must be an integer >= 1, got 0"):
        one_hot_chars(["x"], max_length=0)


# --------------------------------------------------------------------------- hashing


def test_stable_hash_is_fnv1a_32():
    # Published FNV-1a 32-bit test vectors: the same in every process and on every machine.
    assert stable_hash("") == 0x811C9DC5
    assert stable_hash("a") == 0xE40C292C
    assert stable_hash("foobar") == 0xBF9CF968
    assert stable_hash("cat") == 0x06745C07
    assert stable_hash("cat") % 1000 == 31


def test_one_hot_hashing_buckets_and_collisions():
    out = one_hot_hashing(LECTURE, dimensionality=1000)
    assert out.encoded.shape == (2, 10, 1000)
    assert out.buckets["cat"] == 31 and out.buckets["The"] == 636 and out.buckets["the"] == 980
    assert out.encoded[0, 1, 31] == 1 and out.encoded[0, 0, 636] == 1
    assert out.encoded.sum() == 11
    assert out.collisions == 0
    # dimensionality 4: cat -> 3, a -> 0, foobar -> 0: two words share bucket 0.
    small = one_hot_hashing(["cat a foobar a"], dimensionality=4)
    assert small.buckets == {"cat": 3, "a": 0, "foobar": 0}
    assert small.collisions == 2
    np.testing.assert_array_equal(np.argmax(small.encoded[0, :4], -1), [3, 0, 0, 0])
    # One bucket: every distinct word collides.
    assert one_hot_hashing(["x y z x"], dimensionality=1).collisions == 3


# --------------------------------------------------------------------------- Tokenizer


def test_fit_counts_and_index_order():
    tok = Tokenizer().fit_on_texts(TEXTS)
    assert list(tok.word_counts.items()) == [("dog", 3), ("bites", 1), ("cat", 3), ("sees", 1)]
    # By count, ties by first appearance.
    assert tok.word_index == {"dog": 1, "cat": 2, "bites": 3, "sees": 4}
    assert tok.index_word == {1: "dog", 2: "cat", 3: "bites", 4: "sees"}
    assert tok.word_docs == {"dog": 2, "bites": 1, "cat": 2, "sees": 1}
    assert tok.index_docs == {1: 2, 3: 1, 2: 2, 4: 1}
    assert tok.document_count == 3
    assert tok.texts_to_sequences(TEXTS) == [[1, 3, 1], [2, 4, 1], [2, 2]]


def test_fitting_twice_accumulates():
    tok = Tokenizer().fit_on_texts(TEXTS[:1]).fit_on_texts(["sees sees sees"])
    assert tok.word_counts == {"dog": 2, "bites": 1, "sees": 3}
    assert tok.word_index == {"sees": 1, "dog": 2, "bites": 3}
    assert tok.document_count == 2


def test_num_words_cut_off():
    tok = Tokenizer(num_words=3).fit_on_texts(TEXTS)
    assert len(tok.word_index) == 4  # the index keeps every word
    assert tok.texts_to_sequences(TEXTS + ["bird dog"]) == [[1, 1], [2, 1], [2, 2], [1]]


def test_oov_token_takes_index_1():
    tok = Tokenizer(num_words=4, oov_token="<oov>").fit_on_texts(TEXTS)
    assert tok.word_index == {"<oov>": 1, "dog": 2, "cat": 3, "bites": 4, "sees": 5}
    # bites (4) and sees (5) are over the limit, bird is unknown: all become 1.
    assert tok.texts_to_sequences(TEXTS + ["bird dog"]) == [[2, 1, 2], [3, 1, 2], [3, 3], [1, 2]]
    assert tok.sequences_to_texts([[2, 1, 2], [3, 5, 99]]) == ["dog <oov> dog", "cat <oov> <oov>"]


def test_sequences_to_texts_round_trip():
    tok = Tokenizer().fit_on_texts(TEXTS)
    assert tok.sequences_to_texts(tok.texts_to_sequences(TEXTS)) == [
        "dog bites dog",
        "cat sees dog",
        "cat cat",
    ]
    # Unknown indices are dropped without an oov token; so are those over num_words.
    assert tok.sequences_to_texts([[1, 0, 99, 4]]) == ["dog sees"]
    tok.num_words = 3
    assert tok.sequences_to_texts([[1, 4, 2]]) == ["dog cat"]


def test_char_level_ignores_filters():
    tok = Tokenizer(char_level=True).fit_on_texts(["aab"])
    assert tok.word_index == {"a": 1, "b": 2}
    assert tok.texts_to_sequences(["Ab!a"]) == [[1, 2, 1]]


def test_pretokenized_lists_are_only_lowercased():
    tok = Tokenizer().fit_on_texts([["New York", "new york", "X!"]])
    assert tok.word_index == {"new york": 1, "x!": 2}


LOG2, LOG25 = math.log(2.0), math.log(2.5)


@pytest.mark.parametrize(
    "mode,expected",
    [
        # sequences [1, 3, 1], [2, 4, 1], [2, 2]; columns 0..4, column 0 never set.
        ("binary", [[0, 1, 0, 1, 0], [0, 1, 1, 0, 1], [0, 0, 1, 0, 0]]),
        ("count", [[0, 2, 0, 1, 0], [0, 1, 1, 0, 1], [0, 0, 2, 0, 0]]),
        ("freq", [[0, 2 / 3, 0, 1 / 3, 0], [0, 1 / 3, 1 / 3, 0, 1 / 3], [0, 0, 1, 0, 0]]),
        # (1 + log c) * log(1 + 3 / (1 + docs)); docs: dog 2, cat 2, bites 1, sees 1, so
        # idf = log 2 for dog and cat, log 2.5 for bites and sees.
        (
            "tfidf",
            [
                [0, (1 + LOG2) * LOG2, 0, LOG25, 0],
                [0, LOG2, LOG2, 0, LOG25],
                [0, 0, (1 + LOG2) * LOG2, 0, 0],
            ],
        ),
    ],
)
def test_texts_to_matrix_modes(mode, expected):
    tok = Tokenizer().fit_on_texts(TEXTS)
    out = tok.texts_to_matrix(TEXTS, mode=mode)
    assert out.shape == (3, 5) and out.dtype == np.float64
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_tfidf_numbers():
    out = Tokenizer().fit_on_texts(TEXTS).texts_to_matrix(TEXTS, mode="tfidf")
    np.testing.assert_allclose(out[0], [0, 1.1736002, 0, 0.9162907, 0], rtol=1e-6)


def test_matrix_width_is_num_words():
    tok = Tokenizer(num_words=3).fit_on_texts(TEXTS)
    np.testing.assert_array_equal(
        tok.texts_to_matrix(TEXTS, mode="count"), [[0, 2, 0], [0, 1, 1], [0, 0, 2]]
    )
    # Indices >= num_words and padding zeros are not counted (freq still divides by the
    # full length of the sequence, as Keras).
    np.testing.assert_allclose(
        tok.sequences_to_matrix([[0, 1, 7, 2], []], mode="freq"), [[0, 0.25, 0.25], [0, 0, 0]]
    )


def test_tokenizer_errors():
    with pytest.raises(ValueError, match="num_words must be None or an integer >= 1, got 0"):
        Tokenizer(num_words=0)
    with pytest.raises(ValueError, match="mode must be one of"):
        Tokenizer().fit_on_texts(TEXTS).texts_to_matrix(TEXTS, mode="onehot")
    with pytest.raises(ValueError, match="needs a width"):
        Tokenizer().sequences_to_matrix([[1]])
    with pytest.raises(ValueError, match="tfidf mode needs document frequencies"):
        Tokenizer(num_words=5).sequences_to_matrix([[1]], mode="tfidf")


def test_sequences_feed_pad_sequences():
    tok = Tokenizer().fit_on_texts(TEXTS)
    np.testing.assert_array_equal(
        pad_sequences(tok.texts_to_sequences(TEXTS), maxlen=2), [[3, 1], [4, 1], [2, 2]]
    )
