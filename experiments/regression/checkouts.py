"""Revisions -> checkouts to run: detached git worktrees under the work dir (removed
again however the run ends), or this checkout itself for ``WORKTREE``."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKTREE = "WORKTREE"  # this checkout as it is, uncommitted changes included
SUBDIR = "checkouts"  # DIR/checkouts/<old|new>


@dataclasses.dataclass(frozen=True)
class Checkout:
    """One side's code: the revision as given, its commit (``+changes``: this checkout
    with uncommitted changes), where it is, and whether this run added it."""

    side: str
    revision: str
    commit: str
    path: str
    added: bool = False


def git(*args: str) -> str:
    """git's stdout in this checkout, stripped; ValueError with git's last message line
    when it fails."""
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    except OSError as e:
        raise ValueError(f"cannot run git ({e.strerror or e})") from None
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines() or ["no message"]
        raise ValueError(f"git {' '.join(args)} failed: {lines[-1]}")
    return done.stdout.strip()


def resolve(side: str, revision: str) -> str:
    """The commit hash ``revision`` names; ValueError naming the flag when none."""
    try:
        return git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    except ValueError:
        raise ValueError(
            f"--{side}: unknown revision {revision!r}; expected a branch, "
            f"a commit, HEAD~N or {WORKTREE}"
        ) from None


def worktree_commit(workdir: str) -> str:
    """This checkout's HEAD, with ``+changes`` when a file differs from it or a file git
    does not ignore is new (``workdir`` itself left out)."""
    head = git("rev-parse", "HEAD")
    excluded = os.path.relpath(os.path.realpath(workdir), os.path.realpath(ROOT))
    paths = ["--", "."] + ([f":(exclude){excluded}"] if not excluded.startswith("..") else [])
    changed = git("status", "--porcelain", *paths)
    return head + ("+changes" if changed else "")


def plan(revisions: Mapping[str, str], workdir: str) -> dict[str, Checkout]:
    """Each side's checkout, resolved before anything is written (ValueError for an
    unknown revision)."""
    git("rev-parse", "--git-dir")  # this code runs from a git checkout
    out = {}
    for side, revision in revisions.items():
        if revision == WORKTREE:
            out[side] = Checkout(side, revision, worktree_commit(workdir), ROOT)
        else:
            out[side] = Checkout(
                side,
                revision,
                resolve(side, revision),
                os.path.join(workdir, SUBDIR, side),
                added=True,
            )
    return out


@contextlib.contextmanager
def checked_out(checkouts: Mapping[str, Checkout]) -> Iterator[None]:
    """Adds the planned worktrees (detached at their commits) for the block and removes
    them after it, whatever ends it."""
    added = []
    try:
        for checkout in checkouts.values():
            if checkout.added:
                os.makedirs(os.path.dirname(checkout.path), exist_ok=True)
                added.append(checkout.path)  # before: an interrupted add is removed too
                git("worktree", "add", "--detach", checkout.path, checkout.commit)
        yield
    finally:
        for path in reversed(added):
            remove(path)
        if added:  # DIR/checkouts/, when empty
            with contextlib.suppress(OSError):
                os.rmdir(os.path.dirname(added[0]))


def remove(path: str) -> None:
    """Removes one worktree this run added (its files and git's record of it)."""
    try:
        git("worktree", "remove", "--force", "--force", path)
    except ValueError as e:
        if not os.path.exists(path):
            return  # never added
        shutil.rmtree(path, ignore_errors=True)
        print(
            f"[regression] warning: {e}; removed {path} by hand (`git worktree prune` forgets it)",
            file=sys.stderr,
        )
