"""``python -m experiments.reproduce``: see ``config.py`` for the command, the expected
result and its runtime."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence

from experiments.reproduce import config, table
from experiments.reproduce.config import RECIPES, Recipe

MANIFEST = "reproduce.json"
ARCHIVE = "runs"  # beside the updated doc: <doc's dir>/runs/<row>/ (results + provenance)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = (
    "Data: the raw IMDB reviews (aclImdb) with Keras's word index; 50-d GloVe (the "
    "lecture's is 100-d); for weather the real TMY3 hourly record of Greensboro NC, as "
    "the Jena file could not be had; Alice in Wonderland (Project Gutenberg); all from "
    "../shared/data."
)


COLUMNS = (
    "Columns: our mean over seeds with its 95% t-interval and each seed's figure; the 95% "
    "prediction interval for one new run of ours (for the mean of 10 where the document's "
    "figure is such a mean), the yardstick for a document's figure (one run), which is "
    "inside or OUTSIDE it (an 'about' figure read off a plot is taken at its value; none is "
    "given where the document's figure is on another yardstick); this figure minus another "
    "model's: when both ran the same seeds, paired by seed (the mean per-seed difference, "
    "its t-interval, the paired t-test and the Wilcoxon signed-rank test), else unpaired "
    "(Welch); p-values Holm-adjusted over every comparison of the table at once. With 3 "
    "seeds the Wilcoxon test cannot go below p = 0.25 and the intervals are wide: "
    "`python -m experiments.plan` gives the seeds a stated difference needs."
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m experiments.reproduce", description=config.__doc__.split("\n\n")[0]
    )
    p.add_argument(
        "--workdir",
        default="runs/reproduce",
        help="each row's run goes to WORKDIR/<row>/; the table to "
        "WORKDIR/results_table.md (default: runs/reproduce)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="every row with 2 seeds, one epoch and shorter inputs (under 10 "
        "minutes on 2 cores): checks the pipeline, not the figures",
    )
    p.add_argument(
        "--only",
        default=None,
        metavar="ROWS",
        help=f"comma-separated rows to run (default: all): {', '.join(r.name for r in RECIPES)}",
    )
    p.add_argument(
        "--table-only",
        action="store_true",
        help="run nothing; rebuild the table from the rows' results.json files",
    )
    p.add_argument(
        "--update-doc",
        default="",
        metavar="FILE",
        help=f"also replace FILE's section between {table.BEGIN} and "
        f"{table.END} by the table, copy the plots to FILE's "
        f"figures/ folder and (full runs) the rows' results to its "
        f"{ARCHIVE}/ folder, which fills rows this work dir lacks "
        f"(e.g. docs/results.md)",
    )
    return p


def selected(only: str | None) -> list[Recipe]:
    """The rows ``--only`` names (every row without the flag); an empty list or a row
    named twice is refused (an empty ``--only`` used to mean every row: hours of runs)."""
    if only is None:
        return list(RECIPES)
    names = [n.strip() for n in only.split(",") if n.strip()]
    known = {r.name for r in RECIPES}
    if not names:
        raise ValueError(f"--only {only!r} names no row; expected some of {sorted(known)}")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"--only: unknown row(s) {unknown}; expected some of {sorted(known)}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"--only {only!r} repeats {repeated}; expected each row once")
    return [r for r in RECIPES if r.name in names]


def checked_workdir(workdir: str) -> str:
    """``workdir`` made absolute; an empty or blank one is refused (it meant the current
    directory: the table and manifest went into the checkout)."""
    if not workdir.strip():
        raise ValueError(f"--workdir {workdir!r} is empty; expected a directory path")
    return os.path.abspath(workdir)


def read_manifest(path: str) -> bool:
    """The ``quick`` flag a work dir's manifest records; ValueError naming the file when it
    is not the ``{"quick": true|false}`` this module writes."""
    try:
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
    except (ValueError, RecursionError) as e:
        saved = e
    if not isinstance(saved, dict) or not isinstance(saved.get("quick"), bool):
        raise ValueError(
            f'{path!r} is not a reproduction manifest; expected {{"quick": true or false}} '
            f"(move it away or choose another --workdir)"
        )
    return saved["quick"]


def check_manifest(workdir: str, quick: bool) -> None:
    """A work dir holds full rows or quick rows, never both."""
    path = os.path.join(workdir, MANIFEST)
    if os.path.isfile(path):
        saved = read_manifest(path)
        if saved != quick:
            raise ValueError(
                f"{workdir!r} holds a {'quick' if saved else 'full'} "
                f"reproduction; use another --workdir for a "
                f"{'quick' if quick else 'full'} one"
            )
    else:
        try:
            os.makedirs(workdir, exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                json.dump({"quick": quick}, f)
        except OSError as e:
            raise ValueError(
                f"--workdir {workdir!r} cannot be written ({e.strerror}); expected a directory path"
            ) from None


def run_row(recipe: Recipe, workdir: str, quick: bool) -> int:
    """Runs the row's experiment unless its results.json exists (resuming a started run);
    returns its exit status."""
    row_dir = os.path.join(workdir, recipe.name)
    if os.path.isfile(os.path.join(row_dir, "results.json")):
        print(f"[reproduce] {recipe.name}: done before, not run again", flush=True)
        return 0
    args = [
        sys.executable,
        "-m",
        f"experiments.{recipe.module}",
        *(recipe.quick if quick else recipe.args),
        "--workdir",
        row_dir,
    ]
    if os.path.isfile(os.path.join(row_dir, "run.json")):
        args.append("--resume")
    if not sys.stdout.isatty():
        args.append("--no-progress")
    print(f"[reproduce] {recipe.name}: {' '.join(args[2:])}", flush=True)
    start = time.perf_counter()
    status = subprocess.call(args, cwd=ROOT, env=child_environment())
    seconds = time.perf_counter() - start
    print(f"[reproduce] {recipe.name}: exit {status} after {seconds:.0f} s", flush=True)
    if status == 0:
        write_json(os.path.join(row_dir, table.PROVENANCE), provenance(recipe, quick, seconds))
    return status


def child_environment() -> dict[str, str]:
    """This process's environment with a relative ``$RNN_ATTN_DATA`` made absolute from
    the directory the command ran in: the rows run from the repository's root, where the
    same relative path names another directory."""
    env = dict(os.environ)
    if env.get("RNN_ATTN_DATA"):
        env["RNN_ATTN_DATA"] = os.path.abspath(os.path.expanduser(env["RNN_ATTN_DATA"]))
    return env


def provenance(recipe: Recipe, quick: bool, seconds: float) -> dict:
    """What ran a finished row: the command, the code's commit (``+changes`` when the
    checkout differed from it), when it finished, how long it took, on which CPU."""
    return {
        "row": recipe.name,
        "command": table.command(recipe, quick),
        "commit": git_commit(),
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "cpu": cpu_name(),
    }


def git_commit() -> str | None:
    """The checkout's short commit, with ``+changes`` when tracked files outside ``docs/``
    differ from it (the doc and archive that ``--update-doc`` itself rewrites are not the
    code that ran); None outside a git checkout."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)docs")
        return commit + ("+changes" if changed else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def cpu_name() -> str:
    """The CPU's model name and core count (``/proc/cpuinfo`` where there is one)."""
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            name = next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), name
            )
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores"


def write_json(path: str, value: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=1)


def section(results, provenances, quick: bool, figures_dir: str | None, rendered: str) -> str:
    """The generated text: how it was made, the table (``rendered``: ``table.render_table``'s,
    made once for the work dir's copy and the doc's), document 000's gaps, the plots."""
    seconds, done = table.wall_time(results)
    head = (
        f"Generated by `python -m experiments.reproduce{' --quick' if quick else ''}` "
        f"on {datetime.date.today()} from the rows' results.json: {done} of "
        f"{len(RECIPES)} rows run; the experiments' own wall times add up to "
        f"{seconds / 3600:.2f} h on this machine. {DATA} VALIDATION and TEST figures "
        f"are on data the model never trained on; TRAINING figures are labelled."
    )
    parts = [
        head,
        "",
        COLUMNS,
        "",
        rendered,
        "",
        "Aggregates over rows that share a metric (rliable's interquartile mean and "
        "stratified bootstrap):",
        "",
        *(table.aggregate_line(a, results) for a in config.AGGREGATES),
        "",
        "Document 000 per epoch, mean over seeds (points; gap = TRAINING - VALIDATION):",
        "",
        table.gap_table(results["000_imdb_attention"], ("bilstm", "bilstm_attention")),
        "",
        "Runs (the commit that ran each row; `+changes`: with uncommitted changes):",
        "",
        *table.provenance_lines(provenances),
        "",
        "Plots:",
        "",
    ]
    parts += plot_links(results, figures_dir)
    return "\n".join(parts)


def plot_links(results, figures_dir: str | None) -> list[str]:
    """One markdown image per row's plot: copied to ``figures_dir`` (linked relative to
    its parent) or linked where the run wrote it."""
    links = []
    for recipe in RECIPES:
        files = (results[recipe.name] or {}).get("files", {})
        for key in recipe.plots:
            name, target = f"{recipe.name}_{key}.png", files.get(key, "")
            if figures_dir is not None:
                copy = os.path.join(figures_dir, name)
                if os.path.isfile(target):
                    os.makedirs(figures_dir, exist_ok=True)
                    shutil.copyfile(target, copy)
                target = copy  # a row from the archive: the copy made when it ran
            if os.path.isfile(target):
                if figures_dir is not None:
                    target = f"{os.path.basename(figures_dir)}/{name}"
                links.append(f"![{recipe.name}: {key}]({target})")
    return links


def archive_rows(workdir: str, archive: str) -> None:
    """Copies every finished row's results.json and provenance.json into
    ``archive/<row>/``, so that the doc's table outlives the work dir (rows run on other
    machines or in other sessions add up there). The results are archived in the current
    schema (an older file migrated, written as ``write_results`` writes). A row finished
    before provenance was recorded gets one naming no commit."""
    for recipe in RECIPES:
        results = table.load_results(workdir, recipe)
        if results is None:
            continue
        target = os.path.join(archive, recipe.name)
        os.makedirs(target, exist_ok=True)
        source = os.path.join(workdir, recipe.name, "results.json")
        with open(os.path.join(target, "results.json"), "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
        record = table.load_provenance(workdir, recipe) or {
            "row": recipe.name,
            "command": table.command(recipe),
            "commit": None,
            "finished": datetime.datetime.fromtimestamp(
                os.path.getmtime(source), datetime.timezone.utc
            ).isoformat(timespec="seconds"),
            "seconds": table.wall_time({recipe.name: results})[0],
            "cpu": None,
        }
        write_json(os.path.join(target, table.PROVENANCE), record)


def write_table(workdir: str, quick: bool, doc: str) -> None:
    """Writes WORKDIR/results_table.md and, with ``doc``, updates it. A full run's rows are
    archived beside the doc first and the table is read from work dir, then archive; a
    quick run's table holds its own rows only."""
    dirs = [workdir]
    if doc and not quick:
        archive = os.path.join(os.path.dirname(os.path.abspath(doc)), ARCHIVE)
        archive_rows(workdir, archive)
        dirs.append(archive)
    sources = {r.name: table.first_holding(dirs, r) for r in RECIPES}
    results = {
        name: table.load_results(d, _recipe(name)) if d else None for name, d in sources.items()
    }  # read once
    provenances = {
        name: table.load_provenance(d, _recipe(name)) if d else None for name, d in sources.items()
    }
    rendered = table.render_table(RECIPES, results, quick)
    text = section(results, provenances, quick, None, rendered)
    with open(os.path.join(workdir, "results_table.md"), "w", encoding="utf-8") as f:
        f.write(text + "\n")
    print(f"[reproduce] wrote {os.path.join(workdir, 'results_table.md')}")
    if doc:
        with open(doc, encoding="utf-8") as f:
            current = f.read()
        figures = os.path.join(os.path.dirname(os.path.abspath(doc)), "figures")
        updated = table.replace_section(
            current, section(results, provenances, quick, figures, rendered)
        )
        with open(doc, "w", encoding="utf-8") as f:
            f.write(updated)
        print(f"[reproduce] updated {doc}")


def _recipe(name: str) -> Recipe:
    return next(r for r in RECIPES if r.name == name)


def check_doc(doc: str) -> None:
    """Before anything runs: the file to update exists and has the markers."""
    if not doc:
        return
    try:
        with open(doc, encoding="utf-8") as f:
            table.replace_section(f.read(), "")
    except OSError as e:
        raise ValueError(f"--update-doc {doc!r}: {e.strerror}") from None
    except ValueError as e:
        raise ValueError(f"--update-doc {doc!r}: {e}") from None


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        recipes = selected(args.only)
        check_doc(args.update_doc)
        workdir = checked_workdir(args.workdir)
        check_manifest(workdir, args.quick)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    failed = (
        [] if args.table_only else [r.name for r in recipes if run_row(r, workdir, args.quick) != 0]
    )
    try:
        write_table(workdir, args.quick, args.update_doc)
    except ValueError as e:  # a corrupt results.json: the rows' own files stay as they are
        print(f"error: {e}", file=sys.stderr)
        return 2
    if failed:
        print(f"[reproduce] failed rows: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
