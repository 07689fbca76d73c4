"""How much memory this machine has free: the figure the memory checks hold a run's
largest arrays against, before anything is allocated."""

from __future__ import annotations

import os


def host_free_bytes() -> int:
    """Bytes of physical memory available now (``SC_AVPHYS_PAGES``)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def gib(nbytes: float) -> str:
    """``nbytes`` in GiB, one decimal (``"3.2 GiB"``)."""
    return f"{nbytes / 2**30:.1f} GiB"
