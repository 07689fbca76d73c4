import datetime

import numpy as np
import pytest

from rnn_attn.data import seq2seq_tasks as tasks

SIZES = {"train": 300, "validation": 50, "test": 50, "long": 50}
MONTH = {name: i + 1 for i, name in enumerate(tasks.MONTHS)}


def _read_date(text: str) -> datetime.date:
    """The date a source names, read back independently of how it was written."""
    words = text.replace(",", "").split()
    year = int(next(w for w in words if len(w) == 4 and w.isdigit()))
    month = next(MONTH[m] for w in words for m in MONTH if w == m or w == m[:3])
    day = int(next(w for w in words if w.isdigit() and len(w) <= 2))
    return datetime.date(year, month, day)


def _check_target(name: str, source: str, target: str) -> None:
    if name == "reversal":
        assert target == source[::-1]
    elif name == "sorting":
        assert target == "".join(sorted(source))
    elif name == "addition":
        a, b = source.split("+")
        assert int(target) == int(a) + int(b)
    else:
        assert target == _read_date(source).isoformat()


@pytest.mark.parametrize("name", tasks.TASKS)
def test_splits_are_disjoint_right_and_of_their_lengths(name):
    task = tasks.Task(name, train_length=20 if name == "dates" else 4, long_length=6)
    splits = tasks.make_splits(task, SIZES, seed=3)
    assert {k: len(v) for k, v in splits.items()} == SIZES
    assert set(tasks.overlaps(splits).values()) == {0}
    for split, examples in splits.items():
        for source, target in examples:
            _check_target(name, "".join(source), "".join(target))
            assert len(source) <= task.source_length(split)
            assert len(target) + 1 <= task.target_length(split)
    train_lengths = [len(s) for split in ("train", "validation", "test") for s, _ in splits[split]]
    assert min(len(s) for s, _ in splits["long"]) > max(train_lengths)
    assert tasks.make_splits(task, SIZES, seed=3) == splits
    assert tasks.make_splits(task, SIZES, seed=4) != splits


def test_encode_lays_out_targets_and_teacher_forcing_inputs():
    task = tasks.Task("addition", 2, 3)
    out = tasks.encode(task, [(tuple("12+9"), tuple("21"))], 5, 4)
    vocab = {s: i for i, s in enumerate(task.vocabulary)}
    ids = [vocab[c] for c in "12+9"]
    np.testing.assert_array_equal(out["source"], [[*ids, tasks.PAD]])
    np.testing.assert_array_equal(out["targets"], [[vocab["2"], vocab["1"], tasks.END, tasks.PAD]])
    np.testing.assert_array_equal(
        out["decoder_inputs"], [[tasks.START, vocab["2"], vocab["1"], tasks.END]]
    )
    assert tasks.decode_text(out["targets"][0], task.vocabulary) == "21"
    with pytest.raises(ValueError, match="does not fit"):
        tasks.encode(task, [(tuple("12+9"), tuple("21"))], 5, 2)


def test_a_dataset_is_every_split_encoded_and_its_record():
    task = tasks.Task("reversal", 4, 6)
    arrays, record = tasks.dataset(task, SIZES, seed=1, target_length=9)
    assert record["overlaps"] == tasks.overlaps(tasks.make_splits(task, SIZES, seed=1))
    assert record["examples"] == SIZES and record["target_length"] == 9
    assert arrays["train"]["inputs"].shape == (300, 4 + 9)
    assert arrays["long"]["inputs"].shape == (50, 6 + 9)
    np.testing.assert_array_equal(arrays["test"]["inputs"][:, 4:], arrays["test"]["decoder_inputs"])


def test_valid_dates_are_real_iso_dates():
    task = tasks.Task("dates", 20, 28)
    vocab = {s: i for i, s in enumerate(task.vocabulary)}
    rows = [
        [vocab[c] for c in text] + [tasks.END] + [tasks.PAD] * (11 - len(text))
        for text in ("2020-02-29", "2021-02-29", "2021-13-01", "1999-1-01")
    ]
    width = max(map(len, rows))
    rows = np.array([r + [tasks.PAD] * (width - len(r)) for r in rows])
    np.testing.assert_array_equal(tasks.valid_dates(rows, task.vocabulary), [1, 0, 0, 0])


def test_bad_tasks_are_refused_with_one_message():
    with pytest.raises(ValueError, match="unknown task 'mult'"):
        tasks.Task("mult", 3, 5)
    with pytest.raises(ValueError, match="no longer examples"):
        tasks.Task("reversal", 8, 8)
    with pytest.raises(ValueError, match="no date string is longer than train_length 28"):
        tasks.Task("dates", 28, 30)
    with pytest.raises(ValueError, match="too few distinct examples"):
        tasks.make_splits(tasks.Task("addition", 1, 2), {**SIZES, "train": 200}, seed=0)
