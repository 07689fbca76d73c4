"""Pre-trained GloVe word vectors: the text format, and the embedding matrix of a word
index (reference document 002, "using pre-trained word embeddings").

The format: one word a line, ``word v1 ... vD``, separated by single spaces, UTF-8;
plain text or gzip'd (``.gz``). ``D`` is taken from the first line. A UTF-8 byte-order
mark is dropped (it would stick to the first word, the most frequent one, whose vector
would then be missing); a UTF-16 or UTF-32 file that starts with its mark is decoded as
such; a FIFO, device or directory at ``path`` is refused before it is opened.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from rnn_attn import memory
from rnn_attn.data.numbers import PLAIN_EXPECTED, is_plain
from rnn_attn.data.paths import checked_lines, encoding_name, nul_note, open_text

HINT = " (expected the GloVe text format, e.g. glove.6B.100d.txt or a .gz of it)"


def _lines(path: str) -> Iterator[str]:
    encoding = "utf-8"
    try:
        with open_text(path, "GloVe file", HINT, compressed=path.endswith(".gz")) as f:
            encoding = f.encoding
            yield from checked_lines(f, f"GloVe file {path!r}")
    except UnicodeDecodeError as e:
        raise ValueError(
            f"GloVe file {path!r} is not {encoding_name(encoding)} text: {e}{nul_note(e)}"
        ) from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise ValueError(f"GloVe file {path!r} is not a readable gzip file: {e}") from None


def read_glove(
    path: str,
    words: Collection[str] | None = None,
    dtype: str | np.dtype = "float32",
) -> dict[str, np.ndarray]:
    """Reads GloVe vectors.

    Args:
      path: a ``.txt`` file, or a ``.gz`` one (read through gzip).
      words: if given, only these words are kept (the rest of the file is checked for
        its number of values but not parsed, which saves memory and time).
      dtype: of the vectors.

    Returns:
      word -> ``<dtype>[dim]`` (rows of one ``[words, dim]`` array), in file order; a
      word listed twice keeps the vector of its LAST line (at the place of its first),
      as Keras's GloVe example, which fills a dict line by line
      (``embeddings_index[word] = coefs``).

    Raises:
      FileNotFoundError: no file at ``path``.
      ValueError: not a regular file (a FIFO, a device, a directory); bytes that are
        not text, or a NUL character (UTF-16 without its byte-order mark: line number);
        an empty file, a line with no values, a line with a different number of values
        than the first (line number, word, expected and found counts), or a value that
        is not a finite number of ``dtype`` or is not written plainly (``1_0``, which
        numpy reads as 10, or another script's digits: ``rnn_attn.data.numbers``) (line
        number, word, value, its position).
    """
    wanted = None if words is None else frozenset(words)
    dim = None
    kept_words: list[str] = []
    kept_values: list[list[str]] = []
    kept_lines: list[int] = []
    all_plain = True
    for number, line in enumerate(_lines(path), start=1):
        text = line.rstrip("\r\n ")
        fields = text.split(" ")
        if fields == [""]:
            continue  # blank line
        dim = _checked_width(fields, dim, number, dtype, path)
        if wanted is not None and fields[0] not in wanted:
            continue
        kept_words.append(fields[0])
        kept_values.append(fields[1:])
        kept_lines.append(number)
        all_plain = all_plain and is_plain(text, len(fields[0]))
    if dim is None:
        raise ValueError(f"GloVe file {path!r} is empty (no 'word v1 ... vD' lines)")
    matrix = _parse(kept_values, kept_words, kept_lines, dim, dtype, path, all_plain)
    return dict(zip(kept_words, matrix, strict=True))  # a repeated word: its last row


def _checked_width(fields: list[str], dim: int | None, number: int, dtype, path: str) -> int:
    """The vectors' width: the first line's (which is parsed whatever ``words`` keeps, so
    a file in another format is named here, not taken for one without the words
    wanted); every later line must have as many values (ValueError naming the line)."""
    if dim is None:
        if len(fields) < 2:
            raise ValueError(
                f"{path!r} line {number}: the word {fields[0]!r} has no "
                f"values (expected 'word v1 ... vD')"
            )
        plain = all(map(is_plain, fields[1:]))
        _parse([fields[1:]], fields[:1], [number], len(fields) - 1, dtype, path, plain)
        return len(fields) - 1
    if len(fields) - 1 != dim:
        raise ValueError(
            f"{path!r} line {number}: the word {fields[0]!r} has "
            f"{len(fields) - 1} values, expected {dim} (the dimension of "
            f"the first line)"
        )
    return dim


def _parse(
    values: list[list[str]],
    words: list[str],
    lines: list[int],
    dim: int,
    dtype: str | np.dtype,
    path: str,
    plain: bool,
) -> np.ndarray:
    """``<dtype>[len(values), dim]``; numpy parses all the strings in one call. ``plain``:
    every value is written plainly (``is_plain``), as the readers checked line by line."""
    try:
        with np.errstate(over="ignore"):  # an overflow is named below
            matrix = np.array(values, dtype=dtype).reshape(len(values), dim)
    except ValueError:
        matrix = None
    if matrix is not None and plain and np.isfinite(matrix).all():
        return matrix
    # Only on failure: find the first bad value to name it.
    for row, word, number in zip(values, words, lines, strict=True):
        for j, v in enumerate(row, start=1):
            try:
                number_ok = np.isfinite(float(v))
            except ValueError:
                number_ok = False
            if not number_ok:
                raise ValueError(
                    f"{path!r} line {number}: the word {word!r} has the value "
                    f"{v!r}, expected a finite number (value {j} of {dim})"
                )
            if not is_plain(v):
                raise ValueError(
                    f"{path!r} line {number}: the word {word!r} has the value {v!r}, not a "
                    f"plain decimal number; expected {PLAIN_EXPECTED} (value {j} of {dim})"
                )
            with np.errstate(over="ignore"):
                fits = np.isfinite(np.asarray(float(v), dtype))
            if not fits:
                raise ValueError(
                    f"{path!r} line {number}: the word {word!r} has the value "
                    f"{v!r}, which overflows {np.dtype(dtype).name}; expected "
                    f"a finite {np.dtype(dtype).name} value (value {j} of {dim})"
                )
    raise ValueError(
        f"{path!r}: numpy could not parse the vectors as {np.dtype(dtype).name}, "
        f"though each value parses; expected a numeric dtype"
    )


@dataclass(frozen=True)
class EmbeddingMatrix:
    """Result of ``embedding_matrix``.

    Attributes:
      matrix: ``<float32>[num_words, dim]``; row ``i`` is the vector of the word of index
        ``i``, zero for index 0 and for words without a vector.
      found: how many words of index ``1 .. num_words - 1`` have a vector.
      missing: those words without one, by index.
    """

    matrix: np.ndarray
    found: int
    missing: tuple[str, ...]


def embedding_matrix(
    vectors: Mapping[str, np.ndarray],
    word_index: Mapping[str, int],
    num_words: int,
    dim: int | None = None,
) -> EmbeddingMatrix:
    """The weights of an ``Embedding(num_words, dim)`` layer from pre-trained vectors, as
    the lecture builds them: row ``i`` = vector of the word whose index is ``i``, for
    ``i < num_words``; words of larger index are left out; rows without a vector stay 0.

    Args:
      vectors: word -> ``[dim]`` (``read_glove``).
      word_index: word -> index >= 1 (``Tokenizer.word_index``).
      num_words: rows of the matrix (``Tokenizer(num_words=...)``).
      dim: the vectors' dimension; None takes it from ``vectors``.

    A matrix past half the free memory is refused first (one ValueError,
    ``rnn_attn.memory.check_fits``).
    """
    if not isinstance(num_words, int | np.integer) or num_words < 1:
        raise ValueError(f"num_words must be an integer >= 1, got {num_words!r}")
    if dim is None:
        if not vectors:
            raise ValueError("dim must be given when there are no vectors to take it from")
        dim = len(next(iter(vectors.values())))
    memory.check_fits(
        f"{num_words} embedding rows of dim {dim}",
        num_words * dim * 4,
        "a smaller num_words",
        dtype="float32",
    )
    out = np.zeros((num_words, dim), np.float32)
    missing = {}
    for word, i in word_index.items():
        if not 0 < i < num_words:
            continue
        vector = vectors.get(word)
        if vector is None:
            missing[i] = word
            continue
        if len(vector) != dim:
            raise ValueError(f"the vector of {word!r} has {len(vector)} values, expected dim={dim}")
        out[i] = vector
    found = sum(1 for i in word_index.values() if 0 < i < num_words) - len(missing)
    return EmbeddingMatrix(out, found, tuple(missing[i] for i in sorted(missing)))
