"""Run by tests/test_sharding.py in its own process, on 8 virtual CPU devices (the XLA flag
must be set before JAX starts, so it cannot run inside the pytest process).

    XLA_FLAGS=--xla_force_host_platform_device_count=8 python tests/_sharding_worker.py \
        data|seed OUT.json

``data``: trains the same tiny models on one device and data-parallel on 8 (same global
batch, same seed) and writes the loss curves as JSON; ``seed``: the copy-task comparison
on a seed mesh of 1 and of 8 devices, the per-seed test accuracies. (Two parts so that the
test can run them side by side on a 2-core machine.)
"""

from __future__ import annotations

import json
import sys

import jax
import jax.numpy as jnp
import numpy as np

from rnn_attn import copy_task, distributed, trainer, training
from rnn_attn.data.batching import train_batches
from rnn_attn.models.text_classifiers import BiLSTMClassifier

STEPS, BATCH = 20, 16


def imdb_like(n: int, seed: int, *, vocab: int = 50, maxlen: int = 12) -> dict[str, np.ndarray]:
    """Token sequences ``<int32>[n, maxlen]`` (0 = padding, 'pre') with a learnable label."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(1, vocab, size=(n, maxlen)).astype(np.int32)
    lengths = rng.integers(4, maxlen + 1, size=n)
    tokens[np.arange(maxlen)[None, :] < (maxlen - lengths)[:, None]] = 0
    labels = ((tokens > vocab // 2).sum(1) > lengths / 2).astype(np.int32)
    return {"inputs": tokens, "targets": labels}


def step_losses(model, mesh, *, steps: int = STEPS, batch: int = BATCH) -> list[float]:
    """Per-step training loss of ``steps`` Adam steps; ``mesh`` None: one device."""
    optimizer = training.keras_adam(1e-2)
    objective = trainer.binary_classification()
    state = trainer.init_state(model, optimizer, jax.random.PRNGKey(0))
    train_step, _ = trainer.jit_steps(model, objective, optimizer, mesh=mesh)
    if mesh is None:
        place = lambda b: {k: jax.device_put(v, jax.devices()[0]) for k, v in b.items()}  # noqa: E731
        state = jax.device_put(state, jax.devices()[0])
    else:
        sharding = distributed.batch_sharding(mesh)
        place = lambda b: distributed.put_batch(b, sharding)  # noqa: E731
        state = distributed.put_replicated(state, mesh)
    data = imdb_like(steps * batch, 1)
    losses = []
    for b in train_batches(data, batch, seed=3, epoch=0):
        state, sums = train_step(state, place(b))
        losses.append(float(sums["loss"]) / float(sums["count"]))
    return losses


def fit_history(model, mesh) -> dict[str, list[float]]:
    """``trainer.fit`` for 2 epochs (validation batch 20: rounded up to 24 on 8 devices)."""
    optimizer = training.keras_adam(1e-2)
    state = trainer.init_state(model, optimizer, jax.random.PRNGKey(1))
    options = trainer.FitOptions(epochs=2, batch_size=BATCH, seed=5, eval_batch_size=20)
    result = trainer.fit(model, trainer.binary_classification(), optimizer, state,
                         imdb_like(80, 2), imdb_like(50, 3), options, progress=False,
                         mesh=mesh)
    return result.history


def copy_losses(name: str, mesh) -> list[float]:
    """One seed of a copy-task model, ``STEPS`` steps of ``BATCH`` fresh pairs, the batch
    drawn on the device and (with a mesh) split over ``data``."""
    cfg = copy_task.CopyTaskConfig(seeds=1, steps=STEPS, batch_size=BATCH, units=8,
                                   unroll=False, cardinality=6, models=name).validate()
    model = copy_task.build_model(name, cfg)
    optimizer = training.keras_adam(cfg.learning_rate)
    keys = copy_task.seed_keys(cfg)
    state = copy_task.init_seed_states(model, optimizer, keys["init"], keys["data"])
    state = jax.tree.map(lambda x: x[0], state)
    sample_fn = copy_task.make_sample_fn(cfg)
    if mesh is None:
        chunk = jax.jit(training.make_train_chunk(copy_task.make_loss_fn(model, cfg), sample_fn,
                                                  optimizer, STEPS))
        state = jax.device_put(state, jax.devices()[0])
    else:
        rep = distributed.replicated(mesh)
        chunk = jax.jit(training.make_train_chunk(copy_task.make_loss_fn(model, cfg),
                                                  distributed.sharded_sampler(sample_fn, mesh),
                                                  optimizer, STEPS),
                        in_shardings=(rep, rep), out_shardings=(rep, rep))
        state = distributed.put_replicated(state, mesh)
    _, losses = chunk(state, jnp.int32(0))
    return [float(x) for x in np.asarray(losses)]


def seed_parallel_accuracies(mesh) -> dict[str, dict[str, list]]:
    """The copy-task comparison (8 seeds) on ``mesh``: per seed, the test exact match and
    token accuracy, the test loss and the training-loss curve."""
    cfg = copy_task.CopyTaskConfig(seeds=8, steps=30, checkpoint_every=30, units=8,
                                   unroll=False, cardinality=5, eval_examples=20, batch_size=4,
                                   spot_checks=0).validate()
    out = {}
    for name, prepared in copy_task.prepare_models(cfg, mesh).items():
        losses = copy_task.train(prepared, cfg)
        test = copy_task.evaluate(prepared, cfg)
        out[name] = {k: test[k].tolist() for k in ("exact_match", "token_accuracy", "loss")}
        out[name]["train_loss"] = losses.tolist()
    return out


def main(part: str, path: str) -> None:
    assert jax.device_count() == 8, jax.devices()
    if part == "seed":
        results = {"seed_parallel": {
            "one": seed_parallel_accuracies(distributed.exact_seed_mesh(8, 1)),
            "eight": seed_parallel_accuracies(distributed.exact_seed_mesh(8, 8))}}
        with open(path, "w") as f:
            json.dump(results, f)
        return
    eight = distributed.data_mesh(8)
    bilstm = BiLSTMClassifier(vocab_size=50, embed_dim=8, units=8, maxlen=12, dropout=0.5)
    attention = BiLSTMClassifier(vocab_size=50, embed_dim=8, units=8, maxlen=12,
                                 pooling="masked_attention", dropout=0.5)
    bf16 = distributed.with_compute_dtype(bilstm, "bfloat16")
    results = {
        "bilstm": {"one": step_losses(bilstm, None), "eight": step_losses(bilstm, eight)},
        "bilstm_attention": {"one": step_losses(attention, None),
                             "eight": step_losses(attention, eight)},
        "bilstm_bf16": {"eight": step_losses(bf16, eight)},
        "fit": {"one": fit_history(bilstm, None), "eight": fit_history(bilstm, eight)},
        "copy_baseline": {"one": copy_losses("baseline", None),
                          "eight": copy_losses("baseline", eight)},
        "copy_attention": {"one": copy_losses("attention", None),
                           "eight": copy_losses("attention", eight)},
    }
    with open(path, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
