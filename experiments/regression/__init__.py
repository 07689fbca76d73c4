"""Checks that a change keeps every per-seed result: two revisions run back to back on
this machine, their ``results.json`` compared seed by seed.

    python -m experiments.regression --old HEAD --new WORKTREE --workdir /tmp/regression

Modules: ``config`` (the command, the cases, the expected runtime), ``compare`` (pure:
two results dicts -> the per-seed comparison), ``report`` (pure: comparisons -> the
printed and Markdown tables), ``checkouts`` (git: revisions -> detached worktrees),
``cases`` (one case's command run in one checkout), ``run`` (the command),
``__main__``.
"""
