"""The copy task of reference document 001: its models, data stream, training and test.

Each model is trained for ``steps`` steps, each on ``batch_size`` fresh pairs, then scored
on ``eval_examples`` fresh pairs, where a pair counts as correct only when every decoded
position matches (exact match). Training is ``train.engine.fit`` with a ``feed.Sampler``:
one epoch of ``steps`` steps whose batch at step ``s`` is drawn on the device from
``fold_in(data_key, s)``, all seeds in one program on the run's ``(seed, data)`` mesh,
checkpointed every ``checkpoint_every`` steps, so a resumed run sees the same data as an
uninterrupted one.

Repeat ``i`` uses seed ``first_seed + i`` for every model, whose ``split(PRNGKey(seed),
3)`` gives the initialization, training-data and test-data keys: the models see the same
training and test pairs seed for seed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from experiments.copy_task.config import CopyTaskConfig
from rnn_attn.data.copy_task import one_hot, sample_copy_task
from rnn_attn.models.seq2seq import make_model
from rnn_attn.parallel import devices, distributed
from rnn_attn.parallel import mesh as meshes
from rnn_attn.train import engine, feed, runs
from rnn_attn.train.objectives import Objective
from rnn_attn.train.optimizers import keras_adam
from rnn_attn.train.runs import ExtraCallbacks

# XLA's backend optimization level per program: LLVM's most expensive passes buy nothing
# measurable for these small, dispatch-bound loops (level 1 compiles ~20% faster and runs
# as fast as the default); the test program, which runs once, is compiled at level 0.
# (Changing the level changes float rounding, and so every later step of a run.)
TRAIN_COMPILER_OPTIONS = (("xla_backend_optimization_level", 1),)
TEST_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}


@dataclasses.dataclass(frozen=True)
class CopyModel:
    """A ``seq2seq`` model on integer sequences ``<int>[batch, length]``, in the engine's
    convention (``init``, ``apply``); the one-hot inputs take the parameters' dtype."""

    model: Any
    cardinality: int

    def init(self, key: jax.Array) -> dict:
        return self.model.init(key)

    def _one_hot(self, params, inputs: jax.Array) -> jax.Array:
        return one_hot(inputs, self.cardinality, jax.tree.leaves(params)[0].dtype)

    def apply(self, params, inputs: jax.Array, *, train: bool = False,
              key: jax.Array | None = None, return_weights: bool = False):
        """Logits ``<float>[batch, length, cardinality]``; with ``return_weights``,
        ``(logits, attention weights [batch, out, in] or None)`` (no dropout: ``train``
        and ``key`` change nothing)."""
        return self.model.apply(params, self._one_hot(params, inputs), train=train, key=key,
                                return_weights=return_weights)


def build_model(name: str, config: CopyTaskConfig) -> CopyModel:
    return CopyModel(make_model(name, config.cardinality, units=config.units,
                                cell=config.cell, attention=config.attention,
                                unroll=config.unroll), config.cardinality)


def sequence_cross_entropy() -> Objective:
    """Keras's categorical cross-entropy on integer labels, averaged over positions:
    ``logits <float>[batch, length, classes]``, ``targets <int>[batch, length]``."""
    return Objective(loss=lambda logits, targets: optax.softmax_cross_entropy_with_integer_labels(
        logits, targets).mean(-1))


def repeat_keys(seed: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """A repeat's ``(init, data, test)`` keys: ``split(PRNGKey(seed), 3)``."""
    init, data, test = jax.random.split(jax.random.PRNGKey(seed), 3)
    return init, data, test


def init_and_data_keys(seed: int) -> tuple[jax.Array, jax.Array]:
    """The engine's ``(init_key, dropout_key)``: the models have no dropout, and the data
    key fills the second place (it draws nothing there)."""
    return repeat_keys(seed)[:2]


def sampler(config: CopyTaskConfig) -> feed.Sampler:
    """Every seed's stream of training pairs (``steps`` steps of ``batch_size`` pairs)."""
    def sample(key: jax.Array) -> dict[str, jax.Array]:
        inputs, targets = sample_copy_task(key, config.batch_size, config.length,
                                           config.n_copy, config.cardinality)
        return {"inputs": inputs, "targets": targets}

    keys = np.stack([np.asarray(repeat_keys(s)[1]) for s in config.seed_numbers])
    return feed.Sampler(sample, keys, config.steps)


def fit_config(config: CopyTaskConfig, mesh: Mesh) -> engine.FitConfig:
    return engine.FitConfig(seeds=config.seed_numbers, epochs=1,
                            batch_size=config.batch_size, monitor="loss",
                            on_nonfinite=config.on_nonfinite,
                            checkpoint_every=config.checkpoint_every,
                            seed_loop=engine.resolve_seed_loop(config.seed_loop, mesh),
                            compiler_options=TRAIN_COMPILER_OPTIONS)


def train_models(config: CopyTaskConfig, mesh: Mesh, *, workdir: str | None = None,
          resume: bool = False, progress: bool = False, record: Mapping[str, Any] = (),
          compute_dtype: str = "float32",
          callbacks: ExtraCallbacks = lambda name: ()
                 ) -> dict[str, engine.FitResult]:
    """Trains every model of ``config`` over every seed; ``{name: FitResult}`` (with
    ``workdir``: checkpoints in ``workdir/checkpoints/<name>/``, resumable; ``record``
    is the configuration saved with them and compared on ``resume``)."""
    models = {name: distributed.with_compute_dtype(build_model(name, config), compute_dtype)
              for name in config.model_names}
    return runs.train_models(models, sequence_cross_entropy(),
                        engine.FitData(sampler(config)), fit_config(config, mesh),
                        optimizer=keras_adam(config.learning_rate), mesh=mesh,
                        workdir=workdir, record=record, resume=resume, progress=progress,
                        seed_keys=init_and_data_keys, callbacks=callbacks)


METRICS = ("exact_match", "token_accuracy", "loss")


def make_test_fn(model: CopyModel, config: CopyTaskConfig) -> Callable[[Any, jax.Array], dict]:
    """``test_fn(params, key)`` on ``eval_examples`` fresh pairs of one seed.

    Returns counts (``exact_match``, ``token_accuracy``), the mean ``loss`` and, for
    inspection, the pairs, the predictions and (attention model) the attention weights
    ``[examples, out_steps, in_steps]``.
    """
    def test_fn(params, key):
        inputs, targets = sample_copy_task(key, config.eval_examples, config.length,
                                           config.n_copy, config.cardinality)
        logits, weights = model.apply(params, inputs, return_weights=True)
        predicted = jnp.argmax(logits, axis=-1)
        hits = predicted == targets
        out = {"exact_match": jnp.sum(jnp.all(hits, axis=-1)), "token_accuracy": jnp.sum(hits),
               "loss": optax.softmax_cross_entropy_with_integer_labels(logits, targets).mean(),
               "inputs": inputs, "targets": targets, "predicted": predicted}
        if weights is not None:
            out["attention_weights"] = weights
        return out
    return test_fn


def compile_test(name: str, config: CopyTaskConfig, mesh: Mesh) -> Callable:
    """The compiled test program of one model: ``(params [seeds, ...], keys [seeds, 2])
    -> make_test_fn``'s outputs per seed. It needs only shapes, so it can be compiled
    while the models train."""
    model = build_model(name, config)
    test_fn = devices.per_seed_shards(jax.vmap(make_test_fn(model, config)), mesh,
                                      in_specs=(P(meshes.SEED), P(meshes.SEED)))
    seeds = meshes.per_seed(mesh)
    params = jax.eval_shape(jax.vmap(model.init), jax.ShapeDtypeStruct(
        (config.seeds, 2), jnp.uint32))
    params = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=seeds),
                          params)
    keys = jax.ShapeDtypeStruct((config.seeds, 2), jnp.uint32, sharding=seeds)
    return jax.jit(test_fn).lower(params, keys).compile(TEST_COMPILER_OPTIONS)


def evaluate(result: engine.FitResult, config: CopyTaskConfig, program: Callable
             ) -> dict[str, np.ndarray]:
    """Test results of every seed on its ``eval_examples`` fresh pairs (``program`` from
    ``compile_test``): each metric as ``<float>[seeds]``, plus the pairs and predictions
    ``<int>[seeds, examples, length]`` (and attention weights) for spot checks."""
    mesh = result.programs.mesh
    keys = np.stack([np.asarray(repeat_keys(s)[2]) for s in config.seed_numbers])
    keys = meshes.put(keys, meshes.per_seed(mesh))
    out = meshes.fetch(program(result.state.params, keys))
    out = {k: np.asarray(v, np.float64 if k in METRICS else None) for k, v in out.items()}
    out["exact_match"] /= config.eval_examples
    out["token_accuracy"] /= config.eval_examples * config.length
    return out
