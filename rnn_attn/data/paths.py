"""Where the data files are: nothing is downloaded at run time."""

from __future__ import annotations

import os

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def default_data_dir() -> str:
    """``$RNN_ATTN_DATA``, else ``../shared/data`` beside the repository."""
    return os.environ.get("RNN_ATTN_DATA", os.path.join(REPOSITORY, "..", "shared", "data"))
