"""Seeds by source: the grid's syntax and its runs, the config field, the command line."""

from __future__ import annotations

import pytest

from experiments.copy_task import train as copy_task
from rnn_attn import seed_sources
from rnn_attn.config import MAX_SEEDS, ConfigError
from rnn_attn.experiment import cli


def test_a_grid_is_parsed_in_the_order_of_the_sources():
    assert seed_sources.parse_grid("data=3, init=2", max_runs=100) == {"init": 2, "data": 3}
    assert seed_sources.parse_grid("dropout=2", max_runs=100) == {"dropout": 2}
    assert seed_sources.count_runs("init=5,data=5", max_runs=100) == 25


@pytest.mark.parametrize(
    "text, message",
    [
        ("init=0,data=5", "the count of 'init' must be an integer >= 1, got '0'"),
        ("init=-2", "the count of 'init' must be an integer >= 1, got '-2'"),
        ("init=two", "the count of 'init' must be an integer >= 1, got 'two'"),
        ("init=\u00b2", "the count of 'init' must be an integer >= 1, got '\u00b2'"),
        ("init", "the count of 'init' must be an integer >= 1, got 'init'"),
        (
            "seed=3",
            "unknown source 'seed' in 'seed=3'; expected some of ['init', 'data', 'dropout']",
        ),
        ("init=2,init=3", "names the source 'init' twice; expected once"),
        ("init=2,,data=2", "has an empty entry"),
        (" ", "has an empty entry"),
        ("init=101,data=100", "makes 10,100 runs; expected at most 10,000"),
    ],
)
def test_a_bad_grid_gets_one_message(text, message):
    with pytest.raises(ConfigError) as info:
        seed_sources.parse_grid(text, max_runs=MAX_SEEDS)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_the_grid_crosses_the_named_sources_init_major_dropout_following_init():
    runs = seed_sources.grid({"init": 2, "data": 3}, first_seed=10)
    assert runs == {
        "init": (10, 10, 10, 11, 11, 11),
        "data": (10, 11, 12, 10, 11, 12),
        "dropout": (10, 10, 10, 11, 11, 11),
    }
    # A source not named keeps the first seed; dropout, named, varies on its own.
    assert seed_sources.grid({"data": 2}, first_seed=0) == {
        "init": (0, 0),
        "data": (0, 1),
        "dropout": (0, 0),
    }
    own = seed_sources.grid({"init": 2, "dropout": 2}, first_seed=0)
    assert own["dropout"] == (0, 1, 0, 1) and own["data"] == (0, 0, 0, 0)
    # Run (i, i, i) of a grid is the default run of seed i.
    diagonal = [(i, d, r) for i, d, r in zip(*runs.values(), strict=True) if i == d == r]
    assert diagonal == [(10, 10, 10), (11, 11, 11)]
    assert seed_sources.default_sources((3, 4)) == {k: (3, 4) for k in seed_sources.SOURCES}


def test_which_sources_a_grid_crosses():
    assert seed_sources.crossed({"init": 5, "data": 5}) == ["init", "data"]
    assert seed_sources.crossed({"init": 5, "data": 1}) is None
    assert seed_sources.crossed({"init": 2, "data": 2, "dropout": 2}) is None
    assert seed_sources.varied(seed_sources.grid({"data": 3}, 0)) == ["data"]
    assert seed_sources.describe_grid({"init": 5, "data": 5}) == (
        "init 5 x data 5 (dropout follows init)"
    )


def test_the_config_knows_each_runs_seeds_and_checks_their_number():
    cfg = copy_task.CopyTaskConfig(seeds=4, seeds_by_source="init=2,data=2").validate()
    assert cfg.seed_numbers == (0, 1, 2, 3)
    assert cfg.seed_sources == {
        "init": (0, 0, 1, 1),
        "data": (0, 1, 0, 1),
        "dropout": (0, 0, 1, 1),
    }
    plain = copy_task.CopyTaskConfig(seeds=3, first_seed=5).validate()
    assert plain.seed_sources == seed_sources.default_sources((5, 6, 7))
    with pytest.raises(ConfigError, match="--seeds 3 disagrees with --seeds-by-source"):
        copy_task.CopyTaskConfig(seeds=3, seeds_by_source="init=2,data=2").validate()


def test_the_command_line_sets_seeds_to_the_grids_runs():
    cfg, _ = cli.parse(copy_task.EXPERIMENT, ["--seeds-by-source", "init=2,data=3"])
    assert cfg.seeds == 6 and cfg.seeds_by_source == "init=2,data=3"
    # Over --local's seeds (2) too, and with --seeds given as the same number.
    cfg, _ = cli.parse(copy_task.EXPERIMENT, ["--local", "--seeds-by-source", "data=3"])
    assert cfg.seeds == 3 and cfg.seed_sources["init"] == (0, 0, 0)
    cfg, _ = cli.parse(copy_task.EXPERIMENT, ["--seeds", "4", "--seeds-by-source", "init=4"])
    assert cfg.seeds == 4
    with pytest.raises(ConfigError, match=r"--seeds 5 disagrees .* \(4 runs\); expected --seeds 4"):
        cli.parse(copy_task.EXPERIMENT, ["--seeds", "5", "--seeds-by-source", "init=2,data=2"])
    plain, _ = cli.parse(copy_task.EXPERIMENT, [])
    assert plain.seeds_by_source == "" and plain.seeds == 10


def test_help_says_the_grid_syntax(capsys):
    with pytest.raises(SystemExit):
        cli.main(copy_task.EXPERIMENT, ["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--seeds-by-source SEEDS_BY_SOURCE" in out
    assert "'init=I,data=D[,dropout=K]'" in out and "dropout follows init unless named" in out
