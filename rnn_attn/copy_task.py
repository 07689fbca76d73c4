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

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rnn_attn import devices, training
from rnn_attn.attention import ATTENTION_KINDS
from rnn_attn.cells import CELLS
from rnn_attn.checkpoints import Checkpointer
from rnn_attn.config import ConfigError, check_resume_compatible, field, require
from rnn_attn.data.copy_task import check_copy_task, one_hot, sample_copy_task
from rnn_attn.models.seq2seq import MODEL_KINDS, make_model

# Settings that change how a run executes but not what it computes: a resume may differ.
EXECUTION_ONLY = ("checkpoint_every", "cpu_devices", "spot_checks")


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
        "(0: one per seed up to 16; 1: a single device)"
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


def build_model(name: str, config: CopyTaskConfig):
    return make_model(name, config.cardinality, units=config.units, cell=config.cell,
                      attention=config.attention, unroll=config.unroll)


def seed_keys(config: CopyTaskConfig) -> dict[str, jax.Array]:
    """Per-repeat keys ``<key>[seeds]`` for init, training data, test data and spot checks."""
    roots = [jax.random.PRNGKey(config.first_seed + i) for i in range(config.seeds)]
    split = [jax.random.split(r, 4) for r in roots]
    return {name: jnp.stack([s[j] for s in split])
            for j, name in enumerate(("init", "data", "test", "spot"))}


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
    """``eval_fn(params, key) -> {'exact_match', 'token_accuracy', 'loss'}`` on fresh pairs."""
    def eval_fn(params, key):
        inputs, targets = sample_copy_task(key, config.eval_examples, config.length,
                                           config.n_copy, config.cardinality)
        logits = model(params, one_hot(inputs, config.cardinality))
        predicted = jnp.argmax(logits, axis=-1)
        hits = predicted == targets
        return {
            "exact_match": jnp.mean(jnp.all(hits, axis=-1)),
            "token_accuracy": jnp.mean(hits),
            "loss": training.softmax_cross_entropy(logits, targets),
        }
    return eval_fn


def init_seed_states(model, optimizer, init_keys, data_keys) -> training.TrainState:
    """Per-seed states ``[seeds, ...]``, initialized together by one compiled program."""
    def init_one(init_key, data_key):
        params = model.init(init_key)
        return training.TrainState(params, optimizer.init(params), data_key)
    return jax.jit(jax.vmap(init_one))(init_keys, data_keys)


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
    """Builds, initializes and compiles one model's training and test programs."""
    import time

    start = time.perf_counter()
    model = build_model(name, config)
    optimizer = training.keras_adam(config.learning_rate)
    keys = seed_keys(config)
    sharding = devices.seed_sharding(mesh)
    state = jax.device_put(
        init_seed_states(model, optimizer, keys["init"], keys["data"]), sharding
    )
    loss_fn, sample_fn = make_loss_fn(model, config), make_sample_fn(config)

    def compile_chunk(num_steps: int):
        chunk = jax.vmap(training.make_train_chunk(loss_fn, sample_fn, optimizer, num_steps),
                         in_axes=(0, None))
        return jax.jit(chunk, donate_argnums=0).lower(state, jnp.int32(0)).compile()

    eval_fn = jax.jit(jax.vmap(make_eval_fn(model, config)))
    prepared = PreparedModel(name, model, state, compile_chunk,
                             eval_fn.lower(state.params, keys["test"]).compile(), sharding)
    prepared.train_chunk(min(config.checkpoint_every, config.steps))
    prepared.compile_seconds = time.perf_counter() - start
    return prepared


def prepare_models(config: CopyTaskConfig, mesh) -> dict[str, PreparedModel]:
    """Prepares every model in turn (compiling them in threads measured no faster: XLA's
    compiler already keeps both cores of a small machine busy)."""
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


def evaluate(prepared: PreparedModel, config: CopyTaskConfig) -> dict[str, np.ndarray]:
    """Per-seed test metrics on ``eval_examples`` fresh pairs: ``{metric: <float>[seeds]}``."""
    metrics = prepared.evaluate(prepared.state.params, seed_keys(config)["test"])
    return {k: np.asarray(v, np.float64) for k, v in metrics.items()}


def first_seed_params(prepared: PreparedModel):
    return jax.tree.map(lambda a: np.asarray(a[0]), prepared.state.params)


def spot_check(prepared: PreparedModel, config: CopyTaskConfig, count: int):
    """``count`` fresh pairs decoded by the first seed's model.

    Returns ``(inputs, targets, predictions)`` as int arrays ``[count, length]`` and, for
    the attention model, its weights ``[count, out_steps, in_steps]`` (else None).
    """
    key = seed_keys(config)["spot"][0]
    inputs, targets = sample_copy_task(key, count, config.length, config.n_copy,
                                       config.cardinality)
    params = first_seed_params(prepared)
    x = one_hot(inputs, config.cardinality)
    weights = None
    if hasattr(prepared.model, "apply_with_weights"):
        logits, weights = jax.jit(prepared.model.apply_with_weights)(params, x)
        weights = np.asarray(weights)
    else:
        logits = jax.jit(prepared.model)(params, x)
    return np.asarray(inputs), np.asarray(targets), np.asarray(jnp.argmax(logits, -1)), weights
