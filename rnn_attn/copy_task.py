"""The copy-task protocol of reference document 001, compiled and seed-parallel.

Each model is trained for ``steps`` steps, each on ``batch_size`` fresh pairs, then scored
on ``eval_examples`` fresh pairs, where a pair counts as correct only when every decoded
position matches (exact match). The whole run of a model is one compiled program over
all seeds (``vmap``), with the seeds split over devices when there are several; it runs
in chunks of ``checkpoint_every`` steps so that it can be checkpointed and resumed, and
the data of step ``s`` are drawn from ``fold_in(data_key, s)``, so a resumed run sees the
same data as an uninterrupted one.

Repeat ``i`` uses ``first_seed + i`` for every model: the models see the same training and
test pairs seed for seed.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec as P

from rnn_attn import devices, training
from rnn_attn.attention import ATTENTION_KINDS
from rnn_attn.cells import CELLS
from rnn_attn.checkpoints import Checkpointer
from rnn_attn.config import ConfigError, check_resume_compatible, field, require
from rnn_attn.data.copy_task import check_copy_task, one_hot, sample_copy_task
from rnn_attn.models.seq2seq import MODEL_KINDS, make_model

# XLA's backend optimization level per program: LLVM's most expensive passes buy nothing
# measurable for these small, dispatch-bound loops (level 1 compiles ~20% faster and runs
# as fast as the default); the test program, which runs once, is compiled at level 0.
RUN_MANY = {"xla_backend_optimization_level": 1}
RUN_ONCE = {"xla_backend_optimization_level": 0}

# Settings that change how a run executes but not what it computes: a resume may differ.
EXECUTION_ONLY = ("checkpoint_every", "cpu_devices", "seed_loop", "spot_checks")


@dataclasses.dataclass(frozen=True)
class CopyTaskConfig:
    """The copy-task comparison; defaults reproduce reference document 001."""

    seeds: int = field(10, "independent repeats per model")
    first_seed: int = field(0, "seed of the first repeat; repeat i uses first_seed + i")
    models: str = field("baseline,attention", f"comma-separated models from {MODEL_KINDS}")
    steps: int = field(5000, "training steps per seed, each on fresh pairs")
    batch_size: int = field(1, "pairs per training step (the tutorial uses 1)")
    eval_examples: int = field(100, "fresh test pairs per seed (exact match of the sequence)")
    length: int = field(5, "input (and output) sequence length")
    n_copy: int = field(2, "how many leading input values the target copies")
    cardinality: int = field(50, "number of distinct symbols (one-hot width)")
    units: int = field(150, "hidden units of the encoder and the decoder")
    cell: str = field("lstm", f"recurrent cell of the encoder/decoder, one of {sorted(CELLS)}")
    attention: str = field("bahdanau", f"attention score, one of {ATTENTION_KINDS}")
    learning_rate: float = field(1e-3, "Adam learning rate")
    unroll: bool = field(True, "unroll the time loops fully (faster for short sequences)")
    checkpoint_every: int = field(1000, "training steps between checkpoints")
    cpu_devices: int = field(
        0, "on CPU, split the host into this many devices for seed parallelism "
        "(0: one per core, at most one per seed; 1: a single device)"
    )
    seed_loop: str = field(
        "auto", "how each device runs its seeds: vmap (batched), map (one after another), "
        "or auto (map on CPU, vmap on GPU/TPU)"
    )
    spot_checks: int = field(10, "Expected/Predicted examples to print per model")

    @property
    def model_names(self) -> list[str]:
        return [m.strip() for m in self.models.split(",") if m.strip()]

    def validate(self) -> CopyTaskConfig:
        """Raises ConfigError naming the first bad value."""
        for name in ("seeds", "steps", "batch_size", "eval_examples", "units",
                     "checkpoint_every"):
            value = getattr(self, name)
            require(isinstance(value, int) and value >= 1,
                    f"--{name.replace('_', '-')} must be an integer >= 1, got {value!r}")
        require(self.first_seed >= 0, f"--first-seed must be >= 0, got {self.first_seed}")
        require(self.cpu_devices >= 0, f"--cpu-devices must be >= 0, got {self.cpu_devices}")
        require(self.seed_loop in ("auto", "vmap", "map"),
                f"--seed-loop must be auto, vmap or map, got {self.seed_loop!r}")
        require(self.spot_checks >= 0, f"--spot-checks must be >= 0, got {self.spot_checks}")
        require(self.learning_rate > 0 and np.isfinite(self.learning_rate),
                f"--learning-rate must be a positive number, got {self.learning_rate}")
        try:
            check_copy_task(self.length, self.n_copy, self.cardinality)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        require(self.cell in CELLS,
                f"unknown cell kind {self.cell!r}; expected one of {sorted(CELLS)}")
        require(self.attention in ATTENTION_KINDS,
                f"unknown attention kind {self.attention!r}; expected one of {ATTENTION_KINDS}")
        names = self.model_names
        require(len(names) >= 1, "--models is empty; expected e.g. 'baseline,attention'")
        for name in names:
            require(name in MODEL_KINDS, f"unknown model {name!r}; expected one of {MODEL_KINDS}")
        require(len(set(names)) == len(names), f"--models repeats a model: {self.models!r}")
        return self


def seed_loop(config: CopyTaskConfig) -> str:
    """How a device runs its seeds: ``vmap`` (batched, right for accelerators) or ``map``
    (one after another; on CPU at batch 1 the batched ops cost more than they save)."""
    if config.seed_loop != "auto":
        return config.seed_loop
    return "map" if jax.default_backend() == "cpu" else "vmap"


def default_cpu_devices(config: CopyTaskConfig) -> int:
    """One CPU device per core (up to the number of seeds) unless set explicitly."""
    return config.cpu_devices or max(1, min(config.seeds, os.cpu_count() or 1))


def build_model(name: str, config: CopyTaskConfig):
    return make_model(name, config.cardinality, units=config.units, cell=config.cell,
                      attention=config.attention, unroll=config.unroll)


def seed_keys(config: CopyTaskConfig) -> dict[str, jax.Array]:
    """Per-repeat keys ``<key>[seeds]`` for init, training data and test data."""
    roots = [jax.random.PRNGKey(config.first_seed + i) for i in range(config.seeds)]
    split = [jax.random.split(r, 3) for r in roots]
    return {name: jnp.stack([s[j] for s in split])
            for j, name in enumerate(("init", "data", "test"))}


def make_sample_fn(config: CopyTaskConfig) -> Callable[[jax.Array], tuple[jax.Array, jax.Array]]:
    """``sample_fn(key) -> (inputs, targets)``, one training batch of integer pairs."""
    def sample_fn(key):
        return sample_copy_task(key, config.batch_size, config.length, config.n_copy,
                                config.cardinality)
    return sample_fn


def make_loss_fn(model, config: CopyTaskConfig) -> Callable[[Any, Any], jax.Array]:
    """``loss_fn(params, (inputs, targets))``: mean categorical cross-entropy."""
    def loss_fn(params, batch):
        inputs, targets = batch
        logits = model(params, one_hot(inputs, config.cardinality))
        return training.softmax_cross_entropy(logits, targets)
    return loss_fn


def make_eval_fn(model, config: CopyTaskConfig) -> Callable[[Any, jax.Array], dict]:
    """``eval_fn(params, key)`` on ``eval_examples`` fresh pairs.

    Returns metrics (``exact_match``, ``token_accuracy``, ``loss``) and, for inspection,
    the pairs, the predictions and (attention model) the attention weights
    ``[examples, out_steps, in_steps]``.
    """
    def eval_fn(params, key):
        inputs, targets = sample_copy_task(key, config.eval_examples, config.length,
                                           config.n_copy, config.cardinality)
        x = one_hot(inputs, config.cardinality)
        if hasattr(model, "apply_with_weights"):
            logits, weights = model.apply_with_weights(params, x)
        else:
            logits, weights = model(params, x), None
        predicted = jnp.argmax(logits, axis=-1)
        hits = predicted == targets
        out = {  # counts, turned into exact fractions on the host by `evaluate`
            "exact_match": jnp.sum(jnp.all(hits, axis=-1)),
            "token_accuracy": jnp.sum(hits),
            "loss": training.softmax_cross_entropy(logits, targets),
            "inputs": inputs,
            "targets": targets,
            "predicted": predicted,
        }
        if weights is not None:
            out["attention_weights"] = weights
        return out
    return eval_fn


def _init_one(model, optimizer):
    def init_one(init_key, data_key):
        params = model.init(init_key)
        return training.TrainState(params, optimizer.init(params), data_key)
    return init_one


def init_seed_states(model, optimizer, init_keys, data_keys) -> training.TrainState:
    """Per-seed states ``[seeds, ...]``, initialized eagerly one seed at a time (outside
    any compiled region: see ``initializers.orthogonal``) and stacked."""
    init_one = _init_one(model, optimizer)
    return training.stack_states([init_one(k, d) for k, d in zip(init_keys, data_keys,
                                                                  strict=True)])


@dataclasses.dataclass
class PreparedModel:
    """A model with its compiled, seed-parallel programs."""

    name: str
    model: Any
    state: training.TrainState
    compile_chunk: Callable[[int], Any]
    evaluate: Any
    sharding: Any
    compile_seconds: float = 0.0
    train_chunks: dict[int, Any] = dataclasses.field(default_factory=dict)

    def train_chunk(self, num_steps: int):
        """The compiled program for ``num_steps`` steps (compiled on first use)."""
        if num_steps not in self.train_chunks:
            self.train_chunks[num_steps] = self.compile_chunk(num_steps)
        return self.train_chunks[num_steps]


def prepare_model(name: str, config: CopyTaskConfig, mesh) -> PreparedModel:
    """Builds, initializes and compiles one model's training and test programs.

    The three (initialization, training chunk, test) compile concurrently: XLA's
    compiler is single-threaded per program, so this keeps both cores of a small
    machine busy.
    """
    start = time.perf_counter()
    model = build_model(name, config)
    optimizer = training.keras_adam(config.learning_rate)
    keys = seed_keys(config)
    sharding = devices.seed_sharding(mesh)
    abstract = jax.tree.map(
        lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=sharding),
        jax.eval_shape(jax.vmap(_init_one(model, optimizer)), keys["init"], keys["data"]),
    )
    loss_fn, sample_fn = make_loss_fn(model, config), make_sample_fn(config)

    def compile_chunk(num_steps: int):
        one_seed = training.make_train_chunk(loss_fn, sample_fn, optimizer, num_steps)
        if seed_loop(config) == "map":
            def chunk(states, first_step):
                return jax.lax.map(lambda s: one_seed(s, first_step), states)
        else:
            chunk = jax.vmap(one_seed, in_axes=(0, None))
        chunk = devices.per_seed_shards(chunk, mesh, in_specs=(P("seed"), P()))
        lowered = jax.jit(chunk, donate_argnums=0).lower(abstract, jnp.int32(0))
        return lowered.compile(compiler_options=RUN_MANY)

    def compile_eval():
        eval_fn = devices.per_seed_shards(jax.vmap(make_eval_fn(model, config)), mesh,
                                          in_specs=(P("seed"), P("seed")))
        lowered = jax.jit(eval_fn).lower(abstract.params, keys["test"])
        return lowered.compile(compiler_options=RUN_ONCE)

    def init_state():
        state = init_seed_states(model, optimizer, keys["init"], keys["data"])
        return jax.device_put(state, sharding)

    first_chunk = min(config.checkpoint_every, config.steps)
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        state = pool.submit(init_state)
        chunk = pool.submit(compile_chunk, first_chunk)
        evaluate_program = pool.submit(compile_eval)
        prepared = PreparedModel(name, model, state.result(), compile_chunk,
                                 evaluate_program.result(), sharding)
        prepared.train_chunks[first_chunk] = chunk.result()
    prepared.compile_seconds = time.perf_counter() - start
    return prepared


def iter_prepared(config: CopyTaskConfig, mesh) -> Iterator[PreparedModel]:
    """Yields each model prepared, preparing the next one in a background thread while
    the caller trains the current one (compilation then overlaps training)."""
    names = config.model_names
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(prepare_model, names[0], config, mesh)
        for i in range(len(names)):
            prepared = future.result()
            if i + 1 < len(names):
                future = pool.submit(prepare_model, names[i + 1], config, mesh)
            yield prepared


def prepare_models(config: CopyTaskConfig, mesh) -> dict[str, PreparedModel]:
    """Every model prepared, in order."""
    return {name: prepare_model(name, config, mesh) for name in config.model_names}


def train(
    prepared: PreparedModel,
    config: CopyTaskConfig,
    *,
    checkpoint_dir: str | None = None,
    resume: bool = False,
    on_progress: Callable[[int], None] | None = None,
    config_record: dict | None = None,
) -> np.ndarray:
    """Trains every seed of one model; returns the training losses ``[seeds, steps]``.

    With ``checkpoint_dir``, saves the state every ``checkpoint_every`` steps; with
    ``resume``, continues from the newest checkpoint there.
    """
    losses = np.zeros((config.seeds, config.steps), np.float32)
    step = 0
    ckpt = Checkpointer(checkpoint_dir) if checkpoint_dir else None
    record = dict(config_record or {})
    try:
        if ckpt is not None and not resume and ckpt.latest_step() is not None:
            raise ConfigError(
                f"{checkpoint_dir!r} already holds checkpoints (step {ckpt.latest_step()}); "
                f"pass --resume to continue that run, or choose another --workdir"
            )
        if ckpt is not None and resume and ckpt.latest_step() is not None:
            latest = ckpt.latest_step()
            tree, saved = ckpt.restore(latest, {"state": prepared.state, "losses": losses})
            check_resume_compatible(
                {k: v for k, v in saved.get("config", {}).items() if k not in EXECUTION_ONLY},
                {k: v for k, v in record.items() if k not in EXECUTION_ONLY},
            )
            prepared.state = jax.device_put(tree["state"], prepared.sharding)
            losses = np.array(tree["losses"])
            step = int(saved["step"])
            if on_progress:
                on_progress(step)
        while step < config.steps:
            n = min(config.checkpoint_every, config.steps - step)
            run_chunk = prepared.train_chunk(n)
            prepared.state, chunk_losses = run_chunk(prepared.state, jnp.int32(step))
            losses[:, step : step + n] = np.asarray(chunk_losses)
            step += n
            if ckpt is not None:
                ckpt.save(step, {"state": prepared.state, "losses": losses},
                          {"config": record, "step": step, "model": prepared.name})
            if on_progress:
                on_progress(n)
    finally:
        if ckpt is not None:
            ckpt.close()
    return losses


METRICS = ("exact_match", "token_accuracy", "loss")


def evaluate(prepared: PreparedModel, config: CopyTaskConfig) -> dict[str, np.ndarray]:
    """Test results on ``eval_examples`` fresh pairs per seed: each metric as
    ``<float>[seeds]``, plus the pairs and predictions ``<int>[seeds, examples, length]``
    (and attention weights) for spot checks."""
    results = prepared.evaluate(prepared.state.params, seed_keys(config)["test"])
    out = {k: np.asarray(v, np.float64 if k in METRICS else None) for k, v in results.items()}
    out["exact_match"] /= config.eval_examples
    out["token_accuracy"] /= config.eval_examples * config.length
    return out
