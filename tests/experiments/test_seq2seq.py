"""The sequence-to-sequence experiment (issue 32): its task sizes, the flags that fill
them, and (slow) a small run decoded by beam search with a sweep of widths."""

from __future__ import annotations

import os

import pytest

from experiments.seq2seq.config import TASK_SIZES, Seq2SeqConfig
from experiments.seq2seq.train import EXPERIMENT
from rnn_attn.config import ConfigError
from rnn_attn.data.seq2seq_tasks import TASKS
from rnn_attn.experiment.cli import main
from tests._results import check_work_dir


@pytest.mark.parametrize("task", TASKS)
def test_every_task_has_sizes_that_validate(task):
    cfg = Seq2SeqConfig(task=task).validate()
    assert set(TASK_SIZES) == set(TASKS)
    assert cfg.sizes == TASK_SIZES[task]
    assert cfg.output_length == cfg.task_spec.target_length("long")
    chosen = Seq2SeqConfig(task=task, epochs=2, max_output_length=40).validate()
    assert chosen.sizes["epochs"] == 2 and chosen.output_length == 40


def test_the_alphabet_and_training_examples_are_sizes_of_the_task():
    chosen = Seq2SeqConfig(task="sorting", alphabet=5, train_examples=300).validate()
    assert chosen.task_spec.alphabet == 5 and chosen.examples["train"] == 300
    default = Seq2SeqConfig(task="reversal").validate()
    assert default.task_spec.alphabet == TASK_SIZES["reversal"]["alphabet"]
    assert default.examples["train"] == TASK_SIZES["reversal"]["train_examples"]
    with pytest.raises(ConfigError, match="--alphabet 5: the addition task's symbols are fixed"):
        Seq2SeqConfig(task="addition", alphabet=5).validate()


@pytest.mark.slow
def test_a_small_run_records_its_splits_decoding_and_every_width(tmp_path, capsys):
    workdir = str(tmp_path / "run")
    argv = [
        "--task", "dates", "--local", "--epochs", "1", "--models", "none,luong_dot",
        "--decode", "beam", "--beam-width", "2", "--beam-sweep", "1,3",
        "--workdir", workdir, "--no-progress",
    ]  # fmt: skip
    assert main(EXPERIMENT, argv) == 0
    record = check_work_dir(workdir)
    assert set(record["data"]["overlaps"].values()) == {0}
    assert record["decoding"] == {
        "decode": "beam",
        "max_output_length": 11,
        "beam_width": 2,
        "length_penalty": 0.0,
        "beam_sweep": [1, 3],
    }
    for name in ("none", "luong_dot"):
        per_seed = record["models"][name]["per_seed"]
        for key in ("test", "long", "beam1_test", "beam3_test"):
            for metric in ("exact_match", "token_accuracy", "log_prob", "valid_dates"):
                assert len(per_seed[f"{key}_{metric}"]) == 2, (name, key, metric)
        assert all(0 <= v <= 1 for v in per_seed["test_valid_dates"])
    assert os.path.isfile(record["files"]["attention_luong_dot"])
    assert "attention_none" not in record["files"]
    assert "Spot checks, luong_dot" in capsys.readouterr().out
