"""What every experiment's work dir must hold: a ``results.json`` that fits the schema,
and one TensorBoard curve per seed of every model."""

from __future__ import annotations

import json
import os

from rnn_attn.analysis import schema


def curves(directory: str) -> dict[str, list]:
    """The scalar tags of a model's TensorBoard dir, read with TensorBoard's own reader."""
    from tensorboard.backend.event_processing import event_accumulator

    acc = event_accumulator.EventAccumulator(directory, size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def check_work_dir(workdir: str, *, tensorboard: bool = True) -> dict:
    """The run's results (validated against the schema), after checking that each model
    has a TensorBoard curve for each of its seeds; returns the record."""
    with open(os.path.join(workdir, "results.json")) as f:
        record = json.load(f)
    schema.validate(record)
    if tensorboard:
        for name, model in record["models"].items():
            tags = curves(os.path.join(workdir, "tensorboard", name))
            for seed in model["seeds"]:
                seed_tags = [t for t in tags if t.startswith(f"{name}/seed_{seed}/")]
                assert f"{name}/seed_{seed}/loss" in seed_tags, (name, seed, sorted(tags))
                assert all(tags[t] for t in seed_tags)
            other = {t.split("/")[1] for t in tags} - {f"seed_{s}" for s in model["seeds"]}
            assert not other, other
    return record


def minimal_record(models: dict, comparison: dict | None = None) -> dict:
    """The smallest valid results.json around ``models`` (and ``comparison``)."""
    return {
        "schema_version": schema.SCHEMA_VERSION,
        "experiment": "toy",
        "config": {},
        "devices": {},
        "metrics": {metric: metric for m in models.values() for metric in m["per_seed"]},
        "models": models,
        "comparison": comparison,
        "timing": {"total_seconds": 1.0, "compile_seconds": None, "train_seconds": None},
        "files": {},
    }
