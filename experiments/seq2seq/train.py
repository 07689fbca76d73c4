"""The sequence-to-sequence comparison: the task's splits, the models, training on the
engine (teacher forcing, every seed in one program), the decoded TEST and long splits.

The examples are the same for every seed (``--data-seed``); seed ``s`` changes the
initialization and the batch order. The test programs compile in the background while
the models train.
"""

from __future__ import annotations

import concurrent.futures

import numpy as np

from experiments.seq2seq import config as s2s_config
from experiments.seq2seq import report
from experiments.seq2seq.config import Seq2SeqConfig
from rnn_attn.data import seq2seq_tasks as tasks
from rnn_attn.experiment.spec import Experiment, Setup, describe
from rnn_attn.models import decoding
from rnn_attn.models.teacher_forcing import make_seq2seq
from rnn_attn.train import engine, feed
from rnn_attn.train.objectives import masked_sequence_cross_entropy
from rnn_attn.train.optimizers import keras_adam
from rnn_attn.train.sampled_test import compile_sampled_test, sampled_test

TOKENS = decoding.Tokens(start=tasks.START, end=tasks.END, pad=tasks.PAD)
OPTIONS = ("units", "heads", "dim", "layers", "hidden")


def encoded_splits(cfg: Seq2SeqConfig) -> tuple[dict, dict]:
    """Every split encoded (``tasks.encode``) and the data's record (sizes, overlaps)."""
    task = cfg.task_spec
    sizes = {s: getattr(cfg, f"{s}_examples") for s in tasks.SPLITS}
    splits = tasks.make_splits(task, sizes, cfg.data_seed)
    arrays = {
        s: tasks.encode(task, splits[s], task.source_length(s), cfg.output_length) for s in splits
    }
    record = {
        "task": cfg.task,
        "sizes": cfg.sizes | {"max_output_length": cfg.output_length},
        "examples": sizes,
        "overlaps": tasks.overlaps(splits),
        "vocabulary": list(task.vocabulary),
        "data_seed": cfg.data_seed,
    }
    return arrays, record


def teacher_forcing_split(arrays: dict) -> feed.Split:
    packed = np.concatenate([arrays["source"], arrays["decoder_inputs"]], axis=1)
    return feed.Split({"inputs": packed, "targets": arrays["targets"]})


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
    arrays, record = encoded_splits(cfg)
    vocabulary = len(record["vocabulary"])
    options = {k: getattr(cfg, k) for k in OPTIONS}
    models = {
        n: make_seq2seq(n, vocabulary, cfg.output_length, pad_id=tasks.PAD, **options)
        for n in cfg.model_names
    }
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    tests = {n: pool.submit(test_programs, cfg, m, arrays, ctx.mesh) for n, m in models.items()}
    pool.shutdown(wait=False)  # the test programs compile while the models train
    data = engine.FitData(
        teacher_forcing_split(arrays["train"]), teacher_forcing_split(arrays["validation"])
    )
    decode = {"decode": cfg.decode, "max_output_length": cfg.output_length}
    if cfg.decode == "beam":
        decode |= {"beam_width": cfg.beam_width, "length_penalty": cfg.length_penalty}
    return Setup(
        models=models,
        data=data,
        objective=masked_sequence_cross_entropy(tasks.PAD),
        optimizer=keras_adam(cfg.learning_rate),
        fit={"monitor": "val_loss", "epochs": cfg.sizes["epochs"]},
        data_description=f"{cfg.task}: {record['examples']} distinct examples",
        record={"data": record, "decoding": decode | {"beam_sweep": cfg.sweep_widths}},
        reference_model=cfg.model_names[0],
        extras={"tests": tests, "arrays": arrays, "vocabulary": record["vocabulary"]},
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
        at = f"{run}_"
        per_seed[f"{at}exact_match"] = out["exact_match"].tolist()
        per_seed[f"{at}token_accuracy"] = out["token_accuracy"].tolist()
        per_seed[f"{at}log_prob"] = out["log_prob"].mean(-1).astype(float).tolist()
        if "valid" in out:
            per_seed[f"{at}valid_dates"] = out["valid"].mean(-1).astype(float).tolist()
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
