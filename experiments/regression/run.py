"""``python -m experiments.regression``: see ``config.py`` for the command, what it shows
and its runtime."""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

from experiments.regression import cases as runs
from experiments.regression import checkouts, compare, config, report
from experiments.reproduce.run import cpu_name

SIDES = ("old", "new")


def parser():
    from rnn_attn.experiment.cli import ArgumentParser  # one `error:` line for a bad flag

    p = ArgumentParser(
        prog="python -m experiments.regression", description=config.__doc__.split("\n\n")[0]
    )
    for side in SIDES:
        p.add_argument(
            f"--{side}",
            required=True,
            metavar="REV",
            help=f"the {side} revision: a branch, a commit, HEAD~N, or "
            f"{checkouts.WORKTREE} (this checkout with its changes)",
        )
    p.add_argument(
        "--workdir",
        required=True,
        metavar="DIR",
        help="a new or empty directory: the checkouts, each run's work dir "
        "(DIR/<case>/<old|new>/), regression.json and regression.md",
    )
    p.add_argument(
        "--only",
        default=None,
        metavar="NAME[,NAME...]",
        help=f"the cases to run (default: all): {', '.join(c.name for c in config.CASES)}",
    )
    p.add_argument(
        "--tolerance",
        type=float,
        default=0.0,
        help="largest absolute difference still counted as equal (default: 0, exactly equal)",
    )
    return p


def check_workdir(path: str) -> str:
    """The absolute work dir: new, or an empty directory (a run never mixes with
    another's files). ValueError otherwise."""
    directory = os.path.abspath(os.path.expanduser(path))
    if os.path.exists(directory) and (not os.path.isdir(directory) or os.listdir(directory)):
        raise ValueError(
            f"--workdir {path!r} exists and is not an empty directory; expected a new or empty one"
        )
    return directory


def make_workdir(directory: str, path: str) -> None:
    try:
        os.makedirs(directory, exist_ok=True)
        probe = os.path.join(directory, ".write_probe")
        with open(probe, "w", encoding="utf-8") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise ValueError(
            f"--workdir {path!r} cannot be written ({e.strerror or e}); "
            f"expected a writable directory"
        ) from None


def prepare(args) -> tuple[tuple[config.Case, ...], str, dict[str, checkouts.Checkout]]:
    """The cases, the work dir (created) and the checkouts planned, from the flags;
    ValueError before anything is written when one is wrong."""
    if args.only is not None and not any(n.strip() for n in args.only.split(",")):
        known = [c.name for c in config.CASES]
        raise ValueError(f"--only {args.only!r} names no case; expected some of {known}")
    cases = config.select_cases(args.only or "")
    if not (args.tolerance >= 0 and math.isfinite(args.tolerance)):
        raise ValueError(f"--tolerance must be a finite number >= 0, got {args.tolerance}")
    directory = check_workdir(args.workdir)
    planned = checkouts.plan({side: getattr(args, side) for side in SIDES}, directory)
    make_workdir(directory, args.workdir)
    return cases, directory, planned


def new_report(planned, tolerance: float, data_dir: str) -> dict[str, Any]:
    return {
        "old": _side(planned["old"]),
        "new": _side(planned["new"]),
        "cpu": cpu_name(),
        "tolerance": tolerance,
        "python": sys.executable,
        "data_dir": data_dir,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "cases": [],
        "counts": {},
        "verdict": "",
        "seconds": 0.0,
    }


def _side(checkout: checkouts.Checkout) -> dict[str, str]:
    return {"revision": checkout.revision, "commit": checkout.commit}


def run_case(
    case: config.Case, planned, directory: str, data_dir: str, tolerance: float
) -> dict[str, Any]:
    """Old, then new, then their comparison; prints the case's table."""
    done = {side: runs.run_side(case, planned[side], directory, data_dir) for side in SIDES}
    results = {side: done[side].pop("results") for side in SIDES}
    entry = {
        "name": case.name,
        "command": case.command(),
        "runs": done,
        "comparison": compare.compare_results(results["old"], results["new"], tolerance),
    }
    print("\n".join(report.text_lines(entry)), flush=True)
    return entry


def finish(record: dict[str, Any], directory: str, start: float, error: str = "") -> None:
    """Adds the totals and writes regression.json and regression.md."""
    comparisons = [c["comparison"] for c in record["cases"]]
    record["counts"] = compare.total_counts(comparisons)
    every_case_kept = all(compare.kept(c["counts"]) for c in comparisons)
    record["verdict"] = "FAILED" if error else ("kept" if every_case_kept else "NOT KEPT")
    record["seconds"] = round(time.perf_counter() - start, 1)
    if error:
        record["error"] = error
    with open(os.path.join(directory, "regression.json"), "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1)
    with open(os.path.join(directory, "regression.md"), "w", encoding="utf-8") as f:
        f.write(report.markdown(record) + ("\n" + f"Stopped: {error}\n" if error else "\n"))


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM ends the run as Ctrl-C does (the worktrees are removed either way)."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def execute(cases, planned, directory: str, tolerance: float) -> dict[str, Any]:
    """Runs every case inside the checkouts; the report, written (also when a run fails:
    RunFailed, ValueError or KeyboardInterrupt go on after it is written)."""
    from rnn_attn.data.paths import default_data_dir

    data_dir = os.path.realpath(default_data_dir())
    record, start = new_report(planned, tolerance, data_dir), time.perf_counter()
    try:
        with checkouts.checked_out(planned):
            for checkout in planned.values():
                runs.check_imports(checkout, data_dir)
            for case in cases:
                record["cases"].append(run_case(case, planned, directory, data_dir, tolerance))
    except (runs.RunFailed, ValueError) as e:
        finish(record, directory, start, str(e))
        raise
    except KeyboardInterrupt:
        finish(record, directory, start, "interrupted")
        raise
    finish(record, directory, start)
    return record


def short(commit: str) -> str:
    """A commit's first 12 digits (``+changes`` kept)."""
    head, plus, changes = commit.partition("+")
    return head[:12] + plus + changes


def summary(record: dict[str, Any], directory: str) -> str:
    old, new = record["old"], record["new"]
    return (
        f"[regression] old {old['revision']} = {short(old['commit'])}, new "
        f"{new['revision']} = {short(new['commit'])}, {record['cpu']}: "
        f"{report.counts_text(record['counts'])}: {record['verdict']} in "
        f"{record['seconds']:.0f} s; wrote {os.path.join(directory, 'regression.md')} "
        f"and regression.json"
    )


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        cases, directory, planned = prepare(args)
    except ValueError as e:
        return _error(str(e))
    with sigterm_as_interrupt():
        try:
            record = execute(cases, planned, directory, args.tolerance)
        except (runs.RunFailed, ValueError) as e:
            return _error(str(e))
        except KeyboardInterrupt:
            print(
                f"error: interrupted; the worktrees under {directory} are removed", file=sys.stderr
            )
            return 130
    print(summary(record, directory), flush=True)
    return 0 if record["verdict"] == "kept" else 1
