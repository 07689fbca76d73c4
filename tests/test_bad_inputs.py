"""Walks the table of docs/bad_inputs.md: every bad input listed there gets the one clear
message the table says, and never a traceback.

``cli`` rows call the experiment module's ``main(argv)`` in-process (exit status 2, one
``error:`` line on stderr, nothing trained); ``python`` rows evaluate one expression,
which must raise a ValueError, TypeError or FileNotFoundError
(``rnn_attn.config.ConfigError`` is a ValueError) whose one-line message contains the
table's text. Placeholders such as ``{corrupt_npz}`` name files this module writes into a
temporary directory (the table lists them).
"""

from __future__ import annotations

import importlib
import io
import json
import os
import pathlib
import re
import shlex
import tarfile
from typing import Any

import numpy as np
import pytest

from tests._entry import entry_point
from tests._fifo import Unblocker, make_fifo

ROOT = pathlib.Path(__file__).resolve().parent.parent
TABLE = ROOT / "docs" / "bad_inputs.md"
MIN_ROWS = 25
KINDS = ("cli", "python")
# What a python row may raise: a bad value or type (rnn_attn.config.ConfigError is a
# ValueError), or a missing file (the data loaders' FileNotFoundError).
CLEAR_ERRORS = (ValueError, TypeError, FileNotFoundError)


# -- the table -----------------------------------------------------------------------------------


def _cells(line: str) -> list[str]:
    """The cells of one markdown table row; ``\\|`` is a literal bar inside a cell."""
    parts = re.split(r"(?<!\\)\|", line.strip().strip("|"))
    return [p.strip().replace("\\|", "|") for p in parts]


def _unquote(cell: str) -> str:
    """The text of a cell written as inline code (`` `text` ``)."""
    match = re.fullmatch(r"`+ ?(.*?) ?`+", cell)
    return match.group(1) if match else cell


def read_table(path: pathlib.Path = TABLE) -> list[dict[str, str]]:
    """The rows of the first table in ``path`` whose header starts with ``id``."""
    rows: list[dict[str, str]] = []
    header: list[str] | None = None
    if not path.is_file():
        return rows  # test_table_has_enough_rows... fails, naming the file
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.lstrip().startswith("|"):
            if header is not None:
                break  # the table ended
            continue
        cells = _cells(line)
        if header is None:
            if cells and cells[0].lower() == "id":
                header = [c.lower() for c in cells]
            continue
        if set("".join(cells)) <= set("-: "):
            continue  # the separator line
        row = dict(zip(header, cells, strict=True))
        rows.append(
            {
                "id": row["id"],
                "kind": row["kind"],
                "input": _unquote(row["input"]),
                "message": _unquote(row["message"]),
            }
        )
    return rows


ROWS = read_table()


# -- the placeholder files -----------------------------------------------------------------------


def _write_npz(path: pathlib.Path, **arrays: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:  # np.savez would add ".npz" to a name without it
        np.savez(f, **arrays)


def _objects(lists: list[list[int]]) -> np.ndarray:
    out = np.empty(len(lists), dtype=object)
    out[:] = lists
    return out


def _write_reviews(root: pathlib.Path) -> None:
    """A tiny ``aclImdb/{train,test}/{pos,neg}`` tree, one review in each folder."""
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            folder = root / "aclImdb" / split / label
            folder.mkdir(parents=True)
            (folder / "0_5.txt").write_text(f"the movie was {label}", encoding="utf-8")


def _jena(rows: int = 60, *, target: str = "T (degC)", bad_cell: str | None = None) -> str:
    """A small CSV in the Jena climate layout (hourly stamps, two measurements)."""
    lines = [f'"Date Time","p (mbar)","{target}"']
    for i in range(rows):
        day, hour = divmod(i, 24)
        temp = bad_cell if bad_cell is not None and i == 1 else f"{10 + (i % 24) / 4:.2f}"
        lines.append(f"{day + 1:02d}.01.2009 {hour:02d}:00:00,996.5,{temp}")
    return "\n".join(lines) + "\n"


def _write_imdb_dirs(paths: dict[str, pathlib.Path]) -> None:
    """A data dir of reviews and word index; the same with an empty archive; the same with
    an archive whose review is Latin-1, not UTF-8; the word index alone."""
    index = json.dumps({"the": 1, "movie": 2, "was": 3, "pos": 4, "neg": 5})
    paths["word_index_json"].write_text(index)
    for name in ("imdb_dir", "empty_archive_dir", "non_utf8_archive_dir"):
        paths[name].mkdir()
        (paths[name] / "imdb_word_index.json").write_text(index)
    _write_reviews(paths["imdb_dir"])
    (paths["empty_archive_dir"] / "aclImdb_v1_labeled.tar.xz").write_bytes(b"")
    with tarfile.open(paths["non_utf8_archive_dir"] / "aclImdb_v1_labeled.tar.xz", "w:xz") as tar:
        blob = "the movie was pos, caf\xe9".encode("latin-1")
        info = tarfile.TarInfo("aclImdb/train/pos/0_8.txt")
        info.size = len(blob)
        tar.addfile(info, io.BytesIO(blob))


def make_placeholders(tmp: pathlib.Path) -> dict[str, str]:
    """Writes the files the table's placeholders name; returns placeholder -> path."""
    paths = {
        name: tmp / rel
        for name, rel in {
            "workdir": "work",
            "missing_file": "missing.txt",
            "missing_dir": "no_such_dir",
            "unwritable_workdir": "a_file/sub",
            "corrupt_npz_dir": "corrupt",
            "npz_no_arrays_dir": "no_arrays",
            "npz_bad_labels_dir": "bad_labels",
            "glove_dir": "glove",
            "weather_csv": "jena.csv",
            "weather_no_target": "jena_no_target.csv",
            "weather_text_cell": "jena_text_cell.csv",
            "empty_text": "empty.txt",
            "no_chapter_text": "no_chapter.txt",
            "used_workdir": "used",
            "weather_workdir": "weather_run",
            "finished_copy_workdir": "copy_run",
            "bad_record_workdir": "bad_record",
            "glove_overflow": "glove_overflow.txt",
            "glove_corrupt_gz": "glove_corrupt.txt.gz",
            "small_book": "small_book.txt",
            "imdb_dir": "imdb",
            "empty_archive_dir": "empty_archive",
            "non_utf8_archive_dir": "non_utf8",
            "weather_header_only": "jena_header.csv",
            "word_index_json": "word_index.json",
            "glove_other_words": "glove_other_words.txt",
            "textgen_other_data_workdir": "textgen_other_data",
            "bad_data_record_workdir": "bad_data_record",
            "fifo": "pipe",
            "fifo_review_dir": "fifo_review",
            "pickled_code_dir": "pickled_code",
            "npz_float_reviews": "float_reviews.npz",
            "weather_overflow": "jena_overflow.csv",
            "weather_utf16_no_mark": "jena_utf16.csv",
            "glove_utf16_no_mark": "glove_utf16.txt",
            "scratch_workdir": "scratch",
            "word_index_rank_0": "word_index_rank_0.json",
            "word_index_repeated_rank": "word_index_repeated_rank.json",
            "word_index_deep": "word_index_deep.json",
            "deep_data_record_workdir": "deep_data_record",
            "deep_run_record_workdir": "deep_run_record",
            "reproduce_bad_manifest_dir": "reproduce_bad_manifest",
            "reproduce_list_results_dir": "reproduce_list_results",
            "weather_nan_cell": "jena_nan.csv",
            "glove_nan": "glove_nan.txt",
            "fifo_tree_dir": "fifo_tree",
            "pilot_results": "pilot/results.json",
            "pilot_three_models": "pilot_three/results.json",
            "weather_underscore_cell": "jena_underscore.csv",
            "weather_fullwidth_cell": "jena_fullwidth.csv",
            "glove_underscore": "glove_underscore.txt",
            "grid_copy_workdir": "grid_copy_run",
            "sweep_workdir": "sweep_run",
        }.items()
    }
    paths["corrupt_npz"] = paths["corrupt_npz_dir"] / "imdb.npz"
    paths["ragged_glove"] = paths["glove_dir"] / "glove_ragged.txt"

    (tmp / "a_file").write_text("a file, not a directory")
    paths["corrupt_npz_dir"].mkdir()
    paths["corrupt_npz"].write_bytes(b"PK\x03\x04 truncated zip")
    _write_npz(paths["npz_no_arrays_dir"] / "imdb.npz", x_train=_objects([[1, 2]]))
    _write_npz(
        paths["npz_bad_labels_dir"] / "imdb.npz",
        x_train=_objects([[1, 2]]),
        y_train=np.array([3]),
        x_test=_objects([[4]]),
        y_test=np.array([0]),
    )
    _write_reviews(paths["glove_dir"])
    (paths["glove_dir"] / "glove_ok.txt").write_text("the 0.1 0.2 0.3\nmovie 0.4 0.5 0.6\n")
    paths["ragged_glove"].write_text("the 0.1 0.2 0.3\nmovie 0.4 0.5\n")
    paths["weather_csv"].write_text(_jena())
    paths["weather_no_target"].write_text(_jena(target="Tx (degC)"))
    paths["weather_text_cell"].write_text(_jena(bad_cell="warm"))
    paths["empty_text"].write_text("")
    paths["no_chapter_text"].write_text("Alice was beginning to get very tired.\n")
    (paths["used_workdir"] / "checkpoints" / "gru" / "22").mkdir(parents=True)
    from rnn_attn.train.workdir import write_identity

    for name, experiment in (
        ("weather_workdir", "weather"),
        ("finished_copy_workdir", "copy_task"),
    ):
        paths[name].mkdir()
        write_identity(str(paths[name]), experiment, {"seeds": 2})
        (paths[name] / "results.json").write_text(json.dumps({"experiment": experiment}))
    body = " ".join(["alice was beginning to get very tired"] * 40)
    paths["small_book"].write_text(f"header\nCHAPTER I. Down\n{body}\nTHE END\n")
    paths["glove_overflow"].write_text("the 0.1 0.2\nmovie 1e39 0.5\n")
    paths["glove_corrupt_gz"].write_bytes(b"\x1f\x8b\x08\x00 truncated gzip")
    _write_imdb_dirs(paths)
    paths["weather_header_only"].write_text(_jena(rows=0))
    paths["glove_other_words"].write_text("zebra 0.1 0.2\nquokka 0.3 0.4\n")
    paths["bad_record_workdir"].mkdir()
    (paths["bad_record_workdir"] / "run.json").write_text("[1, 2")
    _write_interrupted_textgen(paths)
    _write_bad_data_files(paths)
    _write_hostile_round3(paths)
    _write_pilots(paths)
    _write_grid_run(paths)
    _write_interrupted_sweep(paths)
    return {name: str(path) for name, path in paths.items()}


def _write_grid_run(paths: dict[str, pathlib.Path]) -> None:
    """The run record of a copy-task run made with ``--local --seeds-by-source
    init=2,data=2`` (an interrupted one: no results.json)."""
    from experiments.copy_task.train import EXPERIMENT
    from rnn_attn.config import to_dict
    from rnn_attn.experiment.cli import parse
    from rnn_attn.train.workdir import write_identity

    config = to_dict(parse(EXPERIMENT, ["--local", "--seeds-by-source", "init=2,data=2"])[0])
    paths["grid_copy_workdir"].mkdir()
    write_identity(str(paths["grid_copy_workdir"]), "copy_task", config)


def _write_pilots(paths: dict[str, pathlib.Path]) -> None:
    """Two pilot runs' results.json for ``experiments.plan``: models ``a`` and ``b`` over
    seeds 0-2 (``acc``; ``loss`` with no figure for seed 1; ``flat``, whose per-seed
    differences are all 0.5); the same with a third model ``c``."""
    from tests._results import minimal_record

    def model(acc, loss, flat):
        return {"seeds": [0, 1, 2], "per_seed": {"acc": acc, "loss": loss, "flat": flat}}

    models = {
        "a": model([0.80, 0.82, 0.81], [0.5, None, 0.4], [1.5, 2.5, 3.5]),
        "b": model([0.79, 0.80, 0.80], [0.6, 0.5, 0.5], [1.0, 2.0, 3.0]),
    }
    for name, chosen in (
        ("pilot_results", models),
        ("pilot_three_models", {**models, "c": models["b"]}),
    ):
        paths[name].parent.mkdir()
        paths[name].write_text(json.dumps(minimal_record(chosen)))


def _write_interrupted_sweep(paths: dict[str, pathlib.Path]) -> None:
    """The work dir of an interrupted ``copy_task --local --sweep learning_rate=1e-3,3e-3``
    run: its ``run.json``, the config with the grid."""
    from experiments.copy_task.train import EXPERIMENT
    from rnn_attn.config import to_dict
    from rnn_attn.experiment.cli import parse
    from rnn_attn.train.workdir import write_identity

    cfg, options = parse(EXPERIMENT, ["--local", "--sweep", "learning_rate=1e-3,3e-3"])
    paths["sweep_workdir"].mkdir()
    record = to_dict(cfg) | {"sweep": options.sweep.record()}
    write_identity(str(paths["sweep_workdir"]), "copy_task", record)


def _write_interrupted_textgen(paths: dict[str, pathlib.Path]) -> None:
    """Two work dirs of an interrupted char_textgen run on ``{small_book}``: one whose
    ``data.json`` records other contents for the book, one whose ``data.json`` is not JSON."""
    from experiments.char_textgen.train import EXPERIMENT
    from rnn_attn.config import to_dict
    from rnn_attn.experiment.cli import parse
    from rnn_attn.train.workdir import write_identity

    book = str(paths["small_book"])
    config = to_dict(parse(EXPERIMENT, ["--text", book, "--local"])[0])
    other = {"fingerprints": {book: {"sha256": "0" * 64, "bytes": 1}}}
    for name, data in (
        ("textgen_other_data_workdir", json.dumps(other)),
        ("bad_data_record_workdir", "[1"),
    ):
        paths[name].mkdir()
        write_identity(str(paths[name]), "char_textgen", config)
        (paths[name] / "data.json").write_text(data)


class _RunsShell:
    """Unpickled by ``np.load(allow_pickle=True)``, runs ``touch`` (never by the loaders)."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _write_bad_data_files(paths: dict[str, pathlib.Path]) -> None:
    """A FIFO, alone and among the reviews; a pickled call in an imdb.npz; reviews that are
    not lists of integers; a weather value beyond float32; UTF-16 text without its mark.
    A reader that waits on a FIFO is freed (it fails its row instead of hanging)."""
    make_fifo(paths["fifo"])
    paths["fifo_review_dir"].mkdir()
    (paths["fifo_review_dir"] / "imdb_word_index.json").write_text(json.dumps({"the": 1}))
    _write_reviews(paths["fifo_review_dir"])
    make_fifo(paths["fifo_review_dir"] / "aclImdb" / "train" / "pos" / "1_9.txt")
    Unblocker(
        str(paths["fifo"]), str(paths["fifo_review_dir"] / "aclImdb" / "train" / "pos" / "1_9.txt")
    ).start()
    labels = {"y_train": np.array([0, 1]), "x_test": _objects([[4]]), "y_test": np.array([0])}
    marker = paths["pickled_code_dir"] / "MARKER"
    _write_npz(
        paths["pickled_code_dir"] / "imdb.npz",
        x_train=_objects([[1, 2], _RunsShell(marker)]),
        **labels,
    )
    _write_npz(paths["npz_float_reviews"], x_train=_objects([[1, 2], [2.5]]), **labels)
    paths["weather_overflow"].write_text(_jena(bad_cell="1e39"))
    paths["weather_utf16_no_mark"].write_bytes(_jena().encode("utf-16-le"))
    paths["glove_utf16_no_mark"].write_bytes("the 0.1 0.2\n".encode("utf-16-le"))


def _write_hostile_round3(paths: dict[str, pathlib.Path]) -> None:
    """A weather CSV with the value ``nan``, ``1_000`` or full-width digits; a GloVe file
    with ``nan`` or ``1_0``; word indexes with a rank 0, a rank given twice, JSON nested past Python's recursion
    limit; work dirs whose data or run record is so nested; reproduction work dirs whose
    manifest is a list, or whose copy-task row's results.json is a list; an ``aclImdb/``
    tree with a FIFO that no loader reads (only the data fingerprint opens it)."""
    deep = "[" * 100_000 + "]" * 100_000
    paths["weather_nan_cell"].write_text(_jena(bad_cell="nan"))
    paths["glove_nan"].write_text("the nan 0.2\nmovie 0.4 0.5\n")
    paths["weather_underscore_cell"].write_text(_jena(bad_cell="1_000"))
    paths["weather_fullwidth_cell"].write_text(_jena(bad_cell="\uff11\uff12"), encoding="utf-8")
    paths["glove_underscore"].write_text("the 0.1 1_0\nmovie 0.4 0.5\n")
    paths["word_index_rank_0"].write_text(json.dumps({"the": 0, "movie": 2}))
    paths["word_index_repeated_rank"].write_text(json.dumps({"the": 1, "movie": 1}))
    paths["word_index_deep"].write_text(deep)
    from experiments.char_textgen.train import EXPERIMENT
    from rnn_attn.config import to_dict
    from rnn_attn.experiment.cli import parse
    from rnn_attn.train.workdir import write_identity

    config = to_dict(parse(EXPERIMENT, ["--text", str(paths["small_book"]), "--local"])[0])
    for name in ("deep_data_record_workdir", "deep_run_record_workdir"):
        paths[name].mkdir()
        write_identity(str(paths[name]), "char_textgen", config)
    (paths["deep_data_record_workdir"] / "data.json").write_text(deep)
    (paths["deep_run_record_workdir"] / "run.json").write_text(deep)
    paths["fifo_tree_dir"].mkdir()
    (paths["fifo_tree_dir"] / "imdb_word_index.json").write_text(json.dumps({"the": 1}))
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            folder = paths["fifo_tree_dir"] / "aclImdb" / split / label
            folder.mkdir(parents=True)
            for k in range(20):
                (folder / f"{k}_5.txt").write_text(f"the movie was {label}", encoding="utf-8")
    make_fifo(paths["fifo_tree_dir"] / "aclImdb" / "README")
    Unblocker(str(paths["fifo_tree_dir"] / "aclImdb" / "README")).start()
    paths["reproduce_bad_manifest_dir"].mkdir()
    (paths["reproduce_bad_manifest_dir"] / "reproduce.json").write_text("[1]")
    row = paths["reproduce_list_results_dir"] / "001_copy_task"
    row.mkdir(parents=True)
    (paths["reproduce_list_results_dir"] / "reproduce.json").write_text('{"quick": false}')
    (row / "results.json").write_text("[1, 2]")


def python_namespace() -> dict[str, Any]:
    """What a ``python`` row's expression may use: ``rnn_attn`` with its modules
    imported, ``np``, ``jax`` and ``jnp``."""
    import jax
    import jax.numpy as jnp

    import experiments
    import rnn_attn

    for name in (
        "rnn_attn.nn.attention",
        "rnn_attn.nn.cells",
        "rnn_attn.config",
        "rnn_attn.nn.layers",
        "rnn_attn.nn.numpy_lstm",
        "rnn_attn.nn.recurrent",
        "rnn_attn.analysis.stats",
        "rnn_attn.analysis.variance",
        "rnn_attn.data.chars",
        "rnn_attn.data.copy_task",
        "rnn_attn.data.glove",
        "rnn_attn.data.imdb",
        "rnn_attn.data.sequences",
        "rnn_attn.data.text",
        "rnn_attn.data.weather",
        "rnn_attn.models.char_lm",
        "rnn_attn.models.forecasters",
        "rnn_attn.models.generation",
        "rnn_attn.models.char_lm",
        "rnn_attn.models.seq2seq",
        "rnn_attn.models.text_classifiers",
        "rnn_attn.models.forecasters",
        "rnn_attn.interop.flax_linen",
        "rnn_attn.interop.flax_nnx",
        "rnn_attn.interop.weights",
        "rnn_attn.train.checkpoints",
        "rnn_attn.train.engine",
        "rnn_attn.train.feed",
        "rnn_attn.train.objectives",
        "rnn_attn.train.optimizers",
        "experiments.copy_task.config",
        "experiments.vanishing_gradients.study",
    ):
        importlib.import_module(name)
    return {"rnn_attn": rnn_attn, "experiments": experiments, "np": np, "jax": jax, "jnp": jnp}


@pytest.fixture(scope="module")
def placeholders(tmp_path_factory) -> dict[str, str]:
    import jax

    # Start JAX's backends now, so no row's run asks for more CPU devices and
    # changes the device count the other tests of this process see.
    jax.devices()
    return make_placeholders(tmp_path_factory.mktemp("bad_inputs"))


# -- the checks ----------------------------------------------------------------------------------


def test_table_has_enough_rows_and_unique_ids():
    assert len(ROWS) >= MIN_ROWS, f"{TABLE} lists {len(ROWS)} bad inputs, expected >= {MIN_ROWS}"
    ids = [r["id"] for r in ROWS]
    assert len(set(ids)) == len(ids), f"repeated row ids in {TABLE}"
    assert {r["kind"] for r in ROWS} <= set(KINDS)
    modules = {r["input"].split()[0] for r in ROWS if r["kind"] == "cli"}
    experiments = {
        f"experiments.{p.parent.name}" for p in (ROOT / "experiments").glob("[!_]*/__main__.py")
    }
    assert len(experiments) >= 8, experiments
    assert experiments <= modules, f"no row for {sorted(experiments - modules)}"


def _run_cli(text: str, capsys) -> tuple[object, str]:
    module, *argv = shlex.split(text)
    main = entry_point(module)
    try:
        status = main(argv)
    except SystemExit as e:  # argparse's errors exit from parse_args
        status = e.code
    return status, capsys.readouterr().err


def fill(text: str, placeholders: dict[str, str]) -> str:
    """``text`` with each ``{name}`` of a known placeholder replaced by its path (other
    braces, e.g. a dict literal, stay)."""
    return re.sub(r"\{(\w+)\}", lambda m: placeholders.get(m.group(1), m.group(0)), text)


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_bad_input_gets_its_message(row, placeholders, capsys):
    text = fill(row["input"], placeholders)
    message = fill(row["message"], placeholders)
    if row["kind"] == "cli":
        status, err = _run_cli(text, capsys)
        lines = err.strip().splitlines()
        assert "Traceback" not in err, err
        assert status == 2, f"exit status {status!r}, expected 2; stderr: {err}"
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        assert message in lines[0], f"expected {message!r} in {lines[0]!r}"
        assert not os.path.isdir(os.path.join(placeholders["workdir"], "checkpoints"))
        # Nothing already saved is lost.
        assert os.path.isdir(os.path.join(placeholders["used_workdir"], "checkpoints", "gru", "22"))
    else:
        with pytest.raises(CLEAR_ERRORS) as info:
            eval(text, python_namespace())  # noqa: S307 - the table's own expressions
        got = str(info.value)
        assert "\n" not in got.strip(), f"message of more than one line: {got!r}"
        assert message in got, f"expected {message!r} in {got!r}"
