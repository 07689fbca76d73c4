"""Property: whatever happens to a file an experiment reads, the run either finishes
(exit 0) or is refused in one ``error:`` line (exit 2), never with a traceback; a refused
resume leaves the work dir as it was, and a resume that finishes reports exactly the
per-seed figures of the run it resumes.

For every experiment a tiny run (seconds) is finished once. Then hypothesis draws a file
and a corruption (truncated, bytes flipped, emptied, replaced by noise, extended by
noise, deleted):
- a file of the finished run's work dir (its ``run.json``, ``results.json``, plots, any
  file of any checkpoint), corrupted in a copy of the dir that is then resumed with
  ``--resume``: a corrupt checkpoint is passed over for the one before it (the training
  is redone), a corrupt run record refused;
- a data file the experiment reads (the IMDB archive and word index, GloVe, the weather
  CSV, the book), corrupted in a copy, then a new run on it: the loader names what is
  wrong, or the run trains on what is left.
Examples per experiment: ``RNN_ATTN_CORRUPTION_EXAMPLES`` (default 3 in the suite; the
closing notes record longer runs).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.experiments.test_flags_property import _run, _snapshot  # noqa: E402
from tests.experiments.test_sentiment import _data_dir as write_imdb  # noqa: E402
from tests.experiments.test_weather import write_jena  # noqa: E402

# Whole runs repeated many times: `pytest -m slow` (.ci/run runs them after the suite).
pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("RNN_ATTN_CORRUPTION_EXAMPLES", "3"))

# Each experiment's tiny run: its flags ({data}: the data dir) and the data files it reads.
TINY = {
    "copy_task": (
        [
            "--models",
            "attention",
            "--seeds",
            "1",
            "--steps",
            "6",
            "--checkpoint-every",
            "3",
            "--units",
            "8",
            "--cardinality",
            "6",
            "--eval-examples",
            "10",
            "--spot-checks",
            "1",
        ],
        [],
    ),
    "vanishing_gradients": (
        [
            "--configs",
            "gru_update_bias_5",
            "--lengths",
            "6",
            "--seeds",
            "1",
            "--steps",
            "6",
            "--units",
            "4",
            "--symbols",
            "3",
            "--checkpoint-every",
            "3",
        ],
        [],
    ),
    "weather": (
        [
            "--data",
            "{data}/jena.csv",
            "--format",
            "jena",
            "--models",
            "gru",
            "--seeds",
            "1",
            "--epochs",
            "2",
            "--lookback",
            "12",
            "--step",
            "2",
            "--delay",
            "3",
            "--batch-size",
            "32",
            "--checkpoint-every",
            "3",
        ],
        ["jena.csv"],
    ),
    "char_textgen": (
        [
            "--text",
            "{data}/book.txt",
            "--iterations",
            "2",
            "--units",
            "8",
            "--preds-per-iteration",
            "10",
            "--eval-chars",
            "30",
            "--seeds",
            "1",
            "--checkpoint-every",
            "20",
        ],
        ["book.txt"],
    ),
    "imdb": (
        [
            "--model",
            "lstm",
            "--data-dir",
            "{data}",
            "--num-words",
            "30",
            "--maxlen",
            "8",
            "--epochs",
            "2",
            "--seeds",
            "1",
        ],
        ["aclImdb_v1_labeled.tar.xz", "imdb_word_index.json"],
    ),
    "imdb_attention": (
        [
            "--models",
            "bilstm",
            "--data-dir",
            "{data}",
            "--num-words",
            "30",
            "--maxlen",
            "8",
            "--epochs",
            "2",
            "--seeds",
            "1",
            "--batch-size",
            "4",
        ],
        ["aclImdb_v1_labeled.tar.xz", "imdb_word_index.json"],
    ),
    "imdb_glove": (
        [
            "--data-dir",
            "{data}",
            "--glove",
            "glove.txt.gz",
            "--training-samples",
            "6",
            "--validation-samples",
            "6",
            "--num-words",
            "20",
            "--maxlen",
            "5",
            "--epochs",
            "2",
            "--seeds",
            "1",
        ],
        ["aclImdb_v1_labeled.tar.xz", "imdb_word_index.json", "glove.txt.gz"],
    ),
}
CORRUPTIONS = ("truncate", "flip", "empty", "noise", "append", "delete")


def _write_data(root) -> str:
    """Every data file of TINY in ``root/data``: small, in the real formats."""
    data = write_imdb(root)
    with gzip.open(data / "glove.txt.gz", "wt") as f:
        f.write("great 0.5 0.1 -0.2\nawful -0.5 0.2 0.1\nfilm 0.0 0.3 0.3\n")
    write_jena(data / "jena.csv", rows=240)
    body = " ".join(["alice was beginning to get very tired of sitting by her sister"] * 12)
    (data / "book.txt").write_text(f"header\nCHAPTER I. Down\n{body}\nTHE END\nlicence\n")
    return str(data)


def _argv(experiment: str, workdir, data: str, *extra: str) -> list[str]:
    flags = [a.replace("{data}", data) for a in TINY[experiment][0]]
    return ["--workdir", str(workdir), "--no-progress", *flags, *extra]


def _per_seed(workdir) -> dict:
    with open(os.path.join(workdir, "results.json")) as f:
        return {name: model["per_seed"] for name, model in json.load(f)["models"].items()}


def _corrupt(path, how: str, fraction: float, noise: bytes) -> None:
    blob = path.read_bytes()
    cut = int(len(blob) * fraction)
    if how == "delete":
        path.unlink()
        return
    changed = {
        "truncate": lambda: blob[:cut],
        "flip": lambda: (
            (blob[:cut] + bytes([blob[cut] ^ (noise[0] | 1)]) + blob[cut + 1 :]) if blob else noise
        ),
        "empty": lambda: b"",
        "noise": lambda: noise,
        "append": lambda: blob + noise,
    }[how]()
    path.write_bytes(changed)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A data dir, and per experiment (lazily) a finished tiny run and its figures."""
    root = tmp_path_factory.mktemp("corruption")
    old_cache = os.environ.get("RNN_ATTN_CACHE")
    os.environ["RNN_ATTN_CACHE"] = str(root / "cache")  # content-keyed: shared safely
    data, runs = _write_data(root), {}

    def get(experiment: str):
        if experiment not in runs:
            workdir = root / "finished" / experiment
            status, err = _run(experiment, _argv(experiment, workdir, data))
            assert status == 0, err[-3000:]
            runs[experiment] = (workdir, _per_seed(workdir))
        return data, *runs[experiment]

    yield get
    if old_cache is None:
        os.environ.pop("RNN_ATTN_CACHE", None)
    else:
        os.environ["RNN_ATTN_CACHE"] = old_cache


@pytest.mark.parametrize("experiment", sorted(TINY))
def test_any_corrupt_file_gets_a_finished_run_or_one_line(experiment, finished, tmp_path):
    data, reference_dir, reference = finished(experiment)
    work_files = sorted(_snapshot(reference_dir))
    data_files = TINY[experiment][1]
    examples = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=False,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        in_data=st.booleans() if data_files else st.just(False),
        index=st.integers(0, 10**6),
        how=st.sampled_from(CORRUPTIONS),
        fraction=st.floats(0.0, 0.999),
        noise=st.binary(min_size=1, max_size=64),
    )
    def check(in_data, index, how, fraction, noise):
        case = tmp_path / f"case{len(examples)}"
        if in_data:
            name = data_files[index % len(data_files)]
            shutil.copytree(data, case / "data")
            _corrupt(case / "data" / name, how, fraction, noise)
            argv = _argv(experiment, case / "run", str(case / "data"))
            where = f"data/{name}"
        else:
            name = work_files[index % len(work_files)]
            shutil.copytree(reference_dir, case / "run")
            _corrupt(case / "run" / name, how, fraction, noise)
            argv = _argv(experiment, case / "run", data, "--resume")
            where = f"workdir/{name}"
        examples.append((where, how))
        before = _snapshot(case / "run") if (case / "run").exists() else {}
        status, err = _run(experiment, argv)
        assert "Traceback" not in err, (where, how, err)
        assert status in (0, 2), (where, how, status, err)
        if status == 2:
            lines = err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), (where, how, err)
            after = _snapshot(case / "run") if (case / "run").exists() else {}
            assert after == before, (where, how, "a refused run changed its work dir")
        elif not in_data:  # a resumed run: the figures of the run it resumed, exactly
            assert _per_seed(case / "run") == reference, (where, how, err)
        shutil.rmtree(case)

    check()
    assert len(examples) >= EXAMPLES
    print(f"{experiment}: {len(examples)} corruptions: {examples}")
