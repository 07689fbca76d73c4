"""The IMDB experiment modules end to end, on a small archive of real layout."""

import io
import json
import os
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from tests._paths import ROOT
from tests._results import check_work_dir

POSITIVE = [
    "a great film, loved it",
    "wonderful acting and a great story",
    "fine fun film",
    "loved the story",
    "great great fun",
    "a wonderful film",
]
NEGATIVE = [
    "a dull film, hated it",
    "awful acting and a dull story",
    "bad boring film",
    "hated the story",
    "awful awful bore",
    "a boring film",
]


def _data_dir(tmp_path):
    """An aclImdb archive of 24 short reviews and a word index, as ../shared/data has."""
    data = tmp_path / "data"
    data.mkdir()
    with tarfile.open(data / "aclImdb_v1_labeled.tar.xz", "w:xz") as tar:
        n = 0
        for split in ("train", "test"):
            for label, texts in (("pos", POSITIVE), ("neg", NEGATIVE)):
                for text in texts:
                    blob = text.encode()
                    info = tarfile.TarInfo(
                        f"aclImdb/{split}/{label}/{n}_{8 if label == 'pos' else 2}.txt"
                    )
                    info.size = len(blob)
                    tar.addfile(info, io.BytesIO(blob))
                    n += 1
    words = sorted({w for t in POSITIVE + NEGATIVE for w in t.replace(",", "").split()})
    (data / "imdb_word_index.json").write_text(json.dumps({w: i + 1 for i, w in enumerate(words)}))
    return data


def _run(module, *args, env_extra=None):
    env = dict(
        os.environ,
        RNN_ATTN_CACHE=os.path.join(args[args.index("--workdir") + 1], "cache")
        if "--workdir" in args
        else os.environ.get("RNN_ATTN_CACHE", "/tmp/rnn_attn_cache"),
    )
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _in_process(experiment, *args, capsys, monkeypatch):
    """``experiment`` run as its module would be, in this process (the module's own entry
    point is run as a subprocess by ``test_imdb_single_model_uses_its_document_recipe``
    and ``test_help_lists_every_flag``): ``returncode``, ``stdout``, ``stderr``."""
    import types

    from rnn_attn.experiment.cli import main

    workdir = args[list(args).index("--workdir") + 1]
    monkeypatch.setenv("RNN_ATTN_CACHE", os.path.join(workdir, "cache"))
    code = main(experiment, list(args))
    out = capsys.readouterr()
    return types.SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)


def _attention_args(data, workdir: str) -> list[str]:
    """A tiny imdb_attention run: 2 seeds x 2 epochs of 3 steps."""
    sizes = ["--num-words", "30", "--maxlen", "8", "--epochs", "2", "--seeds", "2"]
    return [
        "--workdir",
        workdir,
        "--data-dir",
        str(data),
        *sizes,
        "--batch-size",
        "4",
        "--no-progress",
    ]


def test_imdb_attention_end_to_end(tmp_path, capsys, monkeypatch):
    from experiments.imdb_attention.train import EXPERIMENT

    workdir = str(tmp_path / "run")
    args = _attention_args(_data_dir(tmp_path), workdir)
    done = _in_process(EXPERIMENT, *args, capsys=capsys, monkeypatch=monkeypatch)
    assert done.returncode == 0, done.stderr[-3000:]
    results = check_work_dir(workdir)
    for name in ("bilstm", "bilstm_attention"):
        per_seed = results["models"][name]["per_seed"]
        assert len(per_seed["val_accuracy_best"]) == 2
        assert all(0.0 <= v <= 1.0 for v in per_seed["val_accuracy_final"])
        assert len(results["models"][name]["history_per_seed"][0]["val_loss"]) == 2
    assert results["config"]["maxlen"] == 8
    assert "welch_t_test" in results["comparison"]["val_accuracy_best"]
    assert "VALIDATION accuracy" in done.stdout and "TRAINING" in done.stdout
    for png in ("history.png", "accuracy_by_seed.png"):
        assert os.path.getsize(os.path.join(workdir, png)) > 1000
    # Every seed of a model in one checkpoint, after each epoch (global steps 3 and 6).
    assert sorted(os.listdir(os.path.join(workdir, "checkpoints", "bilstm"))) == ["3", "6"]


SELF_ATTENTION_RUN = "bilstm,bilstm_attention,bilstm_mha,transformer_encoder"


@pytest.mark.slow  # four models compiled; the models' own tests run in the default tier
def test_imdb_attention_runs_the_self_attention_models_beside_document_000s(tmp_path, capsys):
    """Issue 32: ``--models`` adds the multi-head pooling and the Transformer under the same
    seeds and protocol (in-process, one epoch: the compiling is most of its time)."""
    from experiments.imdb_attention.train import EXPERIMENT
    from rnn_attn.experiment.cli import main

    workdir = str(tmp_path / "run")
    args = _attention_args(_data_dir(tmp_path), workdir)
    args[args.index("--epochs") + 1] = "1"
    assert main(EXPERIMENT, [*args, "--models", SELF_ATTENTION_RUN]) == 0
    out = capsys.readouterr().out
    results = check_work_dir(workdir)
    assert list(results["models"]) == SELF_ATTENTION_RUN.split(",")
    for name, model in results["models"].items():
        assert model["seeds"] == [0, 1], name
        assert all(0.0 <= v <= 1.0 for v in model["per_seed"]["val_accuracy_best"]), name
    # Sized for --num-words 30: the embedding 30 x 128 in place of 10,000 x 128.
    assert "bilstm_mha: 168,961 parameters" in out
    assert "transformer_encoder: 203,393 parameters" in out
    for name in ("bilstm_mha", "transformer_encoder"):
        assert f"{name} - bilstm, per seed" in out
        assert sorted(os.listdir(os.path.join(workdir, "checkpoints", name))) == ["3"]


@pytest.mark.slow  # two more runs; a resume replaying a run is checked by the copy task's
def test_imdb_attention_resume_of_a_finished_run_reports_the_same_numbers(tmp_path):
    workdir = str(tmp_path / "run")
    args = _attention_args(_data_dir(tmp_path), workdir)
    done = _run("experiments.imdb_attention", *args)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.load(open(os.path.join(workdir, "results.json")))
    # --resume of a finished run restores it and reports the same numbers. (Refusing a new
    # run into a work dir with checkpoints, and a resume under another config, are
    # tested on the engine in tests/train/test_engine.py.)
    resumed = _run("experiments.imdb_attention", *args, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    results2 = json.load(open(os.path.join(workdir, "results.json")))
    for name in ("bilstm", "bilstm_attention"):
        np.testing.assert_array_equal(
            results2["models"][name]["per_seed"]["val_accuracy_best"],
            results["models"][name]["per_seed"]["val_accuracy_best"],
        )


def test_imdb_single_model_uses_its_document_recipe(tmp_path):
    data = _data_dir(tmp_path)
    workdir = str(tmp_path / "run")
    done = _run(
        "experiments.imdb",
        "--model",
        "embedding_flatten",
        "--workdir",
        workdir,
        "--data-dir",
        str(data),
        "--num-words",
        "30",
        "--epochs",
        "2",
        "--seeds",
        "1",
        "--no-progress",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = check_work_dir(workdir)
    cfg = results["config"]
    # From document 002's recipe for this model: maxlen 20, RMSprop, batch 32, split 0.2.
    assert (cfg["maxlen"], cfg["optimizer"], cfg["batch_size"], cfg["validation"]) == (
        20,
        "rmsprop",
        32,
        "split",
    )
    assert cfg["models"] == "embedding_flatten" and cfg["epochs"] == 2
    assert len(results["models"]["embedding_flatten"]["per_seed"]["val_accuracy_best"]) == 1


@pytest.mark.parametrize(
    "args,message",
    [
        (["--seeds", "0"], "--seeds must be an integer >= 1, got 0"),
        (["--maxlen", "0"], "--maxlen must be an integer >= 1, got 0"),
        (["--num-words", "3"], "--num-words must be an integer >= 4"),
        (["--models", "bilstm,transformer"], "unknown model 'transformer'"),
        (["--optimizer", "adagrad"], "argument --optimizer: invalid choice: 'adagrad'"),
        (["--validation", "train"], "argument --validation: invalid choice: 'train'"),
        (["--epochs", "two"], "argument --epochs: invalid int value: 'two'"),
        (["--data-dir", "/nonexistent/imdb"], "IMDB data dir not found: '/nonexistent/imdb'"),
    ],
)
def test_bad_input_gets_one_line(tmp_path, args, message, capsys):
    from experiments.imdb_attention.train import EXPERIMENT
    from rnn_attn.experiment.cli import main

    try:
        code = main(EXPERIMENT, ["--workdir", str(tmp_path / "w"), "--no-progress", *args])
    except SystemExit as e:  # argparse's own errors exit from parse_args
        code = e.code
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], err
    assert "Traceback" not in err


def test_help_lists_every_flag():
    done = _run("experiments.imdb", "--help")
    assert done.returncode == 0
    for flag in (
        "--model",
        "--seeds",
        "--epochs",
        "--maxlen",
        "--num-words",
        "--workdir",
        "--resume",
        "--data-dir",
        "--validation",
        "--patience",
    ):
        assert flag in done.stdout


def test_imdb_glove_end_to_end(tmp_path, capsys, monkeypatch):
    import gzip

    from experiments.imdb_glove.train import EXPERIMENT

    data = _data_dir(tmp_path)
    with gzip.open(data / "glove.txt.gz", "wt") as f:
        f.write("great 0.5 0.1 -0.2\nawful -0.5 0.2 0.1\nfilm 0.0 0.3 0.3\n")
    workdir = str(tmp_path / "run")
    done = _in_process(
        EXPERIMENT,
        "--workdir",
        workdir,
        "--data-dir",
        str(data),
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
        "2",
        "--no-progress",
        capsys=capsys,
        monkeypatch=monkeypatch,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "GloVe: 3 of 19 words found" in done.stdout
    results = check_work_dir(workdir)
    assert set(results["models"]) == {"glove_frozen", "learned"}
    assert len(results["models"]["learned"]["per_seed"]["val_accuracy_best"]) == 2
    ragged = data / "ragged.txt"
    ragged.write_text("great 0.5 0.1 -0.2\nawful -0.5 0.2\n")
    bad = _in_process(
        EXPERIMENT,
        "--workdir",
        str(tmp_path / "w2"),
        "--data-dir",
        str(data),
        "--glove",
        str(ragged),
        "--no-progress",
        capsys=capsys,
        monkeypatch=monkeypatch,
    )
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and "line 2" in bad.stderr


def test_an_imdb_sweep_reports_the_selected_setting_on_test_reviews(tmp_path, monkeypatch):
    """``--sweep`` under ``--validation split``: the setting is chosen on the held-out
    training reviews, and the selected setting's fresh seeds are scored once on the TEST
    reviews at their best epoch (``test_accuracy_best``, ``test_loss_best``)."""
    from experiments.imdb.train import EXPERIMENT
    from rnn_attn.experiment.cli import main

    monkeypatch.setenv("RNN_ATTN_CACHE", str(tmp_path / "cache"))
    workdir = str(tmp_path / "run")
    args = _attention_args(_data_dir(tmp_path), workdir)
    args[args.index("--epochs") + 1] = "1"
    sweep = ["--model", "embedding_flatten", "--validation", "split", "--validation-split", "0.25"]
    assert main(EXPERIMENT, [*args, *sweep, "--sweep", "learning_rate=1e-3,1e-2"]) == 0
    model = check_work_dir(workdir)["models"]["embedding_flatten"]
    assert model["selected"]["seeds"] == [2, 3] and model["seeds"] == [2, 3]
    assert all("test_accuracy_best" not in t["per_seed"] for t in model["trials"])
    for figure in ("test_accuracy_best", "test_loss_best"):
        assert len(model["per_seed"][figure]) == 2, figure
    # the 12 test reviews: each seed's accuracy a multiple of 1/12
    for v in model["per_seed"]["test_accuracy_best"]:
        assert 0.0 <= v <= 1.0 and abs(v * 12 - round(v * 12)) < 1e-4, v
    assert model["per_seed"]["test_loss_best"] != model["per_seed"]["val_loss_best"]
