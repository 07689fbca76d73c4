"""Batch plans: the fields of each feed, their one layout on the mesh, and a run whose
training batches are drawn (``sample``) while its validation is read from a split."""

import dataclasses

import jax
import numpy as np
import pytest

from rnn_attn.models.forecasters import make_forecaster
from rnn_attn.parallel.mesh import DATA, SEED, make_mesh
from rnn_attn.train import engine, feed, objectives
from rnn_attn.train.optimizers import keras_optimizer
from rnn_attn.train.plans import STEPS, BatchPlan


def present(plan: BatchPlan) -> set[str]:
    return {f.name for f in dataclasses.fields(plan) if getattr(plan, f.name) is not None}


@pytest.mark.parametrize(
    "feed_kind, training, fields",
    [
        ("device", True, {"active", "index", "weight"}),
        ("host", True, {"active", "examples", "weight"}),
        ("sample", True, {"active", "key", "weight"}),
        ("device", False, {"index", "weight"}),
        ("host", False, {"examples", "weight"}),
        ("sample", False, {"index", "weight"}),  # a sampled run validates on a split
    ],
)
def test_each_feed_has_its_fields(feed_kind, training, fields):
    assert present(BatchPlan.of_feed(feed_kind, training=training)) == fields


def test_the_leaves_keep_the_order_of_the_named_arrays():
    """Field order is name order, so the programs' inputs are in the same order as when
    the plans were dicts (and a sampled plan's drawn examples take the key's place)."""
    plan = BatchPlan(active="a", examples={"targets": "t", "inputs": "i"}, weight="w")
    assert jax.tree.leaves(plan) == ["a", "i", "t", "w"]
    assert jax.tree.leaves(BatchPlan(active="a", index="x", weight="w")) == ["a", "x", "w"]


def test_place_lays_every_array_out_by_its_field():
    mesh = make_mesh(2, devices=jax.devices()[:1])
    seeds, steps, batch = 2, 3, 4
    plan = BatchPlan(
        active=np.ones((seeds, steps), bool),
        examples={
            "inputs": np.zeros((seeds, steps, batch, 5), np.float32),
            "targets": np.zeros((seeds, steps, batch), np.int32),
        },
        weight=np.ones((seeds, steps, batch), np.float32),
    ).place(mesh)
    assert plan.active.sharding.spec == jax.sharding.PartitionSpec(SEED)
    for array in (plan.weight, *plan.examples.values()):
        assert array.sharding.spec == STEPS == jax.sharding.PartitionSpec(SEED, None, DATA)
    assert plan.index is None and plan.key is None
    layout = BatchPlan.of_feed("host", training=True).shardings(mesh)
    assert jax.tree.structure(layout) == jax.tree.structure(plan)


def test_a_sampled_run_fed_from_the_host_validates_on_the_device():
    model = make_forecaster("dense", 3, 6, hidden=4)

    def sample(key):
        x = jax.random.normal(key, (8, 6, 3))
        return {"inputs": x, "targets": x[:, -1, 0]}

    keys = np.stack([np.asarray(jax.random.PRNGKey(s)) for s in (0, 1)])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 6, 3)).astype(np.float32)
    validation = feed.Split({"inputs": x, "targets": x[:, -1, 0]})
    config = engine.FitConfig(seeds=(0, 1), epochs=1, batch_size=8, feed="host")
    result = engine.fit(
        objectives.mean_absolute_error(),
        model,
        engine.FitData(feed.Sampler(sample, keys, 3), validation),
        config,
        optimizer=keras_optimizer("rmsprop", 1e-2),
    )
    assert all(np.isfinite(h["val_mae"]).all() for h in result.history)
    assert len(result.evaluate(validation, 8)) == 2
