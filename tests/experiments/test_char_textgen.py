import json
import os
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.char_textgen.train import EXPERIMENT, unigram_bigram_perplexity
from rnn_attn.experiment import cli
from rnn_attn.models.char_lm import CharRNN
from tests._paths import ROOT
from tests._results import check_work_dir
from tests._small_runs import CHAR_ARGS, write_book


def test_char_lstm_shapes_dropout_and_penalty():
    model = CharRNN(7, units=5, dropout=0.5)
    params = model.init(jax.random.PRNGKey(0))
    ids = jnp.array([[1, 2, 3], [0, 6, 5]])
    logits = model.apply(params, ids)
    assert logits.shape == (2, 7)
    np.testing.assert_array_equal(logits, model.apply(params, ids))
    dropped = model.apply(params, ids, train=True, key=jax.random.PRNGKey(1))
    assert not np.allclose(dropped, logits)
    bias = params["lstm"]["bias"]  # unit forget bias: 5 ones
    assert float(model.regularization(params)) == pytest.approx(0.01 * 5 + 0.01 * 5)
    assert float(jnp.sum(bias)) == 5.0
    emb = CharRNN(7, units=5, inputs="embedding", embed_dim=3)
    assert emb.apply(emb.init(jax.random.PRNGKey(0)), ids).shape == (2, 7)
    with pytest.raises(ValueError, match="unknown input encoding 'bytes'"):
        CharRNN(7, inputs="bytes")


@pytest.mark.parametrize("kind,bias_size", [("gru", 3 * 2 * 5), ("simple_rnn", 5)])
def test_the_other_cells_are_the_recurrent_layer_and_its_penalty(kind, bias_size):
    from rnn_attn.nn.cells import make_cell
    from rnn_attn.nn.recurrent import rnn

    model = CharRNN(7, cell_kind=kind, units=5, dropout=0.0, bias_l1=0.0, bias_l2=1.0)
    params = model.init(jax.random.PRNGKey(0))
    assert sorted(params) == sorted([kind, "output"])
    assert params[kind]["bias"].size == bias_size  # GRU reset_after: input and recurrent
    params[kind]["bias"] = jnp.full_like(params[kind]["bias"], 0.5)
    assert float(model.regularization(params)) == pytest.approx(0.25 * bias_size)
    ids = jnp.array([[1, 2, 3], [0, 6, 5]])
    h, _ = rnn(make_cell(kind, 5), params[kind], jax.nn.one_hot(ids, 7), return_sequences=False)
    np.testing.assert_allclose(
        model.apply(params, ids),
        h @ params["output"]["kernel"] + params["output"]["bias"],
        rtol=1e-5,
        atol=1e-6,
    )
    with pytest.raises(ValueError, match="unknown cell kind 'rnn'"):
        CharRNN(7, cell_kind="rnn")


def test_reference_perplexities():
    ids = np.array([0, 1, 0, 1, 0, 1])
    refs = unigram_bigram_perplexity(ids, 2)
    assert refs["unigram"] == pytest.approx(2.0)
    assert refs["bigram"] == pytest.approx(1.0)  # each next character is certain


def test_flags_and_local_defaults():
    cfg, options = cli.parse(EXPERIMENT, ["--local", "--workdir", "w", "--units", "16"])
    assert (cfg.iterations, cfg.units, cfg.seeds, cfg.optimizer, cfg.batch_size) == (
        2,
        16,
        1,
        "rmsprop",
        128,
    )
    assert cfg.model_name == "char_lstm" and options.workdir == os.path.abspath("w")
    assert cli.parse(EXPERIMENT, ["--cell", "gru"])[0].iterations == 25
    assert not hasattr(cfg, "seed_loop")  # the seeds are always batched (vmap)


def _small_run(tmp_path) -> list[str]:
    """A two-iteration run's flags on a small book with Gutenberg's header and licence
    around it (at the sizes other tests' runs share, so their compiled programs too)."""
    book = write_book(tmp_path / "book.txt", licence=True)
    return ["--text", book, "--iterations", "2", *CHAR_ARGS, "--no-progress"]


def test_char_textgen_end_to_end(tmp_path, capsys):
    """A whole run in process, as ``python -m experiments.char_textgen`` makes it (the
    module's entry point runs as a subprocess below, on a missing book, and in the slow
    tier's ``--local`` runs)."""
    workdir = tmp_path / "run"
    status = cli.main(EXPERIMENT, [*_small_run(tmp_path), "--workdir", str(workdir)])
    stdout = capsys.readouterr().out
    assert status in (None, 0)
    results = check_work_dir(str(workdir))  # the schema, and a TensorBoard curve per seed
    model = results["models"]["char_lstm"]
    per_seed = model["per_seed"]
    assert per_seed["heldout_perplexity_final"][0] > 1.0
    assert 0.0 <= per_seed["real_word_fraction"][0] <= 1.0
    assert set(per_seed) == {
        "heldout_cross_entropy_final",
        "heldout_perplexity_final",
        "heldout_perplexity_best",
        "heldout_accuracy_final",
        "train_loss_final",
        "real_word_fraction",
        "real_word_tokens_scored",
    }
    samples = model["samples_per_seed"][0]
    assert len(samples) == 2 and len(samples[0]["generated"]) == 20
    assert len(model["final_sample_per_seed"][0]["generated"]) == 60
    assert len(model["history_per_seed"][0]["val_cross_entropy"]) == 2
    refs = results["reference_perplexities_on_training_text"]
    assert 1.0 <= refs["bigram"] <= refs["unigram"]
    assert "HELD-OUT" in stdout and "perplexity" in stdout
    assert (workdir / "history.png").stat().st_size > 1000
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments.char_textgen",
            "--workdir",
            str(tmp_path / "w2"),
            "--text",
            str(tmp_path / "missing.txt"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 2 and bad.stderr.startswith("error: text file not found")


def test_a_resumed_run_reports_every_iterations_samples(tmp_path):
    """Interrupted after iteration 1 (iteration 2's checkpoint gone) and resumed, the run's
    results.json equals the uninterrupted run's, iteration 1's samples included (hostile
    round 3 of issue 31: they lived in memory only and were missing after a resume)."""
    args = _small_run(tmp_path)
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert cli.main(EXPERIMENT, [*args, "--workdir", str(whole)]) in (None, 0)
    shutil.copytree(whole, cut)  # the same run, deterministic: its work dir, then cut short
    checkpoints = cut / "checkpoints" / "char_lstm"
    newest = max((p for p in checkpoints.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    shutil.rmtree(newest)
    (cut / "results.json").unlink()
    assert cli.main(EXPERIMENT, [*args, "--workdir", str(cut), "--resume"]) in (None, 0)
    resumed, expected = (json.loads((d / "results.json").read_text()) for d in (cut, whole))
    model, reference = resumed["models"]["char_lstm"], expected["models"]["char_lstm"]
    assert [len(s) for s in model["samples_per_seed"]] == [2, 2]
    for key in ("samples_per_seed", "final_sample_per_seed", "per_seed", "history_per_seed"):
        assert model[key] == reference[key], key
