"""Process-level settings that must be in place before JAX starts.

XLA's CPU runtime allocates a step's large intermediates (tens of MB each) with glibc's
malloc, above its mmap threshold: every step then maps fresh memory and pays for it in
page faults (measured on the BiLSTM of document 000: ~59,000 faults and ~40% of a train
step). ``glibc.malloc.hugetlb=1`` makes glibc back those blocks with transparent huge
pages (~750 faults per step). glibc reads its tunables only at process start, so the
experiment entry points re-execute themselves once with the variable set.
"""

from __future__ import annotations

import os
import sys

HUGE_PAGES = "glibc.malloc.hugetlb=1"
OPT_OUT = "RNN_ATTN_NO_REEXEC"


def reexec_with_huge_pages() -> None:
    """Re-executes this process (same interpreter and arguments) with
    ``GLIBC_TUNABLES`` including ``glibc.malloc.hugetlb=1``, unless it is already set, the
    platform is not Linux, or ``RNN_ATTN_NO_REEXEC`` is set. Call it first thing in a
    ``__main__`` block, before JAX is imported; never from library code."""
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if HUGE_PAGES in tunables or os.environ.get(OPT_OUT) or not sys.platform.startswith("linux"):
        return
    env = dict(os.environ, GLIBC_TUNABLES=":".join(filter(None, [tunables, HUGE_PAGES])))
    env[OPT_OUT] = "1"  # never loop, whatever glibc does with the variable
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, list(sys.orig_argv), env)
