"""How a number in a data file must be written: plainly, as a CSV reader (pandas) reads
one: ASCII digits with an optional sign, decimal point and exponent, and ASCII blanks
around it.

Python's ``float`` (and numpy's string parser, which calls it) takes more: underscores
between digits (``1_000`` is 1000, ``1e1_0`` is 1e10), digits of other scripts
(``١٢`` is 12, full-width ``１２`` too) and non-ASCII spaces around the number. A CSV
reader keeps such a cell as text, so a file holding one is damaged or in another
format: the readers (``weather``, ``glove``) refuse it, naming the line, after checking
that every value parses as a finite number (so ``nan`` keeps its own message).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

# Every character a plainly written number may hold (the parser checks the order).
PLAIN_CHARS = "0123456789.+-eE \t"
_NOT_PLAIN = re.compile(f"[^{re.escape(PLAIN_CHARS)}]")
PLAIN_EXPECTED = (
    "digits with an optional sign, point and exponent: no '_', no other script's digit or space"
)


def is_plain(text: str, start: int = 0) -> bool:
    """Whether ``text[start:]`` holds only the characters of a plainly written number
    (or several, separated by blanks); with ``start``, nothing is copied."""
    return _NOT_PLAIN.search(text, start) is None


def may_hold_unplain(rows: Iterable[Sequence[str]]) -> bool:
    """Whether a cell of ``rows`` may be a number ``float`` reads that is not written
    plainly: whether their text holds a non-ASCII character, an underscore, or a blank
    other than space and tab that ``float`` strips (a line feed, carriage return,
    vertical tab or form feed). One pass at C speed over the text (0.05 to 0.2 s for
    Jena's 420,000 rows), so the readers run ``plain_cells`` only where it may refuse."""
    text = "".join(map("".join, rows))
    return not text.isascii() or any(c in text for c in "_\n\r\x0b\x0c")


def plain_cells(cells: np.ndarray) -> np.ndarray:
    """``<bool>[n]``: ``is_plain`` of each string of ``cells`` (a 1-D numpy ``str``
    array) whose value Python's ``float`` reads as finite (the readers check that first),
    for all of them at once. Such a string holds plain characters and, beyond them, only
    those ``may_hold_unplain`` looks for, so only those are looked for."""
    cells = np.ascontiguousarray(cells)
    codes = cells.view(np.uint32).reshape(len(cells), cells.dtype.itemsize // 4)
    odd = (codes == ord("_")) | (codes > 126) | ((codes - 10) <= 3)  # 10..13: LF VT FF CR
    return ~odd.any(axis=1)
