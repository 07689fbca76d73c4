"""The sequence-to-sequence comparison: the task's splits, the models, training on the
engine (teacher forcing, every seed in one program), the decoded TEST and long splits.

The examples are the same for every seed (``--data-seed``); seed ``s`` changes the
initialization and the batch order. The test programs compile in the background while
the models train.
"""

from __future__ import annotations

import numpy as np

from experiments.seq2seq import config as s2s_config
from experiments.seq2seq import report
from experiments.seq2seq.config import Seq2SeqConfig
from rnn_attn.data import seq2seq_tasks as tasks
from rnn_attn.data.seq2seq_tasks import SPLITS
from rnn_attn.experiment.spec import Experiment, Setup, describe
from rnn_attn.models import decoding
from rnn_attn.models.teacher_forcing import make_seq2seq
from rnn_attn.train import engine, feed
from rnn_attn.train.objectives import masked_sequence_cross_entropy
from rnn_attn.train.optimizers import keras_adam
from rnn_attn.train.sampled_test import compile_in_background, compile_sampled_test, sampled_test

TOKENS = decoding.Tokens(start=tasks.START, end=tasks.END, pad=tasks.PAD)


def test_programs(cfg: Seq2SeqConfig, model, arrays: dict, mesh) -> dict:
    """``{run: compiled test}``: ``test`` and ``long`` decoded as ``--decode`` says, and
    ``beam<K>_test``: TEST decoded by a beam of each ``--beam-sweep`` width ``K``."""
    width = cfg.beam_width if cfg.decode == "beam" else None
    runs = [("test", width), ("long", width), *((f"beam{w}_test", w) for w in cfg.sweep_widths)]
    programs = {}
    for run, w in runs:
        split = run.split("_")[-1]
        pairs = (arrays[split]["source"], arrays[split]["targets"])
        decode = decoding.make_decoder(
            model,
            max_length=cfg.output_length,
            tokens=TOKENS,
            beam_width=w,
            alpha=cfg.length_penalty,
            weights_of=1 if run == "test" else 0,
        )
        programs[run] = compile_sampled_test(
            model, lambda key, p=pairs: p, cfg.seeds, mesh, decode=decode, pad_id=tasks.PAD
        )
    return programs


def build(cfg: Seq2SeqConfig, ctx) -> Setup:
    sizes = cfg.examples
    arrays, record = tasks.dataset(cfg.task_spec, sizes, cfg.data_seed, cfg.output_length)
    epochs = cfg.sizes["epochs"]  # every model's budget: these epochs of these batches
    record |= {"epochs": epochs, "steps": epochs * -(-sizes["train"] // cfg.batch_size)}
    vocabulary, length = len(record["vocabulary"]), cfg.output_length
    models = {
        n: make_seq2seq(n, vocabulary, length, pad_id=tasks.PAD, **cfg.model_options)
        for n in cfg.model_names
    }
    tests = compile_in_background(lambda _, m: test_programs(cfg, m, arrays, ctx.mesh), models)
    train, validation = (
        feed.Split({k: arrays[s][k] for k in ("inputs", "targets")}) for s in SPLITS[:2]
    )
    return Setup(
        models=models,
        data=engine.FitData(train, validation),
        objective=masked_sequence_cross_entropy(tasks.PAD),
        optimizer=keras_adam(cfg.learning_rate),
        fit={"monitor": "val_loss", "epochs": epochs},
        data_description=f"{cfg.task}: {record['examples']} distinct examples",
        record={"data": record, "decoding": cfg.decoding},
        reference_model=cfg.model_names[0],
        extras={"tests": tests, "vocabulary": record["vocabulary"]},
    )


def decoded_figures(cfg, setup: Setup, name: str, fit: engine.FitResult) -> dict:
    """``{run: sampled_test's output}`` (``test_programs``) with the best epoch's parameters, and
    for dates each output's validity (``valid``)."""
    keys = np.zeros((cfg.seeds, 2), np.uint32)  # the test splits are fixed: no draw
    out = {}
    for run, program in setup.extras["tests"][name].result().items():
        out[run] = sampled_test(program, fit.best_params, keys, fit.programs.mesh)
        if cfg.task == "dates":
            out[run]["valid"] = tasks.valid_dates(out[run]["predicted"], setup.extras["vocabulary"])
    return out


def evaluate(cfg: Seq2SeqConfig, setup: Setup, name: str, fit: engine.FitResult) -> dict:
    decoded = decoded_figures(cfg, setup, name, fit)
    per_seed = {"best_epoch": list(fit.best_epoch), "val_loss": list(fit.best_value)}
    for run, out in decoded.items():
        figures = {k: out[k] for k in ("exact_match", "token_accuracy")}
        figures["log_prob"] = out["log_prob"].mean(-1)
        if "valid" in out:
            figures["valid_dates"] = out["valid"].mean(-1)
        per_seed |= {f"{run}_{k}": v.astype(float).tolist() for k, v in figures.items()}
    return {"per_seed": per_seed, "spot_checks_first_seed": report.spot_checks(cfg, setup, decoded)}


EXPERIMENT = Experiment(
    name="seq2seq",
    config=Seq2SeqConfig,
    build=build,
    evaluate=evaluate,
    metrics=report.METRICS,
    compare=("test_exact_match", "long_exact_match"),
    summarize=None,
    report=report.report,
    reference=report.REFERENCE,
    description=describe(s2s_config.__doc__),
    default_workdir="runs/seq2seq",
    local=s2s_config.LOCAL,
)
