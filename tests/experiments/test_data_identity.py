"""Data identity (rnn_attn.experiment.data_identity): a run records a SHA-256 fingerprint
of every data file it read, in the work dir's data.json before training and in
results.json, and a ``--resume`` on other contents is refused in one line naming the
file, before anything is restored or overwritten."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from experiments.char_textgen.train import EXPERIMENT as TEXTGEN
from rnn_attn.analysis.schema import validate
from rnn_attn.errors import ConfigError
from rnn_attn.experiment import cli
from tests._small_runs import CHAR_ARGS, write_book

# One iteration of the character model at the sizes the other tests' runs share.
ARGS = ["--iterations", "1", *CHAR_ARGS]


def _sha256(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def _run(workdir, book, *extra, capsys) -> tuple[int, str]:
    argv = ["--workdir", str(workdir), "--text", book, "--no-progress", *ARGS, *extra]
    status = cli.main(TEXTGEN, argv)
    return status, capsys.readouterr().err.strip()


def _tree(path) -> dict[str, bytes]:
    """Every file below ``path`` and its bytes."""
    out = {}
    for root, _, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            out[os.path.relpath(full, path)] = open(full, "rb").read()
    return out


def test_a_run_records_the_fingerprint_of_the_data_it_read(tmp_path, capsys):
    book = write_book(tmp_path / "book.txt")
    status, err = _run(tmp_path / "run", book, capsys=capsys)
    assert status == 0, err
    expected = {book: {"sha256": _sha256(book), "bytes": os.path.getsize(book)}}
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    validate(results)
    assert results["fingerprints"] == expected
    saved = json.loads((tmp_path / "run" / "data.json").read_text())
    assert saved == {"fingerprints": expected}


def test_a_resume_on_changed_data_is_refused_naming_the_file(tmp_path, capsys):
    book = write_book(tmp_path / "book.txt")
    workdir = tmp_path / "run"
    assert _run(workdir, book, capsys=capsys)[0] == 0
    identity = json.loads((workdir / "run.json").read_text())
    (workdir / "run.json").write_text(json.dumps(identity | {"pid": 4242}))  # another process
    before = _tree(workdir)
    original = open(book, "rb").read()
    stat = os.stat(book)
    # The same size and modification time: only the bytes tell.
    with open(book, "wb") as f:
        f.write(original.replace(b"sister", b"sistor", 1))
    os.utime(book, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    status, err = _run(workdir, book, "--resume", capsys=capsys)
    assert status == 2 and err.count("\n") == 0, err
    assert err.startswith(f"error: cannot resume: data file {book!r} differs from the one")
    assert _tree(workdir) == before  # nothing restored, overwritten or removed
    with open(book, "wb") as f:  # the same contents again: the resume goes on
        f.write(original)
    status, err = _run(workdir, book, "--resume", capsys=capsys)
    assert status == 0, err


def test_every_byte_is_hashed_whatever_the_size_and_time(tmp_path):
    from rnn_attn.experiment import data_identity

    path = tmp_path / "data.csv"
    path.write_bytes(b"a,1\nb,2\n")
    first = data_identity.fingerprint(str(path))
    stat = os.stat(path)
    path.write_bytes(b"a,1\nb,3\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    second = data_identity.fingerprint(str(path))
    assert first["bytes"] == second["bytes"] == 8
    assert first["sha256"] != second["sha256"]
    assert second["sha256"] == hashlib.sha256(b"a,1\nb,3\n").hexdigest()


def test_a_directory_is_fingerprinted_file_by_file(tmp_path):
    from rnn_attn.experiment import data_identity

    tree = tmp_path / "aclImdb" / "train" / "pos"
    tree.mkdir(parents=True)
    (tree / "0_9.txt").write_text("good")
    (tree / "1_8.txt").write_text("fine")
    first = data_identity.fingerprint(str(tmp_path / "aclImdb"))
    assert (first["files"], first["bytes"]) == (2, 8)
    (tree / "1_8.txt").write_text("bad!")
    assert data_identity.fingerprint(str(tmp_path / "aclImdb"))["sha256"] != first["sha256"]


def test_a_file_listed_twice_is_hashed_once_and_paths_are_absolute(tmp_path, monkeypatch):
    from rnn_attn.experiment import data_identity

    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text("x")
    prints = data_identity.fingerprints(["a.txt", str(tmp_path / "a.txt")])
    assert list(prints) == [str(tmp_path / "a.txt")]


def test_resume_checks_compare_in_order_and_name_the_file():
    from rnn_attn.experiment import data_identity

    a, b = {"sha256": "a" * 64, "bytes": 1}, {"sha256": "b" * 64, "bytes": 1}
    data_identity.check_resume({"/old/x": a}, {"/new/x": a})  # moved, same contents
    with pytest.raises(ConfigError, match="data file '/new/x' differs .* \\(then at '/old/x'\\)"):
        data_identity.check_resume({"/old/x": a}, {"/new/x": b})
    with pytest.raises(ConfigError, match="reads 2 \\('/y' read not then\\)"):
        data_identity.check_resume({"/x": a}, {"/x": a, "/y": b})


def test_imdb_lists_the_files_its_source_reads(tmp_path):
    from rnn_attn.data.imdb import source_files

    data = tmp_path / "data"
    data.mkdir()
    (data / "aclImdb_v1_labeled.tar.xz").write_bytes(b"")
    (data / "imdb_word_index.json").write_text("{}")
    raw = [str(data / "aclImdb_v1_labeled.tar.xz"), str(data / "imdb_word_index.json")]
    assert source_files(str(data)) == raw
    (data / "imdb.npz").write_bytes(b"")
    assert source_files(str(data)) == [str(data / "imdb.npz")]
    assert source_files(str(data), "aclimdb") == raw
