"""Does a change keep every per-seed result? Two revisions run the same short experiment
commands back to back on this machine, and their figures are compared seed by seed.

    python -m experiments.regression --old main --new WORKTREE --workdir /tmp/regression
    python -m experiments.regression --old HEAD~1 --new HEAD --workdir /tmp/regression \\
        --only imdb_local,copy_task [--tolerance 1e-6]

``DIR`` must be new or empty. ``--old`` and ``--new`` are git revisions (a branch, a
hash, ``HEAD``...), each checked out into a detached worktree under ``DIR/checkouts/``
(removed at the end, also on a failure or Ctrl-C); ``WORKTREE`` is this checkout as it
is, uncommitted changes included, run in place. Each case of ``CASES`` (``--only``: some
of them) runs old, then new, into ``DIR/<case>/<old|new>/`` (its output in
``output.log`` there), with this interpreter, the revision's own code (``PYTHONPATH``)
and this checkout's data dir (``$RNN_ATTN_DATA``); no JAX compilation cache is shared
between the runs, so each wall time includes its own compilation. Figures depend on the
CPU model, so both sides always run here and now; stored numbers are never compared.

What it shows: for every model and every ``models.<model>.per_seed.<metric>`` list of
either ``results.json``, each seed's figure old beside new, equal (exactly, or within
``--tolerance`` absolute) or different (with the difference); a model, metric or seed
only one side has is listed as such. Printed per case (metrics equal on every seed in
one line per model), and written to ``DIR/regression.json`` and ``DIR/regression.md``
with both commits, the CPU model and each run's wall time. Exit status 0 when every
figure of the old side is there and equal on the new side (figures only the new side has
are listed, not counted against it), 1 otherwise, 2 on a bad flag or a failed run (one
``error:`` line naming the log), 130 when interrupted.

Runtime on the 2-core CPU: each case runs twice, so about twice the cases' own runtimes.
``--only imdb_local,copy_task``: 6.6 minutes measured while other jobs shared the cores
(copy_task 163 s and 196 s, imdb_local 19 s and 17 s); on idle cores, from the
experiments' own runtimes (copy_task 55 s), an estimated 2.5 minutes. Every case: the
``--local`` runs take a few minutes each (``char_textgen_local`` the longest), so plan
on half an hour or more.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Case:
    """One experiment command: ``python -m experiments.<module> *args`` (each side adds
    ``--workdir DIR/<name>/<side> --no-progress``)."""

    name: str
    module: str
    args: tuple[str, ...] = ()

    def command(self) -> str:
        return " ".join(("python -m", f"experiments.{self.module}", *self.args))


# The cases issue 29 asks for: short commands whose figures cover every experiment.
CASES: tuple[Case, ...] = (
    Case("copy_task", "copy_task"),
    Case("weather", "weather", ("--models", "dense,gru", "--seeds", "2", "--epochs", "3")),
    Case("imdb_attention_local", "imdb_attention", ("--local",)),
    Case("imdb_local", "imdb", ("--model", "embedding_flatten", "--local")),
    Case("imdb_glove_local", "imdb_glove", ("--local",)),
    Case("char_textgen_local", "char_textgen", ("--local",)),
    Case("vanishing_gradients_local", "vanishing_gradients", ("--local",)),
)


def select_cases(only: str, cases: tuple[Case, ...] | None = None) -> tuple[Case, ...]:
    """The cases ``--only`` names (comma-separated; empty: all), in the order of
    ``cases`` (default: ``CASES``); ValueError naming any unknown one."""
    cases = CASES if cases is None else cases
    names = [n.strip() for n in only.split(",") if n.strip()]
    known = [c.name for c in cases]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"--only: unknown case(s) {unknown}; expected some of {known}")
    return tuple(c for c in cases if not names or c.name in names)
