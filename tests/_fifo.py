"""FIFOs for the tests of the readers' path checks, which must fail, not hang, when a
reader waits on one.

A reader that opens a FIFO waits for a writer. ``Unblocker`` is the writer of last
resort: every ``period`` seconds it tries to open each FIFO's writing end without blocking
(which succeeds only while some reader has the FIFO open or is waiting in ``open``) and
closes it at once, so a waiting reader reads an empty file and goes on; it records that
it had to. A reader that checks the path first never opens it, and the tries fail
(``ENXIO``: no reader).
"""

from __future__ import annotations

import os
import threading


class Unblocker:
    """Frees readers waiting on ``fifos`` (see the module docstring); ``freed`` lists the
    FIFOs some reader waited on. Use as a context manager, or ``start`` for the life of
    the process (a daemon thread)."""

    def __init__(self, *fifos: str, period: float = 2.0):
        self.fifos = fifos
        self.period = period
        self.freed: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(self.period):
            for fifo in self.fifos:
                try:
                    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                except OSError:  # ENXIO: nobody reads it, as it should be
                    continue
                self.freed.append(fifo)
                os.close(fd)

    def start(self) -> Unblocker:
        self._thread.start()
        return self

    def __enter__(self) -> Unblocker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def make_fifo(path) -> str:
    """A FIFO (named pipe) at ``path``."""
    os.mkfifo(path)
    return str(path)
