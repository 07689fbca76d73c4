"""Character-level text data: a book's body, a character vocabulary, and training windows.

Follows reference document 003: the text is read line by line, each line stripped and
lower-cased, empty lines dropped, the rest joined with single spaces (non-ASCII bytes
ignored); windows of ``seqlen`` characters, moved by ``step``, each labelled with the
character that follows it.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from rnn_attn.data.paths import checked_lines, open_text

BODY_START = "CHAPTER I."
BODY_END = "THE END"


def read_book_body(path: str, start: str = BODY_START, end: str = BODY_END) -> str:
    """The text from the first line beginning with ``start`` through the line ``end``
    (a Project Gutenberg file without its header and licence).

    ``path`` must be a regular file (a FIFO or device is refused before it is opened). The
    text is UTF-8 (a byte-order mark is dropped; bytes that are not UTF-8 become U+FFFD,
    which ``normalize_text`` drops with the other non-ASCII characters), or UTF-16/32
    that starts with its byte-order mark; a NUL character is refused (UTF-16 without its
    mark would otherwise read as text with a NUL between letters)."""
    with open_text(path, "text file", "; expected the book's text file", errors="replace") as f:
        lines = list(checked_lines(f.read().splitlines(), f"text file {path!r}"))
    if not any(line.strip() for line in lines):
        raise ValueError(
            f"text file {path!r} is empty; expected the book's text (a Project "
            f"Gutenberg file with {start!r} ... {end!r})"
        )
    first = next((i for i, line in enumerate(lines) if line.strip().startswith(start)), None)
    if first is None:
        raise ValueError(
            f"{path!r} has no line starting with {start!r} (expected the book's "
            f"first chapter heading)"
        )
    last = next((i for i in range(first, len(lines)) if lines[i].strip() == end), None)
    if last is None:
        raise ValueError(f"{path!r} has no line {end!r} after {start!r}")
    return "\n".join(lines[first : last + 1])


def normalize_text(text: str) -> str:
    """Document 003's normalization: strip and lower-case each line, drop empty lines and
    non-ASCII characters, join with single spaces."""
    lines = (line.strip().lower().encode("ascii", "ignore").decode() for line in text.splitlines())
    return " ".join(line for line in lines if line)


@dataclasses.dataclass(frozen=True)
class CharVocab:
    """Characters sorted by code point; index ``i`` is ``chars[i]``."""

    chars: str

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__} {text!r:.40}")
        if not text:
            raise ValueError("cannot build a character vocabulary from empty text")
        return cls("".join(sorted(set(text))))

    @property
    def size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """``<int32>[len(text)]``; a character outside the vocabulary is an error."""
        lookup = np.full(max(map(ord, self.chars)) + 1, -1, np.int32)
        lookup[[ord(c) for c in self.chars]] = np.arange(self.size, dtype=np.int32)
        codes = np.frombuffer(text.encode("utf-32-le"), np.uint32)
        ids = np.where(codes < lookup.size, lookup[np.minimum(codes, lookup.size - 1)], -1)
        if (ids < 0).any():
            bad = sorted({text[i] for i in np.flatnonzero(ids < 0)[:20]})
            raise ValueError(f"characters {bad!r} are not in the vocabulary")
        return ids.astype(np.int32)

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in np.asarray(ids).ravel())


def windows(ids: np.ndarray, seqlen: int, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Every ``seqlen``-long window starting at ``0, step, 2*step, ...`` and its next
    character: ``(inputs <int32>[n, seqlen], targets <int32>[n])``."""
    if not isinstance(seqlen, int) or seqlen < 1:
        raise ValueError(f"seqlen must be an integer >= 1, got {seqlen!r}")
    if not isinstance(step, int) or step < 1:
        raise ValueError(f"step must be an integer >= 1, got {step!r}")
    if len(ids) <= seqlen:
        raise ValueError(
            f"text of {len(ids)} characters is too short for windows of {seqlen} plus a target"
        )
    starts = np.arange(0, len(ids) - seqlen, step)
    inputs = ids[starts[:, None] + np.arange(seqlen)[None, :]]
    return inputs.astype(np.int32), ids[starts + seqlen].astype(np.int32)


def split_text(text: str, held_out_fraction: float) -> tuple[str, str]:
    """The first part for training, the last ``held_out_fraction`` held out (cut at a
    space, so no word is split across the two)."""
    if not 0.0 <= held_out_fraction < 1.0:
        raise ValueError(f"held_out_fraction must be in [0, 1), got {held_out_fraction}")
    if held_out_fraction == 0.0:
        return text, ""
    cut = int(len(text) * (1.0 - held_out_fraction))
    space = text.rfind(" ", 0, cut)
    cut = space if space > 0 else cut
    return text[:cut], text[cut:]


WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")


def vocabulary_words(text: str) -> set[str]:
    """The set of words (letters, inner apostrophes) in ``text``, lower-cased."""
    return set(WORD.findall(text.lower()))


def real_word_fraction(generated: str, vocabulary: set[str]) -> tuple[float, int]:
    """Of the space-separated tokens of ``generated`` that contain a letter, the fraction
    whose letters form a word of ``vocabulary`` (surrounding punctuation ignored); and
    how many tokens were scored. The first and last tokens are left out: they may be cut
    off by the window the text came from."""
    tokens = generated.split()[1:-1]
    scored = [WORD.search(t.lower()) for t in tokens]
    words = [m.group(0) for m in scored if m]
    if not words:
        return 0.0, 0
    return sum(w in vocabulary for w in words) / len(words), len(words)


@dataclasses.dataclass(frozen=True)
class Corpus:
    """A book cut for a character model: ``train`` and ``held_out`` windows
    (``{"inputs" <int>[n, seqlen], "targets" <int>[n]}``), the vocabulary, the book's
    words (to score generated text) and the training text."""

    vocab: CharVocab
    train: dict[str, np.ndarray]
    held_out: dict[str, np.ndarray]
    words: frozenset[str]
    train_text: str


def load_corpus(path: str, *, held_out: float, seqlen: int, step: int = 1) -> Corpus:
    """The book at ``path`` (its body, normalized), its last ``held_out`` fraction held
    out; training windows every ``step`` characters, held-out windows at every one."""
    text = normalize_text(read_book_body(path))
    train_text, held_text = split_text(text, held_out)
    vocab = CharVocab.from_text(text)
    x, y = windows(vocab.encode(train_text), seqlen, step)
    hx, hy = windows(vocab.encode(held_text), seqlen, 1)
    return Corpus(
        vocab,
        {"inputs": x, "targets": y},
        {"inputs": hx, "targets": hy},
        frozenset(vocabulary_words(text)),
        train_text,
    )
