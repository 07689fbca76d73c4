"""``--sweep NAME=V1,V2,...``: the grid of settings a run tunes each model over.

The flag is repeatable and the grid is the product of its lists, in the order given
(``--sweep learning_rate=1e-3,3e-3 --sweep dropout=0,0.5``: four settings). A NAME is a
config field that only the experiment's optimizer reads (``spec.Sweepable.fields``: a
learning rate, a momentum) or a constructor argument its models take as a traced array
(``Sweepable.model_arguments``: a dropout rate, a penalty's coefficient); none changes an
array's shape or the program, so every (setting, seed) pair of a model, a trial, trains
in one compiled program (``rnn_attn.train.trials``). ``tuning.run`` trains the trials,
selects each model's setting on VALIDATION data and reports it on fresh seeds.

``parse`` refuses, with one ConfigError each, before anything is built: a malformed
``NAME=...``, an empty value list or an empty value, a value that is not a finite number,
a repeated value or name, an unknown name, a setting one program cannot vary (a shape, the
data, the program: ``units``, ``maxlen``, ``epochs`` ...), a config value outside its
field's limits, a run without validation data apart from its test data
(``Sweepable.check``), fresh seeds past the 32-bit range, and ``--seeds-by-source``
beside it. A model without one of the
swept arguments is refused when the models are built (``tuning.binds``); a sweep whose
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
# A choice that changes the optimizer state's structure: one program per value, not yet.
STRUCTURAL_NAMES = ("optimizer", "cell", "attention")


@dataclasses.dataclass(frozen=True)
class Grid:
    """The swept names and each one's values, in the order given; ``settings`` is their
    product (the first name varies slowest)."""

    names: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]

    @property
    def settings(self) -> list[dict[str, float]]:
        return [dict(zip(self.names, v, strict=True)) for v in itertools.product(*self.values)]

    def record(self) -> dict[str, list[float]]:
        """The grid as saved in the run's config record (compared on ``--resume``)."""
        return {n: list(v) for n, v in zip(self.names, self.values, strict=True)}


def help_text(spec) -> str:
    """``--sweep``'s help: the syntax, the protocol and the names this experiment takes."""
    sweepable = spec.sweep
    if sweepable is None:
        names = f"{spec.name} declares no sweepable setting"
    else:
        names = f"names: {', '.join(sweepable.fields)} (config)"
        if sweepable.model_arguments:
            names += f"; {', '.join(sweepable.model_arguments)} (of the models that take them)"
    return (
        "NAME=V1,V2,... (repeatable; the grid is the product of the lists): every (setting, "
        "seed) pair is a trial and a model's trials train as one compiled program; each "
        "model's setting is chosen on VALIDATION data and then trained and reported on "
        f"--seeds fresh seeds (after the tuning seeds). {names}"
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
    values: list[tuple[float, ...]] = []
    for text in texts:
        name = split_name(text)
        if name in names:
            raise ConfigError(
                f"--sweep names {name!r} twice; expected each name once (the grid is the "
                f"product of the lists)"
            )
        classify(spec, cfg, name)
        numbers = parse_values(name, text.partition("=")[2])
        for value in numbers:
            check_config_value(spec, cfg, name, value)
        names.append(name)
        values.append(numbers)
    if spec.sweep.check is not None:
        spec.sweep.check(cfg)
    check_fresh_seeds(cfg)
    return Grid(tuple(names), tuple(values))


def split_name(text: str) -> str:
    """The NAME of ``NAME=V1,V2,...`` (dashes read as underscores, as in the flags)."""
    name, sep, _ = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not name:
        raise ConfigError(
            f"--sweep {text!r}: expected NAME=V1,V2,... (e.g. learning_rate=1e-3,3e-3)"
        )
    return name


def parse_values(name: str, rest: str) -> tuple[float, ...]:
    """``V1,V2,...`` -> distinct finite numbers, at least one."""
    if not rest.strip():
        raise ConfigError(
            f"--sweep {name}: an empty value list; expected at least one value, e.g. {name}=0.1,0.2"
        )
    numbers = []
    for part in rest.split(","):
        part = part.strip()
        if not part:
            raise ConfigError(f"--sweep {name}={rest}: an empty value; expected numbers")
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


def classify(spec, cfg: Any, name: str) -> None:
    """ConfigError unless ``name`` is one of the experiment's sweepable names, saying why
    a name one program cannot vary is refused."""
    sweepable = spec.sweep
    if name in sweepable.names:
        return
    allowed = f"{spec.name} sweeps {', '.join(sweepable.names)}"
    if name in STRUCTURAL_NAMES:
        raise ConfigError(
            f"--sweep {name}: {name!r} changes the structure of the optimizer state or "
            f"the model, so each value needs a program of its own, which --sweep does not "
            f"run yet; expected one run per value ({allowed})"
        )
    fields = {f.name for f in dataclasses.fields(cfg)}
    if name in FIXED_NAMES or name in fields:
        raise ConfigError(
            f"--sweep {name}: {name!r} changes the arrays' shapes, the data or the program, "
            f"which one compiled program per model cannot vary; expected a setting that "
            f"changes values only ({allowed})"
        )
    raise ConfigError(f"--sweep {name}: unknown name; expected one of {', '.join(sweepable.names)}")


def check_config_value(spec, cfg: Any, name: str, value: float) -> None:
    """A config field's swept value within the field's limits (and the config's own
    checks, e.g. a momentum for SGD only), as if it were given as the flag."""
    if name not in spec.sweep.fields:
        return  # a model argument: checked by the model when the models are built
    try:
        dataclasses.replace(cfg, **{name: value}).validate()
    except ConfigError as e:
        raise ConfigError(f"--sweep {name}={value:g}: {e}") from None


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
