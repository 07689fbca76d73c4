"""Run by tests/test_sharding.py in its own process, on 8 virtual CPU devices (the XLA flag
must be set before JAX starts, so it cannot run inside the pytest process).

    XLA_FLAGS=--xla_force_host_platform_device_count=8 python tests/_sharding_worker.py \
        data|seed OUT.json

``data``: trains the copy-task models on one device and data-parallel on 8 (same global
batch, same seed) and writes the loss curves as JSON; ``seed``: the copy-task comparison
on a seed mesh of 1 and of 8 devices, the per-seed test accuracies. (The epoch-trained
experiments' meshes are tested by tests/test_engine_mesh.py.) (Two parts so that the
test can run them side by side on a 2-core machine.)
"""

from __future__ import annotations

import json
import sys

import jax
import jax.numpy as jnp
import numpy as np

from rnn_attn import copy_task, distributed, training

STEPS, BATCH = 20, 16


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
    results = {
        "copy_baseline": {"one": copy_losses("baseline", None),
                          "eight": copy_losses("baseline", eight)},
        "copy_attention": {"one": copy_losses("attention", None),
                           "eight": copy_losses("attention", eight)},
    }
    with open(path, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
