"""rnn_attn.config: limits declared on the fields and enforced by check_fields."""

from __future__ import annotations

import dataclasses
import importlib

import pytest

from rnn_attn.config import (
    MAX_SEED,
    OPTIMIZERS,
    ConfigError,
    RunConfig,
    check_fields,
    field,
    fit_fields,
    override,
    split_names,
)

CONFIGS = {
    "copy_task": "CopyTaskConfig",
    "imdb": "ImdbConfig",
    "imdb_glove": "GloveConfig",
    "char_textgen": "TextGenConfig",
    "weather": "WeatherConfig",
    "vanishing_gradients": "VanishingConfig",
}


@dataclasses.dataclass(frozen=True)
class Toy(RunConfig):
    width: int = field(4, "an integer >= 1", minimum=1)
    rate: float = field(0.5, "a number in (0, 1]", above=0.0, maximum=1.0)
    kind: str = field("a", "a choice", choices=("a", "b"))
    names: str = field("x,y", "names", items=("x", "y", "z"), item="letter")
    flag: bool = field(False, "a switch")


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"width": 0}, "--width must be an integer >= 1, got 0"),
        ({"width": 2.0}, "--width must be an integer, got 2.0"),
        ({"width": True}, "--width must be an integer, got True"),
        ({"rate": 0.0}, "--rate must be a number in (0, 1], got 0.0"),
        ({"rate": 1.5}, "--rate must be a number in (0, 1], got 1.5"),
        ({"rate": float("inf")}, "--rate must be a finite number, got inf"),
        ({"rate": "high"}, "--rate must be a finite number, got 'high'"),
        ({"kind": "c"}, "--kind must be one of ['a', 'b'], got 'c'"),
        ({"names": "x,w"}, "unknown letter 'w'; expected one of ['x', 'y', 'z']"),
        ({"names": " , "}, "--names is empty; expected some of ['x', 'y', 'z']"),
        ({"names": "x,x"}, "--names repeats a letter: 'x,x'"),
        ({"flag": 1}, "--flag must be True or False, got 1"),
        ({"seeds": 0}, "--seeds must be an integer >= 1, got 0"),
        ({"first_seed": -1}, "--first-seed must be an integer >= 0, got -1"),
        ({"first_seed": MAX_SEED + 1}, f"--first-seed must be an integer <= {MAX_SEED}, got"),
        ({"width": 2**31}, "--width must be an integer <= 2147483647, got 2147483648"),
        ({"first_seed": MAX_SEED, "seeds": 2}, "runs past the largest seed"),
        ({"on_nonfinite": "ignore"}, "--on-nonfinite must be one of ['stop', 'skip']"),
    ],
)
def test_each_declared_limit_is_enforced(changes, message):
    with pytest.raises(ConfigError, match=None) as info:
        Toy(**changes).validate()
    assert message in str(info.value)


def test_values_on_the_limits_pass():
    Toy(width=1, rate=1.0, kind="b", names="z", flag=True, first_seed=MAX_SEED, seeds=1).validate()
    check_fields(Toy(rate=1e-12))


def test_split_names():
    assert split_names(" a, b,,c ,") == ["a", "b", "c"]
    assert split_names("") == []


@pytest.mark.parametrize("module", sorted(CONFIGS))
def test_every_experiment_config_validates_its_defaults_and_shares_the_run_fields(module):
    cls = getattr(importlib.import_module(f"experiments.{module}.config"), CONFIGS[module])
    assert issubclass(cls, RunConfig)
    config = cls().validate()
    assert config.seed_numbers == tuple(range(config.seeds))
    names = {f.name for f in dataclasses.fields(cls)}
    assert {"seeds", "first_seed", "checkpoint_every", "on_nonfinite", "cpu_devices"} <= names


@pytest.mark.parametrize("module", sorted(CONFIGS))
def test_every_bounded_field_of_every_experiment_refuses_a_value_past_its_bound(module):
    cls = getattr(importlib.import_module(f"experiments.{module}.config"), CONFIGS[module])
    checked = 0
    for f in dataclasses.fields(cls):
        low = f.metadata.get("minimum", f.metadata.get("above"))
        if low is None:
            continue
        bad = low - 1 if f.metadata.get("minimum") is not None else low
        bad = type(f.default)(bad)
        with pytest.raises(ConfigError, match="--" + f.name.replace("_", "-")):
            cls(**{f.name: bad}).validate()
        checked += 1
    assert checked >= 3


def test_fit_fields_take_the_named_shared_fields_with_the_experiments_defaults():
    @dataclasses.dataclass(frozen=True)
    class Fit(fit_fields(epochs=7, learning_rate=0.5)):
        seeds: int = override("seeds", 4)
        epochs: int = override("epochs", 9, help="passes over the data")

    fields = {f.name: f for f in dataclasses.fields(Fit)}
    assert set(fields) == {
        "seeds",
        "first_seed",
        "seeds_by_source",
        "checkpoint_every",
        "on_nonfinite",
        "cpu_devices",
        "epochs",
        "learning_rate",
    }
    assert Fit().validate() == Fit(seeds=4, epochs=9, learning_rate=0.5)
    assert fields["epochs"].metadata["help"] == "passes over the data"
    assert fields["seeds"].metadata["maximum"] == 10_000  # the shared limits stay
    with pytest.raises(ConfigError, match="--learning-rate must be a positive number"):
        Fit(learning_rate=0.0).validate()
    with pytest.raises(ConfigError, match="--epochs must be an integer >= 1"):
        Fit(epochs=0).validate()
    with pytest.raises(TypeError, match="unknown fit fields \\['epoch'\\]"):
        fit_fields(epoch=3)
    with pytest.raises(TypeError, match="no shared field 'width'"):
        override("width", 3)


def test_the_optimizer_choices_are_the_optimizers_the_library_builds():
    from rnn_attn.train.optimizers import KERAS_OPTIMIZERS

    assert OPTIMIZERS == KERAS_OPTIMIZERS
