"""Generated sequence-to-sequence tasks whose output differs from the input, offline and
seeded: reversal, sorting, addition of two numbers written as digits, and date
normalisation (English month names to ISO 8601, made with the standard library's
``datetime``).

A task draws examples ``(source, target)`` as tuples of one-character symbols; its
splits are made of DISJOINT examples: train, validation and test are distinct sources
(a target is a function of its source) of lengths up to ``train_length``, and the
length-generalisation split ``long`` holds sources longer than that (lengths
``train_length + 1 .. long_length``; for dates, every format's string longer than
``train_length`` characters). ``overlaps`` counts the sources two splits share (0).

``encode`` turns examples into token arrays over the task's vocabulary, whose first
three tokens are ``PAD``, ``START`` and ``END``: sources ``<int32>[n, S]`` padded with
``PAD``; targets ``<int32>[n, T]``, the target's tokens, ``END``, then ``PAD``; decoder
inputs (teacher forcing) the targets shifted right behind ``START``.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import itertools
import re
import string
from collections.abc import Sequence

import numpy as np

from rnn_attn.checks import argument

PAD, START, END = 0, 1, 2
SPECIALS = ("<pad>", "<s>", "</s>")
TASKS = ("reversal", "sorting", "addition", "dates")
SPLITS = ("train", "validation", "test", "long")

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Every format names the month, so none is ambiguous between day and month.
DATE_FORMATS = (
    "{day} {month} {year}",  # 7 March 2021
    "{month} {day}, {year}",  # March 7, 2021
    "{day2} {mon} {year}",  # 07 Mar 2021
    "{mon} {day2} {year}",  # Mar 07 2021
    "{weekday}, {day} {month} {year}",  # Sunday, 7 March 2021
    "{weekday} {month} {day}, {year}",  # Sunday March 7, 2021
)
FIRST_DATE, LAST_DATE = datetime.date(1950, 1, 1), datetime.date(2049, 12, 31)
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
Example = tuple[tuple[str, ...], tuple[str, ...]]


@dataclasses.dataclass(frozen=True)
class Task:
    """One task and its sizes: ``train_length`` (L: the longest sequence, or number of
    digits of an operand, or date string, of train/validation/test), ``long_length``
    (the length-generalisation split's longest: L+1 .. long_length; unused by dates),
    ``alphabet`` (reversal and sorting: how many distinct symbols)."""

    name: str
    train_length: int
    long_length: int
    alphabet: int = 10

    def __post_init__(self):
        if not isinstance(self.name, str) or self.name not in TASKS:
            raise ValueError(f"unknown task {self.name!r}; expected one of {TASKS}")
        argument("train_length", self.train_length, int, minimum=1)
        argument("long_length", self.long_length, int, minimum=1)
        argument("alphabet", self.alphabet, int, minimum=2, maximum=26)
        check_long_split(self)

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols sources and targets are written with."""
        if self.name in ("reversal", "sorting"):
            return tuple(string.ascii_lowercase[: self.alphabet])
        if self.name == "addition":
            return (*string.digits, "+")
        return tuple(sorted(set("".join(_all_date_strings())) | set("0123456789-")))

    @property
    def vocabulary(self) -> tuple[str, ...]:
        return (*SPECIALS, *self.symbols)

    def source_length(self, split: str = "train") -> int:
        """The longest source of ``split`` (``long``: of the length-generalisation one)."""
        n = self.long_length if split == "long" else self.train_length
        if self.name == "addition":
            return 2 * n + 1
        if self.name == "dates":
            return date_lengths()[1] if split == "long" else self.train_length
        return n

    def target_length(self, split: str = "train") -> int:
        """The longest target of ``split``, with its end token."""
        n = self.long_length if split == "long" else self.train_length
        if self.name == "addition":
            return n + 2  # the sum has at most one digit more than the longer operand
        if self.name == "dates":
            return 11  # YYYY-MM-DD and the end token
        return n + 1


def check_long_split(task: Task) -> None:
    """ValueError when the length-generalisation split would have no example."""
    if task.name == "dates":
        shortest, longest = date_lengths()
        if task.train_length >= longest:
            raise ValueError(
                f"no date string is longer than train_length {task.train_length} (the "
                f"formats' longest has {longest} characters), so the length-generalisation "
                f"split would be empty; expected a train length below {longest}"
            )
        if task.train_length < shortest:
            raise ValueError(
                f"no date string is as short as train_length {task.train_length} (the "
                f"shortest has {shortest} characters); expected at least {shortest}"
            )
    elif task.long_length <= task.train_length:
        raise ValueError(
            f"long_length {task.long_length} is not longer than train_length "
            f"{task.train_length}, so the length-generalisation split would have no longer "
            f"examples; expected long_length > train_length"
        )


def _date_fields(day: datetime.date) -> dict[str, str]:
    month = MONTHS[day.month - 1]
    return dict(
        day=str(day.day),
        day2=f"{day.day:02d}",
        month=month,
        mon=month[:3],
        year=f"{day.year:04d}",
        weekday=WEEKDAYS[day.weekday()],
    )


def format_date(day: datetime.date, form: int) -> str:
    """``day`` written in ``DATE_FORMATS[form]`` (English names, whatever the locale)."""
    return DATE_FORMATS[form].format(**_date_fields(day))


@functools.cache  # a constant: the same list on every call
def _all_date_strings() -> tuple[str, ...]:
    """Every format of every day of a leap year: all the lengths and characters there
    are (they do not depend on the four-digit year)."""
    first = datetime.date(2000, 1, 1)
    days = [first + datetime.timedelta(days=i) for i in range(366)]
    return tuple(format_date(d, f) for d in days for f in range(len(DATE_FORMATS)))


def date_lengths() -> tuple[int, int]:
    """The shortest and longest date string of the formats."""
    lengths = [len(s) for s in _all_date_strings()]
    return min(lengths), max(lengths)


def _number(rng: np.random.Generator, digits: int) -> int:
    if digits == 1:
        return int(rng.integers(0, 10))
    return int(rng.integers(10 ** (digits - 1), 10**digits))


def draw_example(task: Task, rng: np.random.Generator, low: int, high: int) -> Example:
    """One example whose length (operand digits for addition, characters for dates) lies
    in ``[low, high]``."""
    if task.name == "dates":
        span = (LAST_DATE - FIRST_DATE).days + 1
        while True:
            day = FIRST_DATE + datetime.timedelta(days=int(rng.integers(0, span)))
            text = format_date(day, int(rng.integers(0, len(DATE_FORMATS))))
            if low <= len(text) <= high:
                return tuple(text), tuple(day.isoformat())
    if task.name == "addition":
        a, b = (_number(rng, int(rng.integers(low, high + 1))) for _ in range(2))
        return tuple(f"{a}+{b}"), tuple(str(a + b))
    n = int(rng.integers(low, high + 1))
    source = tuple(task.symbols[i] for i in rng.integers(0, task.alphabet, n))
    target = source[::-1] if task.name == "reversal" else tuple(sorted(source))
    return source, target


def _distinct(
    task: Task, rng: np.random.Generator, count: int, low: int, high: int
) -> list[Example]:
    """``count`` examples with distinct sources (ValueError when the lengths allow too
    few: 50 draws per example find none new)."""
    found: dict[tuple[str, ...], tuple[str, ...]] = {}
    tries = 0
    while len(found) < count:
        source, target = draw_example(task, rng, low, high)
        found.setdefault(source, target)
        tries += 1
        if tries > 50 * count + 1000:
            raise ValueError(
                f"the {task.name} task has too few distinct examples of lengths {low} to "
                f"{high} for {count} (found {len(found)}); expected fewer examples or "
                f"longer sequences"
            )
    return list(found.items())


def make_splits(task: Task, sizes: dict[str, int], seed: int) -> dict[str, list[Example]]:
    """The splits ``SPLITS`` with ``sizes[split]`` examples each, drawn from
    ``default_rng(seed)``: train, validation and test cut from one set of distinct
    sources of lengths up to ``train_length``; ``long`` distinct sources longer."""
    for split in SPLITS:
        argument(f"sizes[{split!r}]", sizes.get(split), int, minimum=1)
    rng = np.random.default_rng(seed)
    short = (1, task.train_length) if task.name != "dates" else (0, task.train_length)
    if task.name == "dates":
        long = (task.train_length + 1, date_lengths()[1])
    else:
        long = (task.train_length + 1, task.long_length)
    n = sizes["train"] + sizes["validation"] + sizes["test"]
    pool = _distinct(task, rng, n, *short)
    cuts = list(itertools.accumulate([sizes["train"], sizes["validation"]]))
    train, validation, test = np.split(np.arange(n), cuts)
    splits = {
        "train": [pool[i] for i in train],
        "validation": [pool[i] for i in validation],
        "test": [pool[i] for i in test],
    }
    splits["long"] = _distinct(task, rng, sizes["long"], *long)
    return splits


def overlaps(splits: dict[str, list[Example]]) -> dict[str, int]:
    """How many sources each pair of splits shares: ``{"train&test": 0, ...}``."""
    sources = {name: {s for s, _ in examples} for name, examples in splits.items()}
    return {f"{a}&{b}": len(sources[a] & sources[b]) for a, b in itertools.combinations(sources, 2)}


def encode(
    task: Task, examples: Sequence[Example], source_length: int, target_length: int
) -> dict[str, np.ndarray]:
    """``{"source" <int32>[n, S], "targets" <int32>[n, T], "decoder_inputs" <int32>[n,
    T], "inputs" <int32>[n, S + T]}`` (the module doc; ``inputs``: the source and the
    decoder inputs side by side, as the sequence-to-sequence models read them); ValueError
    when an example does not fit."""
    index = {symbol: i for i, symbol in enumerate(task.vocabulary)}
    n = len(examples)
    source = np.full((n, source_length), PAD, np.int32)
    targets = np.full((n, target_length), PAD, np.int32)
    for row, (src, tgt) in enumerate(examples):
        if len(src) > source_length or len(tgt) + 1 > target_length:
            raise ValueError(
                f"example {''.join(src)!r} -> {''.join(tgt)!r} does not fit sources of "
                f"{source_length} and targets of {target_length} tokens (with the end token)"
            )
        source[row, : len(src)] = [index[s] for s in src]
        targets[row, : len(tgt) + 1] = [*(index[s] for s in tgt), END]
    decoder_inputs = np.concatenate([np.full((n, 1), START, np.int32), targets[:, :-1]], 1)
    return {
        "source": source,
        "targets": targets,
        "decoder_inputs": decoder_inputs,
        "inputs": np.concatenate([source, decoder_inputs], axis=1),
    }


def dataset(
    task: Task, sizes: dict[str, int], seed: int, target_length: int
) -> tuple[dict[str, dict[str, np.ndarray]], dict]:
    """Every split (``make_splits``) encoded with targets of ``target_length`` tokens
    (``encode``), and its record: the task's sizes, the examples per split, the overlaps
    (0), the vocabulary and the seed (reversal and sorting: also the alphabet)."""
    splits = make_splits(task, sizes, seed)
    arrays = {s: encode(task, splits[s], task.source_length(s), target_length) for s in splits}
    record = {
        "task": task.name,
        "train_length": task.train_length,
        "long_length": task.long_length if task.name != "dates" else date_lengths()[1],
        "target_length": target_length,
        **({"alphabet": task.alphabet} if task.name in ("reversal", "sorting") else {}),
        "examples": dict(sizes),
        "overlaps": overlaps(splits),
        "vocabulary": list(task.vocabulary),
        "seed": seed,
    }
    return arrays, record


def decode_text(tokens: Sequence[int], vocabulary: Sequence[str]) -> str:
    """The symbols of ``tokens`` up to the first end token (special tokens dropped)."""
    out = []
    for token in tokens:
        token = int(token)
        if token == END:
            break
        if token >= len(SPECIALS):
            out.append(vocabulary[token])
    return "".join(out)


def is_iso_date(text: str) -> bool:
    """``text`` is a real calendar date written ``YYYY-MM-DD``."""
    if not ISO_DATE.fullmatch(text):
        return False
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def valid_dates(rows: np.ndarray, vocabulary: Sequence[str]) -> np.ndarray:
    """``<bool>[...]``: each decoded row (``<int>[..., T]``) is a valid ISO 8601 date."""
    rows = np.asarray(rows)
    flat = rows.reshape(-1, rows.shape[-1])
    valid = [is_iso_date(decode_text(r, vocabulary)) for r in flat]
    return np.asarray(valid, bool).reshape(rows.shape[:-1])
