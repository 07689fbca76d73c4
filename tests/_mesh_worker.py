"""Run by tests/parallel/test_mesh.py in its own process, on 8 virtual CPU devices (the XLA
flag must be set before JAX starts).

    XLA_FLAGS=--xla_force_host_platform_device_count=8 python tests/_mesh_worker.py \
        PART OUT.json

For each experiment's model and objective (tiny sizes, synthetic data of the same
kinds; the copy task's pairs drawn on the device), trains 8 seeds for 2 epochs of 10 steps with ``engine.fit`` on one device and
on the (seed, data) meshes (8, 1), (4, 2), (2, 4), (1, 8), and writes each seed's history.
``PART`` picks half of the experiments, so the test can run two workers side by side.
"""

from __future__ import annotations

import json
import sys

import jax
import numpy as np

from experiments.copy_task import train as copy_lib
from experiments.copy_task.config import CopyTaskConfig
from experiments.vanishing_gradients import study as gradient_study
from rnn_attn.models.char_lm import CharRNN
from rnn_attn.models.forecasters import make_forecaster
from rnn_attn.models.text_classifiers import BiLSTMClassifier, EmbeddingFlattenClassifier
from rnn_attn.parallel.mesh import make_mesh
from rnn_attn.train import engine, objectives, steps
from rnn_attn.train.feed import Split
from rnn_attn.train.optimizers import keras_optimizer

SEEDS, BATCH, STEPS_PER_EPOCH = 8, 16, 10
MESHES = {"one": None, "8x1": (8, 1), "4x2": (4, 2), "2x4": (2, 4), "1x8": (1, 8)}


def tokens(n: int, seed: int, *, vocab: int = 40, maxlen: int = 12) -> dict[str, np.ndarray]:
    """Left-padded token sequences with a learnable binary label."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, vocab, size=(n, maxlen)).astype(np.int32)
    lengths = rng.integers(4, maxlen + 1, size=n)
    x[np.arange(maxlen)[None, :] < (maxlen - lengths)[:, None]] = 0
    return {"inputs": x, "targets": ((x > vocab // 2).sum(1) > lengths / 2).astype(np.int32)}


def series(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8, 3)).astype(np.float32)
    return {"inputs": x, "targets": (x[:, -1, 0] + 0.5 * x[:, -2, 1]).astype(np.float32)}


def characters(n: int, seed: int, vocab: int = 7) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, vocab, size=(n, 6)).astype(np.int32)
    return {"inputs": x, "targets": ((x[:, -1] + 1) % vocab).astype(np.int32)}


def experiments() -> dict[str, tuple]:
    """name -> (model, objective, optimizer, data) as each experiment builds them."""
    n = BATCH * STEPS_PER_EPOCH
    pool = tokens(n + 60, 9, maxlen=10)
    rows = np.stack([np.random.default_rng(s).permutation(n + 60) for s in range(SEEDS)])
    binary, mae = objectives.binary_classification(), objectives.mean_absolute_error()
    return {
        "imdb_attention": (
            BiLSTMClassifier(vocab_size=40, embed_dim=8, units=8, maxlen=12, pooling="attention"),
            binary,
            keras_optimizer("adam", 1e-2),
            engine.FitData(Split(tokens(n, 1)), Split(tokens(50, 2))),
        ),
        "imdb": (
            BiLSTMClassifier(vocab_size=40, embed_dim=8, units=8, maxlen=12),
            binary,
            keras_optimizer("adam", 1e-2),
            engine.FitData(Split(tokens(n, 3)), Split(tokens(50, 4))),
        ),
        "imdb_glove": (
            EmbeddingFlattenClassifier(vocab_size=40, embed_dim=4, maxlen=10, hidden_units=8),
            binary,
            keras_optimizer("rmsprop", 1e-2),
            engine.FitData(Split(pool, rows[:, :n]), Split(pool, rows[:, n:])),
        ),
        "weather": (
            make_forecaster("gru_dropout", 3, 8, units=8),
            mae,
            keras_optimizer("rmsprop", 1e-2),
            engine.FitData(Split(series(n, 5)), Split(series(40, 6))),
        ),
        "char_textgen": (
            CharRNN(7, units=8),
            objectives.categorical_classification(),
            keras_optimizer("rmsprop", 1e-2),
            engine.FitData(Split(characters(n, 7)), Split(characters(40, 8))),
        ),
        "copy_task": copy_task(),
        "vanishing_gradients": vanishing_gradients(),
    }


def copy_task() -> tuple:
    """The copy task as ``experiments.copy_task`` trains it: batches drawn on the device."""
    cfg = CopyTaskConfig(
        seeds=SEEDS, steps=STEPS_PER_EPOCH, batch_size=BATCH, units=8, cardinality=6, unroll=False
    ).validate()
    return (
        copy_lib.build_model("attention", cfg),
        copy_lib.sequence_cross_entropy(),
        keras_optimizer("adam", 1e-2),
        engine.FitData(copy_lib.sampler(cfg)),
    )


def vanishing_gradients() -> tuple:
    """The gradient study's LSTM on the first-symbol task: batches drawn on the device."""
    settings = gradient_study.StudySettings(
        units=8, symbols=4, batch_size=BATCH, steps=STEPS_PER_EPOCH
    )
    model, optimizer = gradient_study.build("lstm", settings)
    return (
        model,
        objectives.categorical_classification(),
        optimizer,
        engine.FitData(gradient_study.sampler(settings, 6, range(SEEDS))),
    )


def histories(model, objective, optimizer, data, shape) -> list[dict]:
    mesh = (
        make_mesh(SEEDS, devices=jax.devices()[:1])
        if shape is None
        else make_mesh(SEEDS, seed_parallel=shape[0], data_parallel=shape[1])
    )
    config = engine.FitConfig(
        seeds=tuple(range(SEEDS)),
        epochs=2,
        batch_size=BATCH,
        eval_batch_size=20,
        monitor="val_loss" if data.validation else "loss",
    )
    result = engine.fit(
        objective,
        model,
        data,
        config,
        optimizer=optimizer,
        mesh=mesh,
        seed_keys=copy_lib.init_and_data_keys
        if data.validation is None
        else steps.default_seed_keys,
    )
    # The per-step training losses too (the copy task reports them).
    return [h | {"step_loss": result.step_loss[i].tolist()} for i, h in enumerate(result.history)]


def main(part: str, path: str) -> None:
    assert jax.device_count() == 8, jax.devices()
    names = sorted(experiments())
    chosen = names[0::2] if part == "a" else names[1::2]
    out = {}
    for name in chosen:
        model, objective, optimizer, data = experiments()[name]
        out[name] = {
            label: histories(model, objective, optimizer, data, shape)
            for label, shape in MESHES.items()
        }
    with open(path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
