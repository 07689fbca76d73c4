"""Text to numbers, with Keras's semantics.

* ``text_to_word_sequence``: Keras's word splitting (lower-case, filters, split).
* ``one_hot_words`` / ``one_hot_chars``: the lecture's hand-made one-hot encodings
  (reference document 002, after Chollet's "Deep Learning with R" 6.1).
* ``one_hot_hashing``: the one-hot hashing trick with a stable hash, reporting collisions.
* ``Tokenizer``: ``keras.preprocessing.text.Tokenizer`` (index by frequency, ``num_words``,
  ``oov_token``, sequences, matrices in binary / count / tfidf / freq modes).

Pad the sequences with ``rnn_attn.data.sequences.pad_sequences``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat

import numpy as np

from rnn_attn.checks import argument
from rnn_attn.memory import check_fits

# keras.preprocessing.text's default filters: punctuation, tabs and newlines (not the
# apostrophe, so "don't" stays one word).
KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'

# The lecture's character alphabet: printable ASCII, codes 32 (space) to 126 ("~").
PRINTABLE_ASCII = "".join(chr(c) for c in range(32, 127))

MATRIX_MODES = ("binary", "count", "tfidf", "freq")


# ASCII whitespace other than the space: str.split() with no argument would split on it
# too, so the fast path below only applies to texts without it.
_OTHER_ASCII_SPACE = bytes(c for c in range(128) if chr(c).isspace() and c != 32)


@lru_cache(maxsize=32)
def _translation(filters: str, split: str) -> dict[int, str]:
    # Cached: tokenizing 50,000 reviews would otherwise rebuild the same table each time.
    return str.maketrans(filters, split * len(filters))


@lru_cache(maxsize=32)
def _ascii_translation(filters: str) -> bytes | None:
    """The filters as a bytes table mapping each to a space, or None if not all ASCII."""
    if not filters.isascii():
        return None
    return bytes.maketrans(filters.encode("ascii"), b" " * len(filters))


def text_to_word_sequence(
    text: str, filters: str = KERAS_FILTERS, lower: bool = True, split: str = " "
) -> list[str]:
    """Splits text into words as ``keras.preprocessing.text.text_to_word_sequence``:
    lower-case, every filter character becomes ``split``, empty pieces dropped."""
    if lower:
        text = text.lower()
    if split == " " and text.isascii():
        # Same result, about twice as fast: bytes.translate is a 256-entry table lookup,
        # and str.split() drops empty pieces in C (valid when no other whitespace occurs).
        table = _ascii_translation(filters)
        if table is not None:
            data = text.encode("ascii").translate(table)
            if len(data.translate(None, _OTHER_ASCII_SPACE)) == len(data):
                return data.decode("ascii").split()
    if filters:
        text = text.translate(_translation(filters, split))
    return list(filter(None, text.split(split)))


# --------------------------------------------------------------------------- one-hot


def one_hot_words(
    samples: Sequence[str],
    max_length: int = 10,
    *,
    filters: str = "",
    lower: bool = False,
) -> tuple[np.ndarray, dict[str, int]]:
    """Word-level one-hot encoding, as the lecture's first example.

    The token index is built from ``samples`` in order of first appearance, starting at 1
    (index 0 is reserved and never set). With the defaults words are split on spaces
    only, as the lecture does ("The" and "the", "mat." and "mat" are different words);
    pass ``filters=KERAS_FILTERS, lower=True`` to clean them first.

    Returns:
      ``(results <float32>[samples, max_length, max_index + 1], token_index)``; word ``j``
      (< ``max_length``) of sample ``i`` sets ``results[i, j, token_index[word]] = 1``.
    """
    _check_positive("max_length", max_length)
    tokenized = [text_to_word_sequence(s, filters, lower) for s in samples]
    token_index: dict[str, int] = {}
    for words in tokenized:
        for w in words:
            token_index.setdefault(w, len(token_index) + 1)
    codes = [[token_index[w] for w in words[:max_length]] for words in tokenized]
    return _one_hot(codes, max_length, len(token_index) + 1), token_index


def one_hot_chars(
    samples: Sequence[str],
    max_length: int = 50,
    *,
    alphabet: str = PRINTABLE_ASCII,
) -> np.ndarray:
    """Character-level one-hot encoding, as the lecture's second example.

    Character ``alphabet[k]`` has index ``k + 1`` (index 0 is reserved, as the lecture's
    empty token); the default alphabet is printable ASCII (space to "~", 95 characters).
    Only the first ``max_length`` characters of each sample are encoded.

    Returns:
      ``<float32>[samples, max_length, len(alphabet) + 1]``.

    Raises:
      ValueError: a sample holds a character outside ``alphabet``.
    """
    _check_positive("max_length", max_length)
    index = {c: k + 1 for k, c in enumerate(alphabet)}
    codes = []
    for i, sample in enumerate(samples):
        try:
            codes.append([index[c] for c in sample[:max_length]])
        except KeyError as e:
            raise ValueError(
                f"sample {i} holds the character {e.args[0]!r}, which is not in "
                f"the alphabet (default: printable ASCII, codes 32-126)"
            ) from None
    return _one_hot(codes, max_length, len(alphabet) + 1)


def _one_hot(codes: list[list[int]], max_length: int, width: int) -> np.ndarray:
    """``<float32>[len(codes), max_length, width]`` with a 1 at each ``(i, j, codes[i][j])``;
    ValueError first when it would take more than half the free memory (numpy raised
    MemoryError with a traceback)."""
    check_fits(
        f"{len(codes)} texts one-hot encoded to max_length {max_length} over {width} symbols",
        len(codes) * max_length * width * 4,
        "a smaller max_length",
        dtype="float32",
    )
    out = np.zeros((len(codes), max_length, width), np.float32)
    lengths = np.fromiter((len(c) for c in codes), np.int64, count=len(codes))
    if lengths.sum():
        rows = np.repeat(np.arange(len(codes)), lengths)
        steps = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        out[rows, steps, np.concatenate([c for c in codes if c])] = 1.0
    return out


# --------------------------------------------------------------------------- n-grams


def ngrams(tokens: Sequence[str], n: int, *, join: str = " ") -> list[str]:
    """Every run of 1 to ``n`` consecutive tokens, each once, ordered by where it starts
    and then by length: the lecture's "bag of n-grams" (``n=2``: "The", "The cat", "cat",
    "cat sat", ...). Tokens are words (``join=" "``) or characters (``join=""``)."""
    _check_positive("n", n)
    seen: dict[str, None] = {}
    for start in range(len(tokens)):
        for length in range(1, min(n, len(tokens) - start) + 1):
            seen.setdefault(join.join(tokens[start : start + length]))
    return list(seen)


def bag_of_ngrams(
    samples: Sequence[str],
    n: int = 2,
    *,
    level: str = "word",
    filters: str = "",
    lower: bool = False,
) -> tuple[np.ndarray, dict[str, int]]:
    """Multi-hot bags of word or character n-grams (1 to ``n`` tokens long).

    The n-gram index is built from ``samples`` in order of first appearance, starting at 1
    (index 0 is reserved and never set); words are split as in ``one_hot_words``.

    Returns:
      ``(bags <float32>[samples, max_index + 1], ngram_index)``; ``bags[i, k] = 1`` when
      n-gram ``k`` occurs in sample ``i``.
    """
    if level not in ("word", "char"):
        raise ValueError(f"level must be 'word' or 'char', got {level!r}")
    _check_text_list(samples, "samples")
    if level == "word":
        grams = [ngrams(text_to_word_sequence(s, filters, lower), n) for s in samples]
    else:
        grams = [ngrams(list(s.lower() if lower else s), n, join="") for s in samples]
    index: dict[str, int] = {}
    for sample in grams:
        for gram in sample:
            index.setdefault(gram, len(index) + 1)
    bags = np.zeros((len(samples), len(index) + 1), np.float32)
    for i, sample in enumerate(grams):
        bags[i, [index[g] for g in sample]] = 1.0
    return bags, index


# --------------------------------------------------------------------------- hashing

_FNV32_OFFSET = 0x811C9DC5
_FNV32_PRIME = 0x01000193


def stable_hash(word: str) -> int:
    """32-bit FNV-1a of the UTF-8 bytes of ``word``: the same in every process (Python's
    own ``hash`` of a str is salted per process, so buckets would change between runs)."""
    h = _FNV32_OFFSET
    for byte in word.encode("utf-8"):
        h = ((h ^ byte) * _FNV32_PRIME) & 0xFFFFFFFF
    return h


@dataclass(frozen=True)
class HashedOneHot:
    """Result of ``one_hot_hashing``.

    Attributes:
      encoded: ``<float32>[samples, max_length, dimensionality]``.
      collisions: how many distinct words share their bucket with another distinct word
        (e.g. 3 words in one bucket and 2 in another: 5); 0 means no information lost.
      buckets: word -> bucket, for every distinct word seen.
    """

    encoded: np.ndarray
    collisions: int
    buckets: dict[str, int]


def one_hot_hashing(
    samples: Sequence[str],
    dimensionality: int = 1000,
    max_length: int = 10,
    *,
    filters: str = "",
    lower: bool = False,
) -> HashedOneHot:
    """The one-hot hashing trick (lecture, third example): word ``w`` goes to bucket
    ``stable_hash(w) % dimensionality``, no index is kept. Words are split as in
    ``one_hot_words``; only the first ``max_length`` words of a sample are encoded, but
    collisions are counted over all distinct words."""
    _check_positive("dimensionality", dimensionality)
    _check_positive("max_length", max_length)
    tokenized = [text_to_word_sequence(s, filters, lower) for s in samples]
    buckets = {w: stable_hash(w) % dimensionality for words in tokenized for w in words}
    per_bucket = Counter(buckets.values())
    collisions = sum(n for n in per_bucket.values() if n > 1)
    codes = [[buckets[w] for w in words[:max_length]] for words in tokenized]
    return HashedOneHot(_one_hot(codes, max_length, dimensionality), collisions, buckets)


# --------------------------------------------------------------------------- Tokenizer


def _check_text_list(texts: object, name: str) -> None:
    """A lone string would be read as a list of one-character texts."""
    if isinstance(texts, str | bytes):
        raise TypeError(
            f"{name} must be a list of texts, got one {type(texts).__name__} "
            f"{texts[:40]!r}; expected [text] for a single text"
        )


class Tokenizer:
    """``keras.preprocessing.text.Tokenizer``.

    Args:
      num_words: keep only words of index < ``num_words`` (the ``num_words - 1`` most
        frequent) in sequences and matrices; None keeps all. The index itself always
        holds every word seen.
      filters: characters removed (turned into ``split``) before splitting.
      lower: lower-case the texts first.
      split: the word separator.
      char_level: every character is a token (``filters`` are then not applied, as in
        Keras).
      oov_token: if given, it takes index 1 (words shift up by one) and replaces
        out-of-vocabulary and over-the-limit words in sequences; otherwise those are
        dropped.

    Attributes (after ``fit_on_texts``):
      word_counts: word -> number of occurrences, in order of first appearance.
      word_docs: word -> number of texts it occurs in (first-appearance order).
      word_index: word -> index, 1 = most frequent; ties keep first-appearance order.
      index_word: the inverse of ``word_index``.
      index_docs: index -> number of texts the word occurs in.
      document_count: number of texts fitted on.

    One deviation from Keras: if ``oov_token`` also occurs as a word in the texts it
    keeps index 1 (Keras would move it and leave index 1 unused).
    """

    def __init__(
        self,
        num_words: int | None = None,
        filters: str = KERAS_FILTERS,
        lower: bool = True,
        split: str = " ",
        char_level: bool = False,
        oov_token: str | None = None,
    ):
        num_words = argument("num_words", num_words, int, minimum=1, optional=True)
        for name, value in (("lower", lower), ("char_level", char_level)):
            argument(name, value, bool)
        for name, value in (("filters", filters), ("split", split)):
            argument(name, value, str)
        argument("oov_token", oov_token, str, optional=True)
        if not char_level and not split:
            raise ValueError("split must be a non-empty separator (or use char_level=True)")
        self.num_words = None if num_words is None else int(num_words)
        self.filters = filters
        self.lower = lower
        self.split = split
        self.char_level = char_level
        self.oov_token = oov_token
        self.document_count = 0
        self.word_counts: dict[str, int] = {}
        self.word_docs: dict[str, int] = {}
        self.word_index: dict[str, int] = {}
        self.index_word: dict[int, str] = {}
        self.index_docs: dict[int, int] = {}

    # -- tokens

    def tokens(self, text: str | Sequence[str]) -> list[str]:
        """The tokens of one text; a list of strings counts as already tokenized (only
        lower-cased), as in Keras."""
        if isinstance(text, list | tuple):
            if not all(isinstance(t, str) for t in text):
                raise TypeError(f"a tokenized text must be a list of strings, got {text!r:.60}")
            return [t.lower() for t in text] if self.lower else list(text)
        if not isinstance(text, str):
            raise TypeError(
                f"texts must be strings (or lists of tokens), got "
                f"{type(text).__name__} {text!r:.60}"
            )
        if self.char_level:
            return list(text.lower() if self.lower else text)
        return text_to_word_sequence(text, self.filters, self.lower, self.split)

    # -- fitting

    def fit_on_texts(self, texts: Iterable[str | Sequence[str]]) -> Tokenizer:
        """Counts words and (re)builds the index; repeated calls accumulate, as Keras."""
        _check_text_list(texts, "texts")
        counts = Counter(self.word_counts)  # a Counter keeps insertion (first-seen) order
        docs = Counter(self.word_docs)
        for text in texts:
            tokens = self.tokens(text)
            self.document_count += 1
            counts.update(tokens)
            # The text's distinct words in first-seen order (a set's order would depend on
            # the process's hash salt); an iterator, not a dict, so Counter counts in C.
            docs.update(iter(dict.fromkeys(tokens)))
        self.word_counts = dict(counts)
        self.word_docs = dict(docs)
        # sorted is stable: equal counts keep first-appearance order.
        ranked = sorted(self.word_counts, key=self.word_counts.__getitem__, reverse=True)
        if self.oov_token is not None:
            ranked = [self.oov_token] + [w for w in ranked if w != self.oov_token]
        self.word_index = {w: i for i, w in enumerate(ranked, start=1)}
        self.index_word = {i: w for w, i in self.word_index.items()}
        self.index_docs = {self.word_index[w]: n for w, n in self.word_docs.items()}
        return self

    def fit_on_sequences(self, sequences: Iterable[Sequence[int]]) -> Tokenizer:
        """Document frequencies from index sequences (needed for tfidf without texts)."""
        docs = Counter(self.index_docs)
        for seq in sequences:
            self.document_count += 1
            docs.update(iter(dict.fromkeys(int(i) for i in seq)))
        self.index_docs = dict(docs)
        return self

    # -- texts <-> sequences

    def _oov_index(self) -> int | None:
        return None if self.oov_token is None else self.word_index.get(self.oov_token)

    def texts_to_sequences(self, texts: Iterable[str | Sequence[str]]) -> list[list[int]]:
        """Each text as a list of word indices: only indices < ``num_words`` are kept;
        with ``oov_token``, unknown and over-the-limit words become its index (1)."""
        _check_text_list(texts, "texts")
        if not self.word_index:
            raise ValueError(
                "this Tokenizer has no word index yet (every text would come "
                "out empty); expected fit_on_texts(texts) first"
            )
        oov = self._oov_index()
        limit = self.num_words
        # One lookup table with the num_words cut-off and the oov rule already applied,
        # so each word costs one dict lookup.
        if limit:
            table = {w: i for w, i in self.word_index.items() if i < limit}
        else:
            table = self.word_index
        get = table.get
        if oov is not None:
            return [list(map(get, self.tokens(t), repeat(oov))) for t in texts]
        # filter(None, ...) drops the misses in C (no word has index 0).
        return [list(filter(None, map(get, self.tokens(t)))) for t in texts]

    def sequences_to_texts(self, sequences: Iterable[Sequence[int]]) -> list[str]:
        """Index sequences back to space-joined texts, with the same ``num_words`` and
        ``oov_token`` rules (unknown indices are dropped without ``oov_token``)."""
        oov = self._oov_index()
        oov_word = None if oov is None else self.index_word[oov]
        limit = self.num_words
        texts = []
        for seq in sequences:
            words = []
            for i in seq:
                i = int(i)
                word = self.index_word.get(i)
                if word is not None and not (limit and i >= limit):
                    words.append(word)
                elif oov_word is not None:
                    words.append(oov_word)
            texts.append(" ".join(words))
        return texts

    # -- matrices

    def texts_to_matrix(
        self,
        texts: Sequence[str | Sequence[str]],
        mode: str = "binary",
        dtype: str | np.dtype = "float64",
    ) -> np.ndarray:
        """``sequences_to_matrix(texts_to_sequences(texts), mode)``."""
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode, dtype)

    def _matrix_width(self, mode: str, rows: int, dtype: np.dtype) -> int:
        """The width of ``sequences_to_matrix``'s matrix, after checking the mode, that
        the Tokenizer knows what it needs, and that ``rows`` rows fit in memory."""
        if mode not in MATRIX_MODES:
            raise ValueError(f"mode must be one of {MATRIX_MODES}, got {mode!r}")
        if self.num_words:
            width = self.num_words
        elif self.word_index:
            width = len(self.word_index) + 1
        else:
            raise ValueError(
                "sequences_to_matrix needs a width: pass num_words to the "
                "Tokenizer or fit it on texts first"
            )
        if mode == "tfidf" and not self.document_count:
            raise ValueError(
                "tfidf mode needs document frequencies: fit the Tokenizer on "
                "texts (or sequences) first"
            )
        check_fits(
            f"{rows} sequences as a matrix of width {width}",
            rows * width * dtype.itemsize,
            "a smaller num_words",
            dtype=dtype,
        )
        return width

    def sequences_to_matrix(
        self,
        sequences: Sequence[Sequence[int]],
        mode: str = "binary",
        dtype: str | np.dtype = "float64",
    ) -> np.ndarray:
        """One row per sequence, one column per index (width ``num_words``, or
        ``len(word_index) + 1`` without it); column 0 is never set.

        Modes, for a word of index ``j`` occurring ``c`` times in a sequence of length
        ``n`` (``n`` counts every element, as Keras):
          binary: 1; count: ``c``; freq: ``c / n``;
          tfidf: ``(1 + log c) * log(1 + document_count / (1 + docs_j))`` with ``docs_j``
          the number of fitted texts holding the word.

        Returns:
          ``<dtype>[len(sequences), width]``; a matrix past half the free memory is
          refused first (one ValueError, ``rnn_attn.memory.check_fits``).
        """
        width = self._matrix_width(mode, len(sequences), np.dtype(dtype))
        out = np.zeros((len(sequences), width), dtype)
        lengths = np.fromiter((len(s) for s in sequences), np.int64, count=len(sequences))
        if not lengths.sum():
            return out
        flat = np.concatenate([np.asarray(s, np.int64).ravel() for s in sequences if len(s)])
        rows = np.repeat(np.arange(len(sequences)), lengths)
        keep = (flat > 0) & (flat < width)
        # Each (row, index) pair once, with its count.
        keys, counts = np.unique(rows[keep] * width + flat[keep], return_counts=True)
        r, j = np.divmod(keys, width)
        if mode == "binary":
            values = np.ones(len(keys))
        elif mode == "count":
            values = counts.astype(np.float64)
        elif mode == "freq":
            values = counts / lengths[r]
        else:
            docs = np.zeros(width)
            for i, n in self.index_docs.items():
                if 0 <= i < width:
                    docs[i] = n
            values = (1.0 + np.log(counts)) * np.log(1.0 + self.document_count / (1.0 + docs[j]))
        out[r, j] = values
        return out


def _check_positive(name: str, value: int) -> None:
    if not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


__all__ = [
    "KERAS_FILTERS",
    "MATRIX_MODES",
    "PRINTABLE_ASCII",
    "HashedOneHot",
    "Tokenizer",
    "bag_of_ngrams",
    "ngrams",
    "one_hot_chars",
    "one_hot_hashing",
    "one_hot_words",
    "stable_hash",
    "text_to_word_sequence",
]
