"""What the sequence-to-sequence comparison shows: plots and the printed report."""

from __future__ import annotations

import os

import numpy as np

from rnn_attn.analysis import plots, stats
from rnn_attn.data import seq2seq_tasks as tasks

REFERENCE = (
    "no reference figures: generated tasks (issue 32); document 001 compares the "
    "repeat-vector encoder-decoder with attention on the copy task"
)
METRICS = {
    "test_exact_match": "fraction of TEST examples whose whole decoded output (end token "
    "included) equals the target",
    "test_token_accuracy": "fraction of the TEST targets' tokens (end token included) "
    "decoded right at their position",
    "test_log_prob": "mean log-probability of the decoded TEST outputs",
    "test_valid_dates": "dates: fraction of decoded TEST outputs that are valid ISO dates",
    "long_exact_match": "exact match on the length-generalisation split (longer examples "
    "than any in training)",
    "long_token_accuracy": "token accuracy on the length-generalisation split",
    "long_log_prob": "mean log-probability of the decoded long outputs",
    "long_valid_dates": "dates: fraction of decoded long outputs that are valid dates",
    "beam<K>_test_exact_match": "--beam-sweep: TEST exact match with a beam of width K",
    "beam<K>_test_log_prob": "--beam-sweep: mean log-probability of the outputs a beam of "
    "width K chose",
    "best_epoch": "the epoch whose validation loss was lowest (its parameters are tested)",
    "val_loss": "teacher-forced validation cross-entropy at the best epoch",
}


def _text(tokens, vocabulary) -> str:
    return tasks.decode_text(tokens, vocabulary)


def spot_checks(cfg, setup, decoded: dict) -> dict:
    """The first seed's first TEST examples as text, and the attention weights of the
    first one (teacher-forced on its decoded output)."""
    out, vocabulary = decoded["test"], setup.extras["vocabulary"]
    n = cfg.spot_checks
    spot = {
        k: [_text(row, vocabulary) for row in out[key][0][:n]]
        for k, key in (("inputs", "inputs"), ("targets", "targets"), ("predicted", "predicted"))
    }
    if "attention_weights" in out:
        source = out["inputs"][0][0]
        steps = int(np.sum(source != tasks.PAD))
        length = int(np.argmax(out["predicted"][0][0] == tasks.END)) + 1
        spot["attention_weights"] = out["attention_weights"][0][0][:length, :steps].tolist()
        spot["weights_inputs"] = [vocabulary[t] for t in source[:steps]]
        spot["weights_outputs"] = [vocabulary[t] for t in out["predicted"][0][0][:length]]
    return spot


def write_plots(workdir: str, cfg, models: dict) -> dict[str, str]:
    scores = {n: 100 * np.asarray(m["per_seed"]["test_exact_match"]) for n, m in models.items()}
    files = {
        "exact_match_by_seed": plots.scores_by_seed(
            scores,
            os.path.join(workdir, "exact_match_by_seed.png"),
            ylabel="TEST exact match (%)",
            title=f"{cfg.task}: TEST exact match over {cfg.seeds} seeds ({cfg.decode})",
        )
    }
    for name, entry in models.items():
        spot = entry.get("spot_checks_first_seed", {})
        if "attention_weights" in spot:
            files[f"attention_{name}"] = plots.attention_heatmap(
                np.asarray(spot["attention_weights"]),
                spot["weights_inputs"],
                spot["weights_outputs"],
                os.path.join(workdir, f"attention_{name}.png"),
                title=f"{cfg.task}, {name}: attention, seed {cfg.first_seed}, one TEST example",
            )
    return files


def _summary_line(name: str, entry: dict, metric: str) -> str:
    values = 100 * np.asarray(entry["per_seed"][metric], float)
    s = (entry.get("summary") or {}).get(metric)
    ci = f" 95% CI [{100 * s['ci_t_low']:.1f}, {100 * s['ci_t_high']:.1f}]" if s else ""
    return f"  {name:>14}: mean {values.mean():5.1f}%{ci}  per seed {np.round(values, 1).tolist()}"


def print_report(cfg, models: dict, comparison: dict | None) -> None:
    for metric in ("test_exact_match", "long_exact_match"):
        print(f"\n{metric} ({cfg.task}, {cfg.decode} decoding):")
        for name, entry in models.items():
            print(_summary_line(name, entry, metric))
        if comparison is not None and metric in comparison:
            print(stats.format_comparison(comparison[metric]))
    first = next(iter(models.values()))["per_seed"]
    for key in sorted(k for k in first if k.startswith("beam") and k.endswith("exact_match")):
        lp = key.replace("exact_match", "log_prob")
        for name, entry in models.items():
            print(
                f"  {key.split('_')[0]} {name}: exact match "
                f"{100 * np.mean(entry['per_seed'][key]):.1f}%, mean log-prob "
                f"{np.mean(entry['per_seed'][lp]):.4f}"
            )
    for name, entry in models.items():
        spot = entry["spot_checks_first_seed"]
        print(f"\nSpot checks, {name} (seed {cfg.first_seed}, the first TEST examples):")
        for x, y, p in zip(spot["inputs"], spot["targets"], spot["predicted"], strict=True):
            print(f"  {x!r} -> expected {y!r}, decoded {p!r}")


def report(cfg, ctx, setup, results: dict, fits: dict) -> dict[str, str]:
    files = write_plots(ctx.workdir, cfg, results["models"])
    print_report(cfg, results["models"], results["comparison"])
    return files
