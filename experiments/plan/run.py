"""``python -m experiments.plan``: see ``config.py`` for the command, what it shows and its
runtime."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from experiments.plan import config
from rnn_attn.analysis import power, schema


def parser():
    from rnn_attn.experiment.cli import ArgumentParser  # one `error:` line for a bad flag

    p = ArgumentParser(
        prog="python -m experiments.plan", description=config.__doc__.split("\n\n")[0]
    )
    p.add_argument("--results", required=True, metavar="FILE", help="the pilot run's results.json")
    p.add_argument(
        "--metric",
        required=True,
        metavar="M",
        help="the per-seed metric compared (a key of models.<model>.per_seed, e.g. "
        "val_accuracy_best)",
    )
    p.add_argument(
        "--difference",
        required=True,
        type=float,
        metavar="D",
        help="the difference A - B to detect, in the metric's units (accuracies are "
        "fractions: 0.005 is half a point); stated, not the pilot's",
    )
    p.add_argument(
        "--models",
        default=None,
        metavar="A,B",
        help="the two models compared, A - B (default: the run's two models, the reference "
        "model second)",
    )
    p.add_argument("--power", type=float, default=config.POWER, help="wanted power (default 0.8)")
    p.add_argument(
        "--alpha", type=float, default=config.ALPHA, help="two-sided level (default 0.05)"
    )
    p.add_argument(
        "--sequential",
        action="store_true",
        help="also the group-sequential plan: seeds added in rounds, O'Brien-Fleming "
        "spending (Lan-DeMets), at most 5 looks",
    )
    p.add_argument(
        "--round",
        type=int,
        default=None,
        metavar="N",
        help=f"--sequential: seeds added per round (default {config.ROUND})",
    )
    p.add_argument(
        "--maximum",
        type=int,
        default=None,
        metavar="N",
        help=f"--sequential: the most seeds per model (default {config.MAXIMUM})",
    )
    return p


def load_pilot(path: str) -> dict[str, Any]:
    """The pilot's results.json in the current schema, validated; ValueError naming the
    file and what is wrong with it."""
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
    except OSError as e:
        raise ValueError(f"--results {path!r}: {e.strerror}") from None
    except (ValueError, RecursionError) as e:
        raise ValueError(f"--results {path!r} is not valid JSON ({e})") from None
    if not isinstance(record, dict):
        raise ValueError(
            f"--results {path!r} holds a JSON {type(record).__name__}, not a results record"
        )
    try:
        record = schema.migrate(record)
        schema.validate(record)
    except ValueError as e:
        raise ValueError(f"--results {path!r}: {e}") from None
    return record


def choose_models(record: Mapping[str, Any], models: str | None) -> tuple[str, str]:
    """``(A, B)``: the models ``--models`` names, or the run's two (its reference second)."""
    names = list(record["models"])
    if models is not None:
        chosen = [m.strip() for m in models.split(",")]
        unknown = [m for m in chosen if m not in names]
        if len(chosen) != 2 or chosen[0] == chosen[1] or unknown:
            raise ValueError(
                f"--models {models!r}: expected two different models of the run, A,B, among {names}"
            )
        return chosen[0], chosen[1]
    if len(names) != 2:
        raise ValueError(
            f"the run has {len(names)} model(s) {names}; name the two compared with --models A,B"
        )
    reference = (record.get("comparison") or {}).get("reference_model", names[0])
    other = next(n for n in names if n != reference)
    return other, reference


def figures(record: Mapping[str, Any], name: str, metric: str) -> list[float]:
    """One model's per-seed figures of ``metric``, every seed's a number."""
    per_seed = record["models"][name]["per_seed"]
    if metric not in per_seed:
        raise ValueError(
            f"--metric {metric!r}: model {name!r} has no such figure; it has {sorted(per_seed)}"
        )
    values = per_seed[metric]
    seeds = record["models"][name]["seeds"]
    missing = [s for s, v in zip(seeds, values, strict=True) if not _is_number(v)]
    if missing:
        raise ValueError(
            f"--metric {metric!r}: model {name!r} has no number for seeds {missing}; "
            f"the plan needs every seed's figure"
        )
    if len(values) < 2:
        raise ValueError(f"model {name!r} ran {len(values)} seed; a pilot needs at least 2")
    return [float(v) for v in values]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_flags(args) -> None:
    """The numeric flags argparse accepts but the plan cannot use."""
    if not (math.isfinite(args.difference) and args.difference > 0):
        raise ValueError(
            f"--difference must be a finite number > 0 in the metric's units, got {args.difference}"
        )
    for flag, value in (("--power", args.power), ("--alpha", args.alpha)):
        if not 0.0 < value < 1.0:
            raise ValueError(f"{flag} must be in (0, 1), got {value}")
    if not args.sequential and (args.round is not None or args.maximum is not None):
        raise ValueError("--round and --maximum belong to --sequential; add it or leave them out")
    round_size = config.ROUND if args.round is None else args.round
    maximum = config.MAXIMUM if args.maximum is None else args.maximum
    if args.sequential:
        for flag, value in (("--round", round_size), ("--maximum", maximum)):
            if value < 2:
                raise ValueError(f"{flag} must be at least 2 seeds, got {value}")
        if maximum < round_size:
            raise ValueError(f"--maximum {maximum} is below one --round of {round_size} seeds")
        looks = math.ceil(maximum / round_size)
        if looks > power.MAX_LOOKS:
            raise ValueError(
                f"--round {round_size} up to --maximum {maximum} makes {looks} looks; at most "
                f"{power.MAX_LOOKS} (take larger rounds)"
            )
    args.round, args.maximum = round_size, maximum


def _seeds_text(seeds: Sequence[int]) -> str:
    seeds = list(seeds)
    if len(seeds) > 3 and seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(map(str, seeds))


def plan_lines(result: Mapping[str, Any], names: tuple[str, str], seeds) -> list[str]:
    """The printed plan: the pilot, then paired and unpaired, each with the pilot's power."""
    a, b = names
    lines = [
        f"pilot: {a} seeds {_seeds_text(seeds[0])}, {b} seeds {_seeds_text(seeds[1])}"
        + (" (the same: paired by seed)" if "paired" in result else " (not the same: unpaired)"),
        f"observed {a} - {b}: {result['observed_difference']:+.4g} (printed only; the plan is "
        f"for the stated difference)",
        f"to detect {a} - {b} = {result['difference']:g} with power {result['power']:g} at "
        f"two-sided alpha {result['alpha']:g}:",
    ]
    for kind, label, unit in (
        ("paired", "paired by seed (paired t-test; sd of the per-seed differences)", "seeds"),
        ("unpaired", "unpaired (two-sample t-test; pooled sd)", "seeds per model"),
    ):
        if kind not in result:
            continue
        r = result[kind]
        lines += [
            f"  {label}: sd {r['sd']:.4g}, effect size {r['effect_size']:.3g}",
            f"    needs {r['seeds']} {unit}; {r['seeds_at_sd_upper_80']} if the sd is at its "
            f"80% upper confidence limit ({r['sd_upper_80']:.4g})",
            f"    the pilot's {min(result['pilot_seeds'])} {unit} had power "
            f"{r['pilot_power']:.3f} for this difference",
        ]
    return lines


def sequential_lines(plan: Mapping[str, Any]) -> list[str]:
    lines = [
        f"sequential: {plan['method']} at alpha {plan['alpha']:g}; rounds of "
        f"{plan['round_size']} seeds per model up to {plan['maximum']}; after each round stop "
        f"when |z| of the paired test reaches the boundary (p below the nominal level):"
    ]
    for i, look in enumerate(plan["looks"], 1):
        lines.append(
            f"  look {i} at {look['seeds']} seeds: |z| >= {look['z_boundary']:.3f} "
            f"(nominal p < {look['nominal_p']:.2g}); alpha spent by then {look['alpha_spent']:.4g}"
        )
    return lines


def planned(args, names: tuple[str, str], a, b, *, paired: bool) -> dict[str, Any]:
    """``power.plan`` of the pilot's figures; its ValueError names the metric and models."""
    try:
        return power.plan(a, b, args.difference, power=args.power, alpha=args.alpha, paired=paired)
    except ValueError as e:
        raise ValueError(f"--metric {args.metric!r}, {names[0]} - {names[1]}: {e}") from None


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        check_flags(args)
        record = load_pilot(args.results)
        names = choose_models(record, args.models)
        a, b = (figures(record, n, args.metric) for n in names)
        seeds = [record["models"][n]["seeds"] for n in names]
        result = planned(args, names, a, b, paired=seeds[0] == seeds[1])
        sequential = (
            power.sequential_plan(args.round, args.maximum, args.alpha) if args.sequential else None
        )
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"plan from {args.results}, metric {args.metric}")
    print("\n".join(plan_lines(result, names, seeds)))
    if sequential is not None:
        print("\n".join(sequential_lines(sequential)))
    return 0
