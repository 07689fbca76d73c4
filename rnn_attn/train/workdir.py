"""Who owns a work dir: a lock held while a run lives, and the run's identity on disk.

A run takes an exclusive ``flock`` on the work dir itself (released by the kernel when
the process ends, however it ends, so a killed run never leaves a stale lock, and no
lock file is left behind) and records ``DIR/run.json`` (the experiment's name, its config
and its pid) before it writes anything else. Then:

- a second run into a live run's dir is refused, naming the holder's pid;
- ``--resume`` into another experiment's dir, or under a different config, is refused,
  naming the experiment or the keys, before anything is restored;
- a new run (no ``--resume``) into a dir that holds a run is refused, so no run ever
  overwrites another's checkpoints or ``results.json``;
- a run refused for bad input after claiming the dir (a malformed data file, say)
  takes its ``run.json`` back when it wrote nothing else, so the dir is as it was.

Beside ``run.json``, ``data.json`` records the fingerprints of the data files the run
read (written by ``rnn_attn.experiment.data_identity`` before training).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

from rnn_attn.errors import ConfigError

IDENTITY = "run.json"
# The fingerprints of the data files the run read (``experiment.data_identity``).
DATA_IDENTITY = "data.json"
# What shows a dir holds a run's work (older runs wrote no run.json).
WORK_FILES = ("results.json", "checkpoints")


@contextlib.contextmanager
def locked(workdir: str) -> Iterator[None]:
    """Holds the work dir's lock (ConfigError, naming the holder's pid, when another live
    process holds it)."""
    fd = os.open(workdir, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder_pid(workdir)
            raise ConfigError(
                f"work dir {workdir!r} is in use by another run (pid "
                f"{holder}); wait for it to end, or choose another "
                f"--workdir"
            ) from None
        yield
    finally:
        os.close(fd)  # releases the lock


def _holder_pid(workdir: str) -> str:
    try:
        with open(os.path.join(workdir, IDENTITY)) as f:
            return str(json.load(f).get("pid", "unknown"))
    except (OSError, ValueError, AttributeError, RecursionError):
        return "unknown"


@contextlib.contextmanager
def owned(
    workdir: str, experiment: str, config: Mapping[str, Any], *, resume: bool
) -> Iterator[None]:
    """The work dir locked and claimed (``claim``) while the block runs. When the block
    fails, a ``run.json`` (and ``data.json``) this run created goes again if no work was
    written; a resume refused (ConfigError, e.g. on other data) puts the interrupted
    run's ``run.json`` back as it was."""
    with locked(workdir):
        path = os.path.join(workdir, IDENTITY)
        previous = _read_bytes(path)
        claim(workdir, experiment, config, resume=resume)
        try:
            yield
        except BaseException as e:
            if previous is None and not any(
                os.path.exists(os.path.join(workdir, name)) for name in WORK_FILES
            ):
                for name in (IDENTITY, DATA_IDENTITY):
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(os.path.join(workdir, name))
            elif previous is not None and isinstance(e, ConfigError):
                _write_bytes(path, previous)
            raise


def _read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def _write_bytes(path: str, blob: bytes) -> None:
    """Writes ``path`` atomically (a reader sees the old contents or the new)."""
    partial = f"{path}.{os.getpid()}.partial"
    with open(partial, "wb") as f:
        f.write(blob)
    os.replace(partial, path)


def read_identity(workdir: str) -> dict[str, Any] | None:
    """The dir's ``run.json``, else the ``experiment`` and ``config`` of a ``results.json``
    an older run left (None when neither); ConfigError when it is unreadable."""
    path = os.path.join(workdir, IDENTITY)
    if not os.path.exists(path):
        path = os.path.join(workdir, "results.json")
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            identity = json.load(f)
        if not isinstance(identity, dict) or "experiment" not in identity:
            raise ValueError("no 'experiment' key")
    except (OSError, ValueError, RecursionError) as e:  # JSON nested past the limit
        raise ConfigError(
            f"{path!r} is not a readable run record ({e}); expected the "
            f"JSON a run writes first; move it away or choose another "
            f"--workdir"
        ) from None
    return identity


def claim(workdir: str, experiment: str, config: Mapping[str, Any], *, resume: bool) -> None:
    """Checks that this run may use ``workdir``, then records it there (``run.json``).

    A resume needs the same experiment and a compatible config (see
    ``check_resume_compatible``); a new run needs a dir that holds no run."""
    saved = read_identity(workdir)
    if saved is not None and saved["experiment"] != experiment:
        raise ConfigError(
            f"work dir {workdir!r} holds a {saved['experiment']!r} run, not "
            f"{experiment!r}; choose another --workdir"
        )
    held = [name for name in (IDENTITY, *WORK_FILES) if os.path.exists(os.path.join(workdir, name))]
    if held and not resume:
        raise ConfigError(
            f"work dir {workdir!r} already holds a run ({', '.join(held)}); "
            f"pass --resume to continue it, or choose another --workdir"
        )
    if saved is not None and resume:
        check_resume_compatible(saved.get("config", {}), dict(config))
    write_identity(workdir, experiment, config)


def write_identity(workdir: str, experiment: str, config: Mapping[str, Any]) -> None:
    """Writes ``run.json`` atomically (a reader sees the old record or the new one)."""
    record = {"experiment": experiment, "config": dict(config), "pid": os.getpid()}
    _write_bytes(os.path.join(workdir, IDENTITY), json.dumps(record, indent=1).encode())


# -- what a run may do to a work dir ----------------------------------------------------------


def diff(saved: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Keys whose values differ: ``{key: (saved, current)}``."""
    keys = sorted(set(saved) | set(current))
    return {
        k: (saved.get(k), current.get(k))
        for k in keys
        if json.dumps(saved.get(k)) != json.dumps(current.get(k))
    }


# Settings a resume may change: how often to checkpoint, how seeds map to CPU devices and
# how a device loops over its seeds (none changes a number), how many examples to print,
# and what to do on a NaN (after a run stopped on one, resuming with --on-nonfinite skip
# is the way on).
RESUME_MAY_CHANGE = ("checkpoint_every", "cpu_devices", "on_nonfinite", "seed_loop", "spot_checks")


# Settings added after runs were saved, each with the value that reproduces those runs: a
# saved record without one is read with that value (``--seeds-by-source`` empty: one seed
# number sets every source, as every run did before the setting existed).
ADDED_SETTINGS = {"seeds_by_source": ""}


def check_resume_compatible(saved: Mapping[str, Any], current: Mapping[str, Any]) -> None:
    """Refuses to resume a run under a different configuration, naming the keys (those of
    ``RESUME_MAY_CHANGE`` aside; a saved record lacking a key of ``ADDED_SETTINGS`` has
    its value)."""
    saved = {**{k: v for k, v in ADDED_SETTINGS.items() if k in current}, **saved}
    changed = {k: v for k, v in diff(saved, current).items() if k not in RESUME_MAY_CHANGE}
    if changed:
        parts = ", ".join(f"{k}: saved {a!r}, now {b!r}" for k, (a, b) in changed.items())
        raise ConfigError(f"cannot resume: the configuration differs from the saved run ({parts})")


def absolute_workdir(path: str) -> str:
    """``path`` made absolute from the current directory; an empty or blank path is
    refused (it would mean the current directory: into the project, run from a checkout)."""
    if not path.strip():
        raise ConfigError(
            f"--workdir {path!r} is empty; expected a directory path (e.g. runs/NAME), not "
            f"the current directory"
        )
    return os.path.abspath(os.path.expanduser(path))


def prepare_workdir(path: str) -> str:
    """Creates ``path`` if needed and checks it is writable; returns its absolute path."""
    workdir = absolute_workdir(path)
    try:
        os.makedirs(workdir, exist_ok=True)
        # One probe per process: the processes of a multi-host run share the work dir.
        probe = os.path.join(workdir, f".write_probe_{os.getpid()}")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise ConfigError(
            f"work dir {path!r} cannot be written ({e.strerror or e}); expected a writable "
            f"directory"
        ) from None
    return workdir


def refuse_to_overwrite(workdir: str, resume: bool) -> None:
    """A new run (no ``--resume``) into a work dir that holds checkpoints is refused at
    once, before anything is loaded or compiled: its checkpoints are never overwritten."""
    root = os.path.join(workdir, "checkpoints")
    if resume or not os.path.isdir(root):
        return
    for directory, subdirs, _ in os.walk(root):
        steps = [int(d) for d in subdirs if d.isdigit()]
        if steps:
            raise checkpoints_exist(directory, max(steps))


def newest_checkpoints(workdir: str) -> list[str]:
    """The newest complete checkpoint of each model in ``workdir/checkpoints/`` (Orbax's
    unfinished ``<step>.orbax-checkpoint-tmp-*`` directories are not checkpoints)."""
    root = os.path.join(workdir, "checkpoints")
    models = sorted(os.listdir(root)) if os.path.isdir(root) else []
    newest = []
    for directory in (os.path.join(root, m) for m in models):
        if not os.path.isdir(directory):
            continue
        steps = [int(d) for d in os.listdir(directory) if d.isdigit()]
        if steps:
            newest.append(os.path.join(directory, str(max(steps))))
    return newest


def checkpoints_exist(directory: str, step: int) -> ConfigError:
    """The error for a new run into ``directory``, which holds checkpoints up to ``step``."""
    return ConfigError(
        f"{directory!r} already holds checkpoints (step {step}); pass "
        f"--resume to continue that run, or choose another --workdir"
    )
