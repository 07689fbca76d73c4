"""Where the data files are (nothing is downloaded at run time), and how every reader
opens them.

* Kinds: a data path must be a regular file (or a directory where a tree is expected)
  after following symbolic links, checked before it is opened (``require_file``,
  ``require_dir``): a FIFO, socket or device among the data would block a reader
  forever, or never end. ``open_binary`` checks again on the opened descriptor (opened
  without blocking), so a path swapped for a FIFO in between is refused too.
* Text: UTF-8, with or without a byte-order mark (the mark is dropped, so it never sticks
  to the first word or column); UTF-16 and UTF-32 files that start with their mark are
  decoded as such. Anything else must be UTF-8; a NUL character (UTF-16 without a mark,
  or a binary file) is refused with the line or character where it is.
"""

from __future__ import annotations

import codecs
import contextlib
import gzip
import io
import os
import stat
from collections.abc import Iterable, Iterator
from typing import BinaryIO, TextIO

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def default_data_dir() -> str:
    """``$RNN_ATTN_DATA``, else ``../shared/data`` beside the repository."""
    return os.environ.get("RNN_ATTN_DATA", os.path.join(REPOSITORY, "..", "shared", "data"))


# -- kinds of path -------------------------------------------------------------------------------

_KINDS = (
    (stat.S_ISREG, "a regular file"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def kind_of(mode: int) -> str:
    """``"a regular file"``, ``"a directory"``, ``"a FIFO (named pipe)"``, ... of a
    ``st_mode``."""
    return next((name for test, name in _KINDS if test(mode)), "a special file")


def _link_note(path: str) -> str:
    """`` (a symbolic link to '...')`` when ``path`` is one, else nothing."""
    return f" (a symbolic link to {os.path.realpath(path)!r})" if os.path.islink(path) else ""


def _mode(path: str, what: str, hint: str) -> int:
    """``st_mode`` of ``path`` after following symbolic links (stat only: never blocks)."""
    try:
        return os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(f"{what} not found: {path!r}{_link_note(path)}{hint}") from None
    except OSError as e:  # permissions, a loop of links, a name too long
        raise ValueError(f"{what} {path!r} cannot be read ({e.strerror}){hint}") from None


def _wrong_kind(path: str, what: str, hint: str, mode: int, wanted: str) -> ValueError:
    kind = kind_of(mode)
    problem = f"is {kind}" if kind == "a directory" else f"is {kind}, not {wanted}"
    return ValueError(f"{what} {problem}: {path!r}{_link_note(path)}{hint}")


def require_file(path: str, what: str, hint: str = "") -> str:
    """``path`` if it is a regular file after following symbolic links.

    Raises ``FileNotFoundError`` (nothing there, or a link to nothing) or ``ValueError``
    (a directory, FIFO, socket or device; unreadable), the message
    ``f"{what} <problem>: {path!r}{hint}"`` (``hint``: e.g. ``"; expected the CSV
    file"``)."""
    mode = _mode(path, what, hint)
    if not stat.S_ISREG(mode):
        raise _wrong_kind(path, what, hint, mode, "a regular file")
    return path


def require_dir(path: str, what: str, hint: str = "") -> str:
    """``path`` if it is a directory after following symbolic links; else as
    ``require_file``."""
    mode = _mode(path, what, hint)
    if not stat.S_ISDIR(mode):
        kind = kind_of(mode)
        raise ValueError(f"{what} is {kind}, not a directory: {path!r}{_link_note(path)}{hint}")
    return path


def open_binary(path: str, what: str, hint: str = "") -> BinaryIO:
    """``path`` opened for reading bytes, once ``require_file`` passes; opened without
    blocking and checked again on the descriptor (a path replaced by a FIFO between the
    check and the open is refused, not waited on)."""
    require_file(path, what, hint)
    nonblock = getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, os.O_RDONLY | nonblock | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise ValueError(f"{what} {path!r} cannot be read ({e.strerror}){hint}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _wrong_kind(path, what, hint, mode, "a regular file")
        if nonblock:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


# -- text ----------------------------------------------------------------------------------------

# Longest first: UTF-32-LE's mark begins with UTF-16-LE's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "utf-16": "UTF-16", "utf-32": "UTF-32"}
NUL_HINT = (
    "UTF-16 or UTF-32 text without a byte-order mark, or not text; expected UTF-8 text "
    "(a UTF-16/32 file must start with its byte-order mark)"
)


def encoding_of(head: bytes) -> str:
    """The codec for text whose first bytes are ``head``: by its byte-order mark (the
    codecs named drop it), else ``"utf-8"``."""
    return next((codec for bom, codec in _BOMS if head.startswith(bom)), "utf-8")


def encoding_name(codec: str) -> str:
    """``"UTF-8"``, ``"UTF-16"`` or ``"UTF-32"`` of a codec ``encoding_of`` chose."""
    return _NAMES.get(codec.lower(), codec)


def nul_note(error: UnicodeDecodeError) -> str:
    """For the message of a UTF-8 decoding error: the likely cause when the bytes hold a
    NUL (UTF-16 or UTF-32 without its byte-order mark), else nothing."""
    return f"; the bytes hold NULs: {NUL_HINT}" if b"\0" in error.object else ""


def decode_text(blob: bytes, name: str) -> str:
    """``blob`` decoded by its byte-order mark (UTF-8 without one); ``ValueError`` naming
    ``name`` (e.g. ``"review 'x.txt' in 'a.tar.xz'"``) for bytes that are not text of
    that encoding or a NUL character."""
    codec = encoding_of(blob[:4])
    try:
        text = blob.decode(codec)
    except UnicodeDecodeError as e:
        raise ValueError(
            f"{name} is not {encoding_name(codec)} text ({e.reason} at byte {e.start}){nul_note(e)}"
        ) from None
    nul = text.find("\0")
    if nul >= 0:
        raise ValueError(f"{name} holds a NUL character (character {nul}): {NUL_HINT}")
    return text


def checked_lines(lines: Iterable[str], name: str) -> Iterator[str]:
    """``lines`` as they are; ``ValueError`` naming ``name`` and the line of the first NUL
    character."""
    for number, line in enumerate(lines, start=1):
        if "\0" in line:
            raise ValueError(f"{name} line {number} holds a NUL character: {NUL_HINT}")
        yield line


@contextlib.contextmanager
def open_text(
    path: str,
    what: str,
    hint: str = "",
    *,
    compressed: bool = False,
    errors: str = "strict",
    newline: str | None = None,
) -> Iterator[TextIO]:
    """``path`` (checked as ``open_binary``; gunzipped when ``compressed``) as text,
    decoded by its byte-order mark (UTF-8 without one); the stream's ``encoding`` is the
    codec chosen (``encoding_name`` names it)."""
    with open_binary(path, what, hint) as raw:
        stream: BinaryIO = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
        head = stream.read(4)
        stream.seek(0)
        text = io.TextIOWrapper(stream, encoding=encoding_of(head), errors=errors, newline=newline)
        try:
            yield text
        finally:
            text.detach()
            if compressed:
                stream.close()
