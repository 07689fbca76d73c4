"""The reproduction's table, built from the rows' results.json files alone (never typed)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from experiments.reproduce.config import Aggregate, Figure, Recipe
from rnn_attn.analysis import schema, stats

BEGIN, END = "<!-- reproduce:begin -->", "<!-- reproduce:end -->"


def lookup(results: Any, path: str) -> Any:
    """The value at dotted ``path`` of ``results``; ``*`` maps the rest of the path over a
    list, an integer indexes one. KeyError / IndexError name the part that is missing."""
    head, _, rest = path.partition(".")
    if head == "*":
        return [lookup(item, rest) if rest else item for item in results]
    if isinstance(results, list):
        value = results[int(head)]
    elif head in results:
        value = results[head]
    else:
        raise KeyError(f"no {head!r} (have {sorted(results)[:8]})")
    return lookup(value, rest) if rest else value


def format_figure(values: Any, figure: Figure) -> tuple[str, int]:
    """``(text, n)``: per-seed values as ``mean [low, high]`` (95% t-interval) with each
    seed's value, a single value as it is; ``n`` = how many seeds (0: deterministic)."""
    f = f"{{:.{figure.digits}f}}"
    if not isinstance(values, list):
        return f.format(figure.scale * float(values)), 0
    scaled = [figure.scale * float(v) for v in values]
    mean = sum(scaled) / len(scaled)
    if len(scaled) < 2:
        return f.format(mean), len(scaled)
    low, high = stats.t_confidence_interval(scaled)
    seeds = ", ".join(f.format(v) for v in scaled)
    return f"**{f.format(mean)}** [{f.format(low)}, {f.format(high)}] ({seeds})", len(scaled)


def prediction_cell(values: Any, figure: Figure) -> str:
    """Our 95% prediction interval for one new run (for the mean of
    ``figure.reference_runs`` new runs where the document's figure is such a mean), and
    whether the document's figure falls inside; "-" for a deterministic figure."""
    if not isinstance(values, list) or len(values) < 2:
        return "-"
    f = f"{{:.{figure.digits}f}}"
    scaled = [figure.scale * float(v) for v in values]
    low, high = stats.prediction_interval(scaled, runs=figure.reference_runs)
    cell = f"[{f.format(low)}, {f.format(high)}]"
    if figure.reference is None:
        return cell
    inside = low <= figure.reference <= high
    runs = f" (mean of {figure.reference_runs})" if figure.reference_runs > 1 else ""
    return f"{cell}: {figure.reference:g}{runs} {'inside' if inside else '**OUTSIDE**'}"


def _seeded_figure(results: Mapping | None, path: str, row: str, scale: float):
    """``(model, scaled per-seed values, seeds, seeds by source or None)`` of a per-seed
    figure at ``path``; a sweep's trial (``models.M.trials.K...``) is named by its setting
    and has its own seeds."""
    if results is None:
        raise ValueError(f"row {row} has not run")
    values = lookup(results, path)
    if not path.startswith("models.") or not isinstance(values, list):
        raise ValueError(f"{path} is not a model's per-seed figure")
    parts = path.split(".")
    if any(not isinstance(v, int | float) or isinstance(v, bool) for v in values):
        raise ValueError(f"{row}: {path} has a seed without a figure")
    name, entry = parts[1], results["models"][parts[1]]
    if len(parts) > 3 and parts[2] == "trials":  # a sweep's trial: its own (tuning) seeds
        entry = entry["trials"][int(parts[3])]
        setting = ", ".join(
            f"{k}={v:g}" if not isinstance(v, str) else f"{k}={v}"
            for k, v in entry["hyperparameters"].items()
        )
        name = f"{name} ({setting})"
    return name, [scale * float(v) for v in values], entry["seeds"], entry.get("seeds_by_source")


def compare_figure(recipe: Recipe, figure: Figure, results: Mapping[str, Mapping | None]) -> dict:
    """``stats.compare`` of ``figure`` against its ``versus`` (this minus that, in the
    table's units), paired by seed when both ran the same seeds (by their seeds by
    source when a row varied them separately)."""
    row, _, path = figure.versus.rpartition(":")
    row = row or recipe.name
    a_name, a, a_seeds, a_sources = _seeded_figure(
        results[recipe.name], figure.path, recipe.name, figure.scale
    )
    b_name, b, b_seeds, b_sources = _seeded_figure(results.get(row), path, row, figure.scale)
    if row != recipe.name:
        b_name = f"{b_name} ({row})"
    return stats.compare(
        a, b, names=(a_name, b_name), seeds=(a_seeds, b_seeds), sources=(a_sources, b_sources)
    )


def table_comparisons(
    recipes: Sequence[Recipe], results: Mapping[str, Mapping | None]
) -> dict[tuple[str, str], dict | str]:
    """Every ``versus`` comparison of the table, keyed by (row, figure label), Holm's
    correction run over all of them at once (one family: the table); a comparison that
    cannot be made is the reason, as text."""
    out: dict[tuple[str, str], dict | str] = {}
    for recipe in recipes:
        for figure in recipe.figures:
            if figure.versus:
                try:
                    out[recipe.name, figure.label] = compare_figure(recipe, figure, results)
                except (KeyError, IndexError, TypeError, ValueError) as e:
                    out[recipe.name, figure.label] = f"not compared ({e})"
    stats.holm_over([c for c in out.values() if isinstance(c, dict)])
    return out


def _p(p: float) -> str:
    return "nan" if math.isnan(p) else (f"{p:.2g}" if p < 0.001 else f"{p:.3f}")


def comparison_cell(comparison: dict | str | None, figure: Figure) -> str:
    """``vs B: difference [95% CI], the test, p (Holm)``: paired by seed where the seeds
    match (the mean per-seed difference, paired t, and Wilcoxon), else Welch."""
    if comparison is None:
        return "-"
    if isinstance(comparison, str):
        return comparison
    f = f"{{:+.{figure.digits}f}}"
    head = comparison["headline"]
    other = comparison["names"][1]
    if head["kind"] == "paired":
        p = comparison["paired"]
        diff, low, high = p["mean_difference"], p["ci_low"], p["ci_high"]
        extra = f"; Wilcoxon p = {_p(p['wilcoxon']['p_value'])}"
    else:
        diff = comparison["mean_difference"]
        low, high = comparison["mean_difference_ci_low"], comparison["mean_difference_ci_high"]
        extra = ""
    return (
        f"vs {other}: **{f.format(diff)}** [{f.format(low)}, {f.format(high)}] "
        f"{head['kind']}, {head['test']} p = {_p(head['p_value'])} "
        f"(Holm {_p(head['p_value_holm'])}){extra}"
    )


def aggregate_line(aggregate: Aggregate, results: Mapping[str, Mapping | None]) -> str:
    """One aggregate over rows that share a metric: the interquartile mean of every
    task's seeds with its stratified bootstrap interval (rliable's method)."""
    try:
        tasks = {
            row: _seeded_figure(results.get(row), path, row, aggregate.scale)[1]
            for row, path in aggregate.figures
        }
        r = stats.stratified_bootstrap_iqm(tasks)
    except (KeyError, IndexError, TypeError, ValueError) as e:
        return f"- {aggregate.label}: not computed ({e})"
    seeds = sorted(set(r["tasks"].values()))
    return (
        f"- {aggregate.label}: IQM **{r['iqm']:.{aggregate.digits}f}** "
        f"[{r['ci_low']:.{aggregate.digits}f}, {r['ci_high']:.{aggregate.digits}f}] "
        f"over {len(tasks)} rows x {'/'.join(map(str, seeds))} seeds "
        f"({int(100 * r['confidence'])}% interval: {r['method']})"
    )


PROVENANCE = "provenance.json"  # beside a row's results.json: which commit ran it, when


def load_results(workdir: str, recipe: Recipe) -> dict | None:
    """The row's results.json in the current schema (an older file through
    ``schema.migrate``), or None when the row has not finished."""
    path = os.path.join(workdir, recipe.name, "results.json")
    record = _load(path)
    if record is None:
        return None
    try:
        return schema.migrate(record)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def load_provenance(workdir: str, recipe: Recipe) -> dict | None:
    """The row's provenance.json (see ``run.provenance``), or None when it has none."""
    return _load(os.path.join(workdir, recipe.name, PROVENANCE))


def first_holding(dirs: Sequence[str], recipe: Recipe) -> str | None:
    """The first of ``dirs`` that holds the row's results.json (None: the row never ran)."""
    return next((d for d in dirs if load_results(d, recipe) is not None), None)


def _load(path: str) -> dict | None:
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        try:
            loaded = json.load(f)
        except (ValueError, RecursionError) as e:  # also a number past 4300 digits
            raise ValueError(
                f"{path} is not valid JSON ({e}); rerun its row or remove the file"
            ) from None
    if not isinstance(loaded, dict):
        raise ValueError(
            f"{path} holds a JSON {type(loaded).__name__}, not a results record (an object); "
            f"rerun its row or remove the file"
        )
    return loaded


def command(recipe: Recipe, quick: bool = False) -> str:
    return " ".join(
        ("python -m", f"experiments.{recipe.module}", *(recipe.quick if quick else recipe.args))
    )


def recipe_rows(
    recipe: Recipe,
    results: Mapping | None,
    quick: bool = False,
    comparisons: Mapping[tuple[str, str], dict | str] | None = None,
) -> list[str]:
    """The table's lines for one recipe: one per figure (``comparisons``: the table's, from
    ``table_comparisons``)."""
    rows = []
    for i, figure in enumerate(recipe.figures):
        predicted = "-"
        if results is None:
            ours, n = "not run", "-"
        else:
            try:
                values = lookup(results, figure.path)
                ours, n = format_figure(values, figure)
                predicted = prediction_cell(values, figure)
            except (KeyError, IndexError, TypeError, ValueError) as e:
                ours, n = f"missing ({e})", "-"
        compared = comparison_cell((comparisons or {}).get((recipe.name, figure.label)), figure)
        first = i == 0
        rows.append(
            "| "
            + " | ".join(
                (
                    recipe.document if first else "",
                    f"`{command(recipe, quick)}`" if first else "",
                    figure.label,
                    str(n if n != 0 else "deterministic"),
                    ours,
                    predicted,
                    compared,
                    figure.document,
                    recipe.note if first else "",
                )
            )
            + " |"
        )
    return rows


def render_table(
    recipes: Sequence[Recipe], results: Mapping[str, Mapping | None], quick: bool = False
) -> str:
    """The markdown table of every recipe's figures, with the comparisons between them
    (Holm-adjusted over the whole table)."""
    comparisons = table_comparisons(recipes, results)
    lines = [
        "| doc | command | figure | seeds | ours: mean [95% CI] (per seed) | "
        "one new run: our 95% prediction interval: the document's figure | "
        "this minus another model: mean difference [95% CI], test, p (Holm over the table) | "
        "document | differences |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for recipe in recipes:
        lines += recipe_rows(recipe, results[recipe.name], quick, comparisons)
    return "\n".join(lines)


def gap_table(results: Mapping | None, models: Sequence[str]) -> str:
    """Document 000's train/validation gap per epoch (means over seeds, points)."""
    if results is None:
        return "(document 000's row has not run)"
    lines = [
        "| epoch | " + " | ".join(f"{m}: TRAINING / VALIDATION / gap" for m in models) + " |",
        "|---|" + "---|" * len(models),
    ]
    gaps = {m: results["models"][m]["train_validation_gap_by_epoch"] for m in models}
    for i, row in enumerate(gaps[models[0]]):
        cells = [
            f"{100 * g[i]['train_accuracy']:.2f} / {100 * g[i]['val_accuracy']:.2f} / "
            f"{100 * g[i]['gap']:+.2f}"
            for g in gaps.values()
        ]
        lines.append(f"| {row['epoch']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def wall_time(results: Mapping[str, Mapping | None]) -> tuple[float, int]:
    """``(seconds, rows)``: the experiments' own timings summed over the finished rows."""
    times = [_total_seconds(r) for r in results.values() if r is not None]
    return float(sum(times)), len(times)


def _total_seconds(results: Mapping) -> float:
    """A (migrated) record's ``timing.total_seconds``; NaN where it has none."""
    try:
        return float(results["timing"]["total_seconds"])
    except (KeyError, TypeError):
        return math.nan


def provenance_lines(provenances: Mapping[str, Mapping | None]) -> list[str]:
    """One markdown list item per finished row: the commit that ran it, when, how long."""
    lines = []
    for name, p in provenances.items():
        if p is None:
            continue
        commit = p.get("commit") or "not recorded"
        lines.append(
            f"- `{name}`: commit {commit}, finished {p.get('finished', '?')}, "
            f"{p.get('seconds', math.nan):.0f} s; {p.get('cpu', 'CPU not recorded')}"
        )
    return lines


def replace_section(text: str, section: str) -> str:
    """``text`` with what lies between the BEGIN and END markers replaced by ``section``."""
    start, stop = text.find(BEGIN), text.find(END)
    if start < 0 or stop < start:
        raise ValueError(f"the file has no {BEGIN} ... {END} section to replace")
    return text[: start + len(BEGIN)] + "\n" + section + "\n" + text[stop:]
