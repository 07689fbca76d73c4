"""Run by tests/parallel/test_trials_mesh.py in its own process, on 8 virtual CPU devices
(the XLA flag must be set before JAX starts).

    XLA_FLAGS=--xla_force_host_platform_device_count=8 python tests/_trials_mesh_worker.py \
        PART OUT.json

Trains 8 trials (4 settings of learning rate x dropout, 2 seeds) of a tiny LSTM
classifier, and of the copy task's attention model (learning rates; batches drawn on the
device), for 2 epochs of 10 steps: on one device and on the (seed, data) meshes (8, 1),
(4, 2), (2, 4); and each setting alone as a plain run on one device. Writes every slot's
history. ``PART`` ``a`` is the classifier, ``b`` the copy task.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys

# Run as a script, its folder (tests/, which holds a package ``experiments`` of its own)
# would come first on the path, and ``experiments.copy_task`` would then be found by the
# venv's editable install in another checkout: the checkout's root comes first instead.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from experiments.copy_task import train as copy_lib  # noqa: E402
from experiments.copy_task.config import CopyTaskConfig  # noqa: E402
from rnn_attn.data.copy_task import validation_pairs  # noqa: E402
from rnn_attn.models.text_classifiers import RecurrentClassifier  # noqa: E402
from rnn_attn.parallel.mesh import make_mesh  # noqa: E402
from rnn_attn.train import engine, objectives, trials  # noqa: E402
from rnn_attn.train.feed import Split  # noqa: E402
from rnn_attn.train.optimizers import keras_adam  # noqa: E402

SEEDS, BATCH, STEPS_PER_EPOCH = (0, 1), 16, 10
MESHES = {"one": None, "8x1": (8, 1), "4x2": (4, 2), "2x4": (2, 4)}


def tokens(n: int, seed: int, *, vocab: int = 40, maxlen: int = 12) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.integers(1, vocab, size=(n, maxlen)).astype(np.int32)
    lengths = rng.integers(4, maxlen + 1, size=n)
    x[np.arange(maxlen)[None, :] < (maxlen - lengths)[:, None]] = 0
    return {"inputs": x, "targets": ((x > vocab // 2).sum(1) > lengths / 2).astype(np.int32)}


def classifier() -> dict:
    model = RecurrentClassifier("lstm", vocab_size=40, embed_dim=8, units=8, maxlen=12)
    return {
        "objective": objectives.binary_classification(),
        "data": engine.FitData(Split(tokens(BATCH * STEPS_PER_EPOCH, 1)), Split(tokens(40, 2))),
        "settings": [
            {"learning_rate": lr, "dropout": d} for lr in (1e-3, 1e-2) for d in (0.0, 0.3)
        ],
        "plain": lambda s: (dataclasses.replace(model, dropout=s["dropout"]), s["learning_rate"]),
        "bind": lambda h: (dataclasses.replace(model, dropout=h["dropout"]), h["learning_rate"]),
        "seed_keys": engine.default_seed_keys,
    }


def copy_task() -> dict:
    cfg = CopyTaskConfig(
        seeds=len(SEEDS), steps=STEPS_PER_EPOCH, batch_size=BATCH, units=8, cardinality=6
    ).validate()
    model = copy_lib.build_model("attention", cfg)
    sizes = (cfg.eval_examples, cfg.length, cfg.n_copy, cfg.cardinality)
    return {
        "objective": copy_lib.sequence_cross_entropy(),
        "data": engine.FitData(copy_lib.sampler(cfg), Split(validation_pairs(*sizes))),
        "settings": [{"learning_rate": lr} for lr in (1e-3, 3e-3, 1e-2, 3e-2)],
        "plain": lambda s: (model, s["learning_rate"]),
        "bind": lambda h: (model, h["learning_rate"]),
        "seed_keys": copy_lib.init_and_data_keys,
    }


def mesh_of(shape, slots: int):
    if shape is None:
        return make_mesh(slots, devices=jax.devices()[:1])
    return make_mesh(slots, seed_parallel=shape[0], data_parallel=shape[1])


def fit(case: dict, config: engine.FitConfig, mesh, *, model=None, lr=None, bind=None):
    def bound(hyper):
        m, rate = case["bind"](hyper)
        return m, keras_adam(rate)

    return engine.fit(
        case["objective"],
        model,
        case["data"] if bind is None else trials.repeat_data(case["data"], 4),
        config,
        optimizer=keras_adam(lr) if lr is not None else keras_adam(),
        mesh=mesh,
        seed_keys=case["seed_keys"],
        bind=bound if bind else None,
    )


def run(case: dict) -> dict:
    base = engine.FitConfig(
        seeds=SEEDS, epochs=2, batch_size=BATCH, eval_batch_size=20, monitor="val_loss"
    )
    seeds, hyper = trials.grid_slots(SEEDS, case["settings"])
    config = dataclasses.replace(base, seeds=seeds, hyperparameters=hyper)
    out = {}
    for label, shape in MESHES.items():
        result = fit(case, config, mesh_of(shape, len(seeds)), bind=True)
        out[label] = result.history
    alone = []
    for setting in case["settings"]:
        model, lr = case["plain"](setting)
        alone += fit(case, base, mesh_of(None, len(SEEDS)), model=model, lr=lr).history
    out["alone"] = alone
    return out


def main(part: str, path: str) -> None:
    assert jax.device_count() == 8, jax.devices()
    name, case = ("classifier", classifier()) if part == "a" else ("copy_task", copy_task())
    with open(path, "w") as f:
        json.dump({name: run(case)}, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
