"""The ``results.json`` schema: one envelope for every experiment, versioned.

The schema is ``results_schema_v1.json`` beside this module (JSON Schema, draft 2020-12);
``validate`` checks a record against it and makes the two checks JSON Schema cannot
express; ``migrate`` upgrades a record written by older code. docs/results_schema.md says
the same for readers of the files.

Version 1, top-level keys:

- required: ``schema_version`` (the integer 1), ``experiment`` (str), ``config`` (the
  run's config as a dict), ``devices`` (platform, device_count, mesh ...), ``metrics``
  (``{name: what it means}``, training figures labelled TRAINING), ``models``,
  ``comparison`` (object, or null: one model, one seed, or none recorded), ``timing``
  and ``files`` (``{name: path}``, relative or absolute; may be empty);
- optional: ``reference`` (str: the document's figures), ``data`` (object or str: what data
  was used), ``fingerprints`` (``{path: {"sha256", "bytes"}}`` of every data file read;
  ``{}``: generated data), ``nonfinite`` (written by ``write_results``), ``baseline`` (weather),
  ``reference_perplexities_on_training_text`` (char_textgen), ``decoding`` (seq2seq: how
  the outputs were decoded). No other top-level key is
  allowed: the list is explicit, in the schema file.

``comparison`` maps each compared metric to a comparison of two models (``stats.compare``)
or ``{"comparisons": [...]}`` of such (``stats.compare_many``); other shapes written
before stay valid. A comparison of two models may hold ``paired`` (both models ran the
same seeds: ``seeds`` (and ``seeds_by_source`` when the runs varied their sources
separately and were paired by them), ``n``, the per-seed differences' ``mean_difference``,
``std_difference``, ``confidence``, ``ci_low``, ``ci_high``, ``t_test`` and ``wilcoxon``,
each p-value with an optional ``p_value_holm``) and ``headline`` (``kind`` paired or
unpaired, ``test``, ``p_value``, ``why``); ``validate`` checks them and that ``paired.seeds``
are both named models' seeds and ``headline.kind`` agrees with ``paired``.

``models`` maps each model's name to an object with ``seeds`` (integers, strictly
ascending) and ``per_seed`` (``{metric: [one entry per seed, in the order of seeds]}``,
each a number, a string or null), both required; optional ``parameters`` (int),
``summary`` (``{metric: statistics object}`` or null), ``history_per_seed`` (one
``{metric: [per-epoch numbers]}`` per seed), ``learned_nothing`` (``{metric, chance,
margin, seeds}``: the seeds whose metric stayed at chance), ``seeds_by_source``
(``{init, data, dropout}``: each run's seed of every source, one per seed),
``variance_by_source`` (per metric, ``analysis.variance.decompose``'s record of a grid
that crossed two sources), and with ``--sweep`` ``trials`` (one ``{hyperparameters,
seeds, per_seed}`` per setting of the grid, each per_seed list one entry per trial seed;
a hyperparameter a number, or a swept choice's word such as ``"rmsprop"``)
and ``selected`` (``{hyperparameters, figure, higher_is_better, mean, tuning_seeds,
seeds, rule}``: the setting chosen on VALIDATION data, whose figures on the fresh
``seeds`` are the model's ``per_seed``); any other key (``vs_baseline``,
``samples_per_seed`` ...) is the experiment's own. ``timing`` holds ``total_seconds``
(number), ``compile_seconds`` and ``train_seconds`` (number, or null: not measured), all
required, and any other ``*_seconds`` number (``evaluate_seconds`` ...).

A missing value is written as ``null``, never left out of a per-seed list (the lists stay
aligned with ``seeds``) and never as NaN: ``write_results`` writes each non-finite float as
null and lists it under ``nonfinite`` (its path, e.g. ``models.gru.per_seed.val_mae[2]``,
and its repr). ``write_results`` validates a record that has ``schema_version`` before
writing it; records without schema_version are the pre-v1 envelopes of experiments not
yet moved to the runner, written unchecked.

Changing the schema:

- an optional key may be added within a version: add it to the schema file (for a
  top-level key, to its explicit list of properties) with its type and a description, and
  to docs/results_schema.md; older files stay valid. The data's ``fingerprints``, a
  comparison's ``paired`` and ``headline``, a model's ``seeds_by_source`` and
  ``variance_by_source``, and a swept model's ``trials`` and ``selected`` were added so;
  the ``decoding`` settings are planned so;
- renaming or removing a key, changing its type or meaning, or making a key required is a
  new version: copy the schema file to ``results_schema_v<N+1>.json`` and change the copy,
  raise ``SCHEMA_VERSION``, and add to ``MIGRATIONS`` the step that upgrades a version-N
  record (keeping key order; filling only what is honest, e.g. null for "not measured",
  never an invented figure), with a test that an old record migrates to a valid one.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections.abc import Callable, Mapping
from typing import Any

import jsonschema

SCHEMA_VERSION = 1
SCHEMA_FILE = f"results_schema_v{SCHEMA_VERSION}.json"
PRE_SCHEMA = 0  # the version of a record without "schema_version": the first envelopes


@functools.cache
def schema() -> dict:
    """The current schema (the JSON file shipped in this package)."""
    text = importlib.resources.files(__package__).joinpath(SCHEMA_FILE).read_text("utf-8")
    return json.loads(text)


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema())
    cls.check_schema(schema())
    return cls(schema())


def validate(record: Any) -> None:
    """Checks ``record`` (the JSON form: dicts, lists, str, numbers, None) against the
    schema of version ``SCHEMA_VERSION``; raises ValueError naming the first problem's
    path (``models.gru.per_seed.val_mae``) and what was expected there."""
    errors = list(_validator().iter_errors(record))
    if errors:
        first = jsonschema.exceptions.best_match(errors)
        raise ValueError(_message(*_explain(first), len(errors) - 1))
    for name, model in record["models"].items():
        where = f"models.{name}"
        seeds = model["seeds"]
        if any(a >= b for a, b in zip(seeds, seeds[1:], strict=False)):
            raise ValueError(
                _message(f"{where}.seeds", f"expected strictly ascending seed numbers, got {seeds}")
            )
        lists = [
            (f"{where}.per_seed.{metric}", values) for metric, values in model["per_seed"].items()
        ]
        if "history_per_seed" in model:
            lists.append((f"{where}.history_per_seed", model["history_per_seed"]))
        for source, values in model.get("seeds_by_source", {}).items():
            lists.append((f"{where}.seeds_by_source.{source}", values))
        _check_trials(where, model)
        for path, values in lists:
            if len(values) != len(seeds):
                raise ValueError(
                    _message(
                        path,
                        f"expected {len(seeds)} entries (one per "
                        f"seed, in the order of seeds {seeds}), "
                        f"got {len(values)}",
                    )
                )
    _check_pairing(record)


def _two_model_comparisons(comparison: Any, path: str):
    """``(path, comparison of two models)`` for each one below ``comparison`` (a metric's
    ``stats.compare`` or the items of a ``stats.compare_many``)."""
    if isinstance(comparison, list):
        for i, item in enumerate(comparison):
            yield from _two_model_comparisons(item, f"{path}[{i}]")
    elif isinstance(comparison, Mapping):
        if "headline" in comparison or "paired" in comparison:
            yield path, comparison
        if "comparisons" in comparison:
            yield from _two_model_comparisons(comparison["comparisons"], f"{path}.comparisons")


def _check_pairing(record: Mapping[str, Any]) -> None:
    """A comparison is ``paired`` exactly when its headline says so, and its paired seeds
    (and seeds by source) are those both compared models ran."""
    for key, value in (record.get("comparison") or {}).items():
        for path, c in _two_model_comparisons(value, f"comparison.{key}"):
            paired = "paired" in c
            kind = c.get("headline", {}).get("kind")
            if kind is not None and (kind == "paired") != paired:
                raise ValueError(
                    _message(
                        f"{path}.headline.kind",
                        f"expected {'paired' if paired else 'unpaired'} (the comparison "
                        f"{'has' if paired else 'has no'} paired results), got {kind!r}",
                    )
                )
            if not paired:
                continue
            for name in c.get("names", []):
                for key in ("seeds", "seeds_by_source"):
                    ran = record["models"].get(name, {}).get(key)
                    if key in c["paired"] and ran is not None and ran != c["paired"][key]:
                        raise ValueError(
                            _message(
                                f"{path}.paired.{key}",
                                f"expected the {key.replace('_', ' ')} model {name!r} ran "
                                f"({ran}), got {c['paired'][key]}",
                            )
                        )


def _check_trials(where: str, model: Mapping[str, Any]) -> None:
    """Each trial's per_seed lists one entry per trial seed, and ``selected.seeds`` are
    the model's own (its per_seed holds the selected setting's figures on them)."""
    for k, trial in enumerate(model.get("trials", ())):
        seeds = trial["seeds"]
        for metric, values in trial["per_seed"].items():
            if len(values) != len(seeds):
                raise ValueError(
                    _message(
                        f"{where}.trials[{k}].per_seed.{metric}",
                        f"expected {len(seeds)} entries (one per seed of the trial, {seeds}), "
                        f"got {len(values)}",
                    )
                )
    selected = model.get("selected")
    if selected is not None and selected["seeds"] != model["seeds"]:
        raise ValueError(
            _message(
                f"{where}.selected.seeds",
                f"expected the model's seeds {model['seeds']}, got {selected['seeds']}",
            )
        )


def _message(path: str, what: str, more: int = 0) -> str:
    also = f" (and {more} more problem{'s' * (more > 1)})" if more else ""
    return f"results.json (schema version {SCHEMA_VERSION}): {path}: {what}{also}"


def _explain(error: jsonschema.ValidationError) -> tuple[str, str]:
    """``(path, what was expected)`` for one schema error, in words."""
    where = _path(error.absolute_path)
    kind, value, instance = error.validator, error.validator_value, error.instance
    if kind == "required":
        missing = next(k for k in value if k not in instance)
        if missing == "schema_version" and not error.absolute_path:
            return missing, (
                "required key missing (a record without it predates the schema: "
                "read it through schema.migrate)"
            )
        return _join(where, missing), "required key missing"
    if kind == "additionalProperties" and value is False:
        allowed = error.schema.get("properties", {})
        extra = next(k for k in instance if k not in allowed)
        return _join(where, extra), (
            f"not a key of schema version {SCHEMA_VERSION} (allowed here: "
            f"{', '.join(allowed)}; a new optional key is added to the schema first, see "
            f"docs/results_schema.md)"
        )
    if kind == "type":
        expected = " or ".join(
            _TYPE_WORDS[t] for t in ([value] if isinstance(value, str) else value)
        )
        return where, f"expected {expected}, got {_json_type(instance)} {_short(instance)}"
    if kind == "const":
        return where, f"expected {value!r}, got {_short(instance)}"
    return where, error.message


_TYPE_WORDS = {
    "object": "an object",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    for kind, types in (
        ("true or false", bool),
        ("an integer", int),
        ("a number", float),
        ("a string", str),
        ("a list", list),
        ("an object", dict),
    ):
        if isinstance(value, types):
            return kind
    return type(value).__name__


def _short(value: Any) -> str:
    text = json.dumps(value, default=repr) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _path(parts) -> str:
    path = ""
    for part in parts:
        path = f"{path}[{part}]" if isinstance(part, int) else _join(path, str(part))
    return path or "(the record)"


def _join(path: str, key: str) -> str:
    return key if path in ("", "(the record)") else f"{path}.{key}"


def migrate(record: Mapping[str, Any]) -> dict[str, Any]:
    """``record`` upgraded to version ``SCHEMA_VERSION`` (a new dict; the argument is not
    changed): each step of ``MIGRATIONS`` from the record's version on. A current record is
    returned as it is. It does not validate: a record missing what no step can honestly
    fill (``experiment``, ``config`` ...) still fails ``validate``. ValueError for a
    version newer than this code's."""
    version = record.get("schema_version", PRE_SCHEMA)
    if isinstance(version, bool) or not isinstance(version, int) or version < PRE_SCHEMA:
        raise ValueError(_message("schema_version", f"expected an integer, got {_short(version)}"))
    if version > SCHEMA_VERSION:
        raise ValueError(
            _message("schema_version", f"{version} is newer than this code reads; update rnn_attn")
        )
    out = dict(record)
    while version < SCHEMA_VERSION:
        out = MIGRATIONS[version](out)
        version += 1
    return out


def _from_pre_schema(record: dict[str, Any]) -> dict[str, Any]:
    """Version 0 (no ``schema_version``) to 1: ``timing_seconds`` (a number, or the copy
    task's ``{"total": x, <part>: y}``) becomes ``timing`` (``total_seconds``, each part as
    ``<part>_seconds``, compile and train null where not measured); a missing
    ``comparison`` becomes null (none recorded) and missing ``files`` ``{}``."""
    items = [("schema_version", 1)]
    for key, value in record.items():
        if key == "schema_version":
            continue
        items.append(("timing", _timing(value)) if key == "timing_seconds" else (key, value))
    keys = [k for k, _ in items]
    if "comparison" not in keys:
        _insert_after(items, "models", ("comparison", None))
    if "files" not in keys:
        _insert_after(items, "timing", ("files", {}))
    out = dict(items)
    if "nonfinite" in out:  # last, as write_results puts it; paths into timing_seconds moved
        out["nonfinite"] = {_timing_path(p): v for p, v in out.pop("nonfinite").items()}
    return out


def _timing(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping) and "total" in value:
        parts = {_seconds(k): v for k, v in value.items() if k != "total"}
        return {
            "total_seconds": value["total"],
            "compile_seconds": parts.pop("compile_seconds", None),
            "train_seconds": parts.pop("train_seconds", None),
            **parts,
        }
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return {"total_seconds": value, "compile_seconds": None, "train_seconds": None}
    raise ValueError(
        _message(
            "timing_seconds",
            f'expected a number or {{"total": seconds, '
            f"...}} (a record before schema version "
            f"1), got {_short(value)}",
        )
    )


def _seconds(key: str) -> str:
    return key if key.endswith("_seconds") else f"{key}_seconds"


def _timing_path(path: str) -> str:
    if path == "timing_seconds" or path == "timing_seconds.total":
        return "timing.total_seconds"
    if path.startswith("timing_seconds."):
        return "timing." + _seconds(path.removeprefix("timing_seconds."))
    return path


def _insert_after(items: list[tuple[str, Any]], anchor: str, item: tuple[str, Any]) -> None:
    """Puts ``item`` after the key ``anchor`` (at the end without it, before nonfinite)."""
    keys = [k for k, _ in items]
    at = (
        keys.index(anchor) + 1
        if anchor in keys
        else (keys.index("nonfinite") if "nonfinite" in keys else len(items))
    )
    items.insert(at, item)


# MIGRATIONS[n] upgrades a version-n record to version n + 1.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    PRE_SCHEMA: _from_pre_schema,
}
