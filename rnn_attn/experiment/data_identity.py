"""Which data a run read: a SHA-256 fingerprint of every data file, recorded and checked.

An experiment's ``build`` lists the files (or directories) it read in
``Setup.data_files``; the runner fingerprints them after ``build`` and before training
(``fingerprints``: ``{path: {"sha256", "bytes"}}``, a directory also ``"files"``),
records them in the work dir's ``data.json`` before the first checkpoint (so a run killed
before ``results.json`` still has them) and in ``results.json`` (``"fingerprints"``). A
``--resume`` whose files differ from those the interrupted run read is refused in one
line naming the file (``check_resume``), before anything is restored or overwritten.

Every file is hashed in full, streamed, each time a run starts: no size-and-modification-
time shortcut (a rewrite of the same size can restore the modification time), and a file
listed twice is hashed once.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from rnn_attn.data.paths import open_binary
from rnn_attn.errors import ConfigError
from rnn_attn.train.workdir import DATA_IDENTITY

CHUNK = 1 << 20


def _hash_file(path: str, digest) -> int:
    """Feeds ``path``'s bytes to ``digest``; returns how many there were. ``path`` must be
    a regular file after following links (a FIFO among a data dir's files, read by no
    loader, blocked the fingerprint forever): ConfigError naming it otherwise."""
    size = 0
    try:
        f = open_binary(path, "data file", "; expected only regular files in the data")
    except ValueError as e:
        raise ConfigError(str(e)) from None
    with f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return size


def fingerprint(path: str) -> dict[str, Any]:
    """``{"sha256", "bytes"}`` of a file's contents; of a directory, the digest of every
    file below it (relative name and bytes, in sorted order), their total bytes and
    ``"files"``, their number. ConfigError naming the path when it cannot be read."""
    try:
        digest = hashlib.sha256()
        if not os.path.isdir(path):
            size = _hash_file(path, digest)
            return {"sha256": digest.hexdigest(), "bytes": size}
        total = count = 0
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                digest.update(os.path.relpath(full, path).encode() + b"\0")
                total += _hash_file(full, digest)
                digest.update(b"\1")
                count += 1
        return {"sha256": digest.hexdigest(), "bytes": total, "files": count}
    except OSError as e:
        raise ConfigError(
            f"data file {path!r} cannot be read to fingerprint it ({e.strerror or e}); "
            f"expected a readable file or directory"
        ) from None


def fingerprints(paths: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Each path (made absolute) -> its ``fingerprint``, in the order given; a path listed
    twice is hashed once."""
    out: dict[str, dict[str, Any]] = {}
    for path in paths:
        path = os.path.abspath(path)
        if path not in out:
            out[path] = fingerprint(path)
    return out


def read_recorded(workdir: str) -> dict[str, dict[str, Any]] | None:
    """The fingerprints the work dir's ``data.json`` holds (None when there is none);
    ConfigError when it is unreadable."""
    path = os.path.join(workdir, DATA_IDENTITY)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            saved = json.load(f)
        files = saved["fingerprints"]
        if not isinstance(files, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("sha256"), str) for v in files.values()
        ):
            raise ValueError("'fingerprints' is not {path: {'sha256': ...}}")
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as e:
        raise ConfigError(
            f"{path!r} is not a readable data record ({type(e).__name__}: {e}); expected "
            f"the JSON a run writes before training; move it away or choose another --workdir"
        ) from None
    return files


def check_resume(saved: Mapping[str, Mapping], current: Mapping[str, Mapping]) -> None:
    """Refuses to resume on other data than the interrupted run read, naming the first
    file that differs. Files are compared in the order the experiment lists them, so a
    data dir moved elsewhere with the same contents still resumes."""
    then, now = list(saved.items()), list(current.items())
    for (old_path, old), (path, new) in zip(then, now, strict=False):
        if old["sha256"] != new["sha256"]:
            where = "" if old_path == path else f" (then at {old_path!r})"
            raise ConfigError(
                f"cannot resume: data file {path!r} differs from the one the interrupted run "
                f"read{where} (sha256 {new['sha256'][:12]}... now, {old['sha256'][:12]}... "
                f"then); expected the same data, or a new run in another --workdir"
            )
    if len(then) != len(now):
        longer, verb = (then, "not now") if len(then) > len(now) else (now, "not then")
        path = longer[min(len(then), len(now))][0]
        raise ConfigError(
            f"cannot resume: the interrupted run read {len(then)} data file(s), this one "
            f"reads {len(now)} ({path!r} read {verb}); expected the same data, or a new run "
            f"in another --workdir"
        )


def record(workdir: str, current: Mapping[str, Mapping], *, resume: bool) -> None:
    """Checks ``current`` against the interrupted run's fingerprints (``resume``), then
    writes them to ``workdir/data.json`` atomically."""
    path = os.path.join(workdir, DATA_IDENTITY)
    saved = read_recorded(workdir)
    if resume and saved is not None:
        check_resume(saved, current)
    elif resume and current:
        print(
            f"warning: {path!r} is missing (a run from before data fingerprints were "
            f"recorded): the data files cannot be compared with those the interrupted run read",
            file=sys.stderr,
        )
    partial = f"{path}.{os.getpid()}.partial"
    with open(partial, "w") as f:
        json.dump({"fingerprints": dict(current)}, f, indent=1)
    os.replace(partial, path)
