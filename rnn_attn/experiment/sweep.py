"""``--sweep NAME=V1,V2,...``: the grid of settings a run tunes each model over.

The flag is repeatable and the grid is the product of its lists, in the order given
(``--sweep learning_rate=1e-3,3e-3 --sweep dropout=0,0.5``: four settings). A NAME is a
config field that only the experiment's optimizer reads (``spec.Sweepable.fields``: a
learning rate, a momentum) or a constructor argument its models take as a traced array
(``Sweepable.model_arguments``: a dropout rate, a penalty's coefficient); none changes an
array's shape or the program, so every (setting, seed) pair of a model, a trial, trains
in one compiled program (``rnn_attn.train.trials``). A CHOICE (``CHOICE_NAMES``: the
``optimizer``, where the config has that field with choices) changes the optimizer
state's structure: its values are words, and the trials that share one (every numeric
setting x every seed) train as one program, so a model has one program per choice
(``Grid.programs``). ``tuning.run`` trains the trials, selects each model's setting
over the whole grid on VALIDATION data and reports it on fresh seeds.

``parse`` refuses, with one ConfigError each, before anything is built: a malformed
``NAME=...``, an empty value list or an empty value, a value that is not a finite number
(or, for a choice, not one of the field's choices), a repeated value or name, an unknown
name, a choice the config has no field for, a setting one program cannot vary (a shape,
the data, the program: ``units``, ``maxlen``, ``epochs`` ...; the model's structure:
``cell``, ``attention``), a config value outside its field's limits (with a choice swept:
each setting's config values together, e.g. a momentum for Adam), a run without
validation data apart from its test data (``Sweepable.check``), fresh seeds past the
32-bit range, and ``--seeds-by-source`` beside it. A model without one of the swept
arguments is refused when the models are built (``tuning.checked_bind``); a sweep whose
trials would not fit in memory, before the first model trains.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence
from typing import Any

from rnn_attn.config import MAX_SEED, ConfigError

# Names that change an array's shape, the data or the program wherever they occur (as a
# config field or as a model's constructor argument): refused with the reason, not as
# unknown.
FIXED_NAMES = (
    "batch_size",
    "cardinality",
    "embed_dim",
    "epochs",
    "hidden_units",
    "length",
    "maxlen",
    "num_words",
    "seeds",
    "steps",
    "units",
    "vocab_size",
)
# Config fields whose values are words (the field's choices) that change the optimizer
# state's structure: one compiled program per value (``Grid.programs``).
CHOICE_NAMES = ("optimizer",)
# Choices that change the model's structure: a run per value, not a sweep.
STRUCTURAL_NAMES = ("cell", "attention")

Value = float | str  # a number, or a choice's word


@dataclasses.dataclass(frozen=True)
class Grid:
    """The swept names and each one's values, in the order given; ``settings`` is their
    product (the first name varies slowest). A choice's values (``CHOICE_NAMES``) are
    words, the others' numbers."""

    names: tuple[str, ...]
    values: tuple[tuple[Value, ...], ...]

    @property
    def settings(self) -> list[dict[str, Value]]:
        return [dict(zip(self.names, v, strict=True)) for v in itertools.product(*self.values)]

    def record(self) -> dict[str, list[Value]]:
        """The grid as saved in the run's config record (compared on ``--resume``)."""
        return {n: list(v) for n, v in zip(self.names, self.values, strict=True)}

    def part(self, chosen) -> Grid:
        """The grid of the names ``chosen(name)`` keeps, in the same order."""
        kept = [(n, v) for n, v in zip(self.names, self.values, strict=True) if chosen(n)]
        return Grid(tuple(n for n, _ in kept), tuple(v for _, v in kept))

    @property
    def programs(self) -> list[dict[str, str]]:
        """Each compiled program's choices (``[{}]``: one program, no choice swept)."""
        return self.part(lambda n: n in CHOICE_NAMES).settings

    @property
    def traced(self) -> Grid:
        """The numbers, traced inside each program: every program's trials are their
        settings x the seeds."""
        return self.part(lambda n: n not in CHOICE_NAMES)


def shown(setting: dict[str, Value]) -> str:
    """A setting in words: ``learning_rate=0.001, optimizer=rmsprop``."""
    return ", ".join(f"{k}={v}" if isinstance(v, str) else f"{k}={v:g}" for k, v in setting.items())


def choice_fields(config: type) -> dict[str, tuple[str, ...]]:
    """The choices (``CHOICE_NAMES``) the config class has as a field with choices, and
    each one's allowed words."""
    fields = {f.name: f.metadata.get("choices") for f in dataclasses.fields(config)}
    return {n: tuple(fields[n]) for n in CHOICE_NAMES if fields.get(n)}


def help_text(spec) -> str:
    """``--sweep``'s help: the syntax, the protocol and the names this experiment takes."""
    sweepable = spec.sweep
    if sweepable is None:
        names = f"{spec.name} declares no sweepable setting"
    else:
        names = f"names: {', '.join(sweepable.fields)} (config)"
        if sweepable.model_arguments:
            names += f"; {', '.join(sweepable.model_arguments)} (of the models that take them)"
        for name, words in choice_fields(spec.config).items():
            names += f"; {name} (one program per value: {', '.join(words)})"
    return (
        "NAME=V1,V2,... (repeatable; the grid is the product of the lists): every (setting, "
        "seed) pair is a trial and a model's trials train as one compiled program (one per "
        "value of a swept optimizer); each model's setting is chosen on VALIDATION data "
        f"and then trained and reported on --seeds fresh seeds (after the tuning seeds). {names}"
    )


def parse(spec, cfg: Any, texts: Sequence[str] | None) -> Grid | None:
    """The grid of ``--sweep`` flags ``texts`` (None: no sweep), checked against the
    experiment ``spec`` and its config ``cfg``; ConfigError for anything wrong."""
    if not texts:
        return None
    if spec.sweep is None:
        raise ConfigError(
            f"--sweep: {spec.name} declares no sweepable setting (no Experiment.sweep); "
            f"expected no --sweep"
        )
    if getattr(cfg, "seeds_by_source", ""):
        raise ConfigError(
            f"--sweep with --seeds-by-source {cfg.seeds_by_source!r}: a trial is a setting "
            f"x a seed number, and the fresh seeds a setting is reported on have no source "
            f"grid; expected one of the two flags"
        )
    names: list[str] = []
    values: list[tuple[Value, ...]] = []
    for text in texts:
        name = split_name(text)
        if name in names:
            raise ConfigError(
                f"--sweep names {name!r} twice; expected each name once (the grid is the "
                f"product of the lists)"
            )
        classify(spec, cfg, name)
        rest = text.partition("=")[2]
        if name in CHOICE_NAMES:
            values.append(parse_choices(name, rest, choice_fields(cfg)[name]))
        else:
            values.append(parse_values(name, rest))
        names.append(name)
    grid = Grid(tuple(names), tuple(values))
    check_config_values(spec, cfg, grid)
    if spec.sweep.check is not None:
        spec.sweep.check(cfg)
    check_fresh_seeds(cfg)
    return grid


def split_name(text: str) -> str:
    """The NAME of ``NAME=V1,V2,...`` (dashes read as underscores, as in the flags)."""
    name, sep, _ = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not name:
        raise ConfigError(
            f"--sweep {text!r}: expected NAME=V1,V2,... (e.g. learning_rate=1e-3,3e-3)"
        )
    return name


def split_values(name: str, rest: str, expected: str, example: str = "0.1,0.2") -> list[str]:
    """``V1,V2,...`` -> the values' texts, at least one, none empty."""
    if not rest.strip():
        raise ConfigError(
            f"--sweep {name}: an empty value list; expected at least one value, e.g. "
            f"{name}={example}"
        )
    parts = [part.strip() for part in rest.split(",")]
    if not all(parts):
        raise ConfigError(f"--sweep {name}={rest}: an empty value; expected {expected}")
    return parts


def parse_values(name: str, rest: str) -> tuple[float, ...]:
    """``V1,V2,...`` -> distinct finite numbers, at least one."""
    numbers = []
    for part in split_values(name, rest, "numbers"):
        try:
            number = float(part)
        except ValueError:
            raise ConfigError(f"--sweep {name}: {part!r} is not a number") from None
        if not math.isfinite(number):
            raise ConfigError(f"--sweep {name}: {part!r} is not a finite number")
        if number in numbers:
            raise ConfigError(
                f"--sweep {name}={rest} repeats the value {number:g}; expected distinct values"
            )
        numbers.append(number)
    return tuple(numbers)


def parse_choices(name: str, rest: str, allowed: Sequence[str]) -> tuple[str, ...]:
    """``W1,W2,...`` -> distinct words among the config field's ``allowed`` choices."""
    words: list[str] = []
    expected = f"some of {', '.join(allowed)}"
    for word in split_values(name, rest, expected, ",".join(allowed[:2])):
        if word not in allowed:
            raise ConfigError(
                f"--sweep {name}: {word!r} is not a choice of --{name}; expected {expected}"
            )
        if word in words:
            raise ConfigError(
                f"--sweep {name}={rest} repeats the value {word}; expected distinct values"
            )
        words.append(word)
    return tuple(words)


def classify(spec, cfg: Any, name: str) -> None:
    """ConfigError unless ``name`` is one of the experiment's sweepable names, saying why
    a name one program (or one program per choice) cannot vary is refused."""
    sweepable = spec.sweep
    if name in sweepable.names or name in choice_fields(cfg):
        return
    names = ", ".join([*sweepable.names, *choice_fields(cfg)])
    allowed = f"{spec.name} sweeps {names}"
    if name in CHOICE_NAMES:
        raise ConfigError(
            f"--sweep {name}: {spec.name}'s config has no --{name} with choices (its "
            f"{name} is fixed); expected one of {names}"
        )
    if name in STRUCTURAL_NAMES:
        raise ConfigError(
            f"--sweep {name}: {name!r} changes the structure of the model, so each value "
            f"needs a run of its own, which --sweep does not make; expected one run per "
            f"value ({allowed})"
        )
    fields = {f.name for f in dataclasses.fields(cfg)}
    if name in FIXED_NAMES or name in fields:
        raise ConfigError(
            f"--sweep {name}: {name!r} changes the arrays' shapes, the data or the program, "
            f"which one compiled program per model cannot vary; expected a setting that "
            f"changes values only ({allowed})"
        )
    raise ConfigError(f"--sweep {name}: unknown name; expected one of {names}")


def check_config_values(spec, cfg: Any, grid: Grid) -> None:
    """The swept config fields' values within their limits (and the config's own checks,
    e.g. a momentum for SGD only), as if given as the flags: each value alone, or, with
    a choice swept, each setting's values together (a momentum with each optimizer)."""
    fields = [n for n in grid.names if n in spec.sweep.fields or n in CHOICE_NAMES]
    if not any(n in CHOICE_NAMES for n in grid.names):
        for name in fields:
            for value in grid.values[grid.names.index(name)]:
                check_setting(cfg, {name: value})
        return
    for setting in grid.part(lambda n: n in fields).settings:
        check_setting(cfg, setting)


def check_setting(cfg: Any, setting: dict[str, Value]) -> None:
    """``cfg`` with the config fields ``setting`` valid (model arguments: checked by the
    model when the models are built)."""
    try:
        dataclasses.replace(cfg, **setting).validate()
    except ConfigError as e:
        raise ConfigError(f"--sweep {shown(setting)}: {e}") from None


def check_fresh_seeds(cfg: Any) -> None:
    """The selected settings train again on the seeds after the tuning seeds: they must
    fit the 32-bit seed range too."""
    last = cfg.first_seed + 2 * cfg.seeds - 1
    if last > MAX_SEED:
        raise ConfigError(
            f"--sweep reports the selected settings on fresh seeds {cfg.first_seed + cfg.seeds}"
            f"..{last}, past the largest seed {MAX_SEED} (seeds are 32-bit); expected a "
            f"smaller --first-seed"
        )
