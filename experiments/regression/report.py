"""The comparisons as tables: printed (plain text) and Markdown. Pure functions of the
report dict that ``run`` writes to ``regression.json``.

Per model, metrics equal on every seed are summarized in one line; every seed of a
metric with any other verdict is shown, old beside new.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from experiments.regression import compare

HEADER = ("model", "metric", "seed", "old", "new", "verdict")


def group_by_model(comparison: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per model (in the rows' order): ``rows`` of its metrics with a seed that is not
    equal, and the metrics equal on every seed (``equal_metrics``, ``equal_figures``,
    ``within``: how many of those figures differ within the tolerance)."""
    metrics: dict[str, dict[str, list]] = {}
    for row in comparison["rows"]:
        metrics.setdefault(row["model"], {}).setdefault(row["metric"], []).append(row)
    groups = []
    for model, by_metric in metrics.items():
        group = {"model": model, "rows": [], "equal_metrics": [], "equal_figures": 0, "within": 0}
        for metric, rows in by_metric.items():
            if all(r["verdict"] == compare.EQUAL for r in rows):
                group["equal_metrics"].append(metric)
                group["equal_figures"] += len(rows)
                group["within"] += sum(r["difference"] is not None for r in rows)
            else:
                group["rows"] += rows
        groups.append(group)
    return groups


def value_text(value: Any, width: int = 40) -> str:
    """A figure as written in the table: floats to the last digit (``repr``), None as
    ``-``, anything else as JSON, cut to ``width`` characters."""
    if value is None:
        return "-"
    text = repr(value) if compare.is_number(value) else json.dumps(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def verdict_text(row: Mapping[str, Any]) -> str:
    if row["difference"] is None:
        return row["verdict"]
    return f"{row['verdict']} ({row['difference']:+.3g})"


def cells(row: Mapping[str, Any]) -> tuple[str, ...]:
    seed = "-" if row["seed"] is None else str(row["seed"])
    return (
        row["model"],
        row["metric"],
        seed,
        value_text(row["old"]),
        value_text(row["new"]),
        verdict_text(row),
    )


def summary_text(group: Mapping[str, Any], names: bool = False) -> str:
    """``all 4 metrics equal (40 figures)``, or ``3 other metrics ...`` beside rows."""
    n = len(group["equal_metrics"])
    which = "other " if group["rows"] else ("all " if n > 1 else "")
    listed = f": {', '.join(group['equal_metrics'])}" if names else ""
    within = f", {group['within']} within the tolerance" if group["within"] else ""
    return (
        f"{which}{n} metric{'s' if n != 1 else ''} equal on every seed "
        f"({group['equal_figures']} figures{within}){listed}"
    )


def one_sided_text(item: Mapping[str, Any]) -> str:
    what = (
        f"model {item['model']}"
        if item["metric"] is None
        else (f"metric {item['model']}.{item['metric']}")
    )
    return f"{what}: {item['side']} only"


def counts_text(counts: Mapping[str, int]) -> str:
    text = f"{counts['equal']} equal, {counts['different']} different"
    for side in ("old", "new"):
        if counts[f"{side}_only"]:
            text += f", {counts[f'{side}_only']} {side} only"
    return text


def run_text(case: Mapping[str, Any], side: str) -> str:
    run = case["runs"][side]
    return f"{side} {run['seconds']:.1f} s"


def case_verdict(case: Mapping[str, Any]) -> str:
    return "kept" if compare.kept(case["comparison"]["counts"]) else "NOT KEPT"


def text_lines(case: Mapping[str, Any]) -> list[str]:
    """One case as printed: the command and wall times, the table, the summaries."""
    comparison = case["comparison"]
    groups = group_by_model(comparison)
    lines = [
        f"== {case['name']}: {case['command']} ({run_text(case, 'old')}, "
        f"{run_text(case, 'new')}): {counts_text(comparison['counts'])}: "
        f"{case_verdict(case)}"
    ]
    table = [HEADER] + [cells(r) for g in groups for r in g["rows"]]
    widths = [max(len(t[i]) for t in table) for i in range(len(HEADER))]
    fmt = lambda t: "  " + "  ".join(c.ljust(w) for c, w in zip(t, widths, strict=True)).rstrip()
    if len(table) > 1:
        lines.append(fmt(HEADER))
    for group in groups:
        lines += [fmt(cells(r)) for r in group["rows"]]
        if group["equal_metrics"]:
            lines.append(f"  {group['model']}: {summary_text(group)}")
    lines += [f"  {one_sided_text(o)}" for o in comparison["one_sided"]]
    if not comparison["rows"] and not comparison["one_sided"]:
        lines.append("  no per-seed figures (models.<model>.per_seed.<metric>) on either side")
    return lines


def _md(cells_: tuple[str, ...]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells_) + " |"


def markdown_case(case: Mapping[str, Any]) -> list[str]:
    """One case as a Markdown section: the command, wall times, verdict and table."""
    comparison = case["comparison"]
    lines = [
        f"### {case['name']}",
        "",
        f"`{case['command']}`: {run_text(case, 'old')}, {run_text(case, 'new')}; "
        f"{counts_text(comparison['counts'])}: **{case_verdict(case)}**",
        "",
        _md(HEADER),
        _md(("---",) * len(HEADER)),
    ]
    for group in group_by_model(comparison):
        lines += [_md(cells(r)) for r in group["rows"]]
        if group["equal_metrics"]:
            lines.append(
                _md((group["model"], summary_text(group, names=True), "all", "", "", "equal"))
            )
    for item in comparison["one_sided"]:
        lines.append(
            _md(
                (
                    item["model"],
                    item["metric"] or "(whole model)",
                    "",
                    "",
                    "",
                    f"{item['side']} only",
                )
            )
        )
    return lines + [""]


def markdown(report: Mapping[str, Any]) -> str:
    """``regression.md``: the revisions, the CPU, a line per case, then each table."""
    old, new = report["old"], report["new"]
    lines = [
        "# Per-seed regression check",
        "",
        f"- old: `{old['revision']}` = `{old['commit']}`",
        f"- new: `{new['revision']}` = `{new['commit']}`",
        f"- CPU: {report['cpu']}",
        f"- tolerance: {report['tolerance']} (absolute)",
        f"- verdict: **{report['verdict']}** ({counts_text(report['counts'])}); "
        f"wall time {report['seconds']:.0f} s",
        "",
        _md(("case", "old (s)", "new (s)", "figures", "verdict")),
        _md(("---",) * 5),
    ]
    for case in report["cases"]:
        lines.append(
            _md(
                (
                    case["name"],
                    f"{case['runs']['old']['seconds']:.1f}",
                    f"{case['runs']['new']['seconds']:.1f}",
                    counts_text(case["comparison"]["counts"]),
                    case_verdict(case),
                )
            )
        )
    lines.append("")
    for case in report["cases"]:
        lines += markdown_case(case)
    return "\n".join(lines)
