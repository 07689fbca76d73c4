"""The sizes of the small runs several tests make of one experiment: tests that run a
model at the same sizes load each other's compiled programs from the suite's compilation
cache (tests/conftest.py) instead of compiling them again."""

# A book of one repeated sentence between Gutenberg's markers, and a character model on
# it: 2 seeds, 8 units, 20 generated characters per iteration, 60 at the end.
BOOK_BODY = " ".join(["alice was beginning to get very tired of sitting by her sister"] * 40)
CHAR_ARGS = ["--units", "8", "--seeds", "2", "--preds-per-iteration", "20", "--eval-chars", "60"]


def write_book(path, *, licence: bool = False) -> str:
    """The book at ``path`` (with text after the end marker, ``licence``); its path."""
    tail = "licence\n" if licence else ""
    path.write_text(f"header\nCHAPTER I. Down\n{BOOK_BODY}\nTHE END\n{tail}")
    return str(path)
