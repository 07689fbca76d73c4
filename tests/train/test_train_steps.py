"""One seed's train and eval steps: padding changes nothing, one step changes every
parameter, evaluation covers every example exactly once."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from rnn_attn.train import engine, feed, objectives, steps


@dataclasses.dataclass(frozen=True)
class MeanEmbedding:
    """A tiny text classifier: mean of token embeddings -> dropout -> logit."""

    vocab_size: int = 20
    dim: int = 4
    dropout: float = 0.3

    def init(self, key):
        k1, k2 = jax.random.split(key)
        return {
            "emb": 0.1 * jax.random.normal(k1, (self.vocab_size, self.dim)),
            "w": 0.1 * jax.random.normal(k2, (self.dim,)),
            "b": jnp.zeros(()),
        }

    def apply(self, params, tokens, *, train=False, key=None):
        h = params["emb"][tokens].mean(1)
        if train and self.dropout:
            keep = jax.random.bernoulli(key, 1 - self.dropout, h.shape)
            h = jnp.where(keep, h / (1 - self.dropout), 0.0)
        return h @ params["w"] + params["b"]

    def regularization(self, params):
        return 1e-3 * jnp.sum(params["w"] ** 2)


def tokens(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 20, size=(n, 8)).astype(np.int32)
    return {"inputs": x, "targets": ((x < 10).sum(1) > 4).astype(np.int32)}


BINARY = objectives.binary_classification()


def test_padding_examples_change_nothing_in_a_train_step():
    model, optimizer = MeanEmbedding(dropout=0.0), optax.sgd(0.1)
    step = steps.make_train_step(model, BINARY, optimizer)
    state = steps.init_state(model, optimizer, *steps.default_seed_keys(2))
    padded = tokens(4, 5) | {"weight": np.array([1, 1, 0, 0], np.float32)}
    real = {k: v[:2] for k, v in padded.items()}
    a, sums_a = step(state, padded)
    b, sums_b = step(state, real)
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-12), a.params, b.params)
    assert float(sums_a["count"]) == 2.0
    np.testing.assert_allclose(sums_a["loss"], sums_b["loss"], rtol=1e-12)


def test_one_step_changes_every_parameter():
    model, optimizer = MeanEmbedding(), optax.adam(0.01)
    step = jax.jit(steps.make_train_step(model, BINARY, optimizer))
    state = steps.init_state(model, optimizer, *steps.default_seed_keys(3))
    before = jax.tree.map(np.array, state.params)
    after, _ = step(state, tokens(16, 0) | {"weight": np.ones(16, np.float32)})
    for name in before:
        assert not np.allclose(before[name], after.params[name]), name
    assert int(after.step) == 1


def test_evaluation_covers_every_example_exactly():
    model = MeanEmbedding()
    data = tokens(53, 3)  # 53 = 3 batches of 20, the last one padded with 7 dummies
    config = engine.FitConfig(
        seeds=(0, 1), epochs=1, batch_size=16, monitor="loss", check_updates=False
    )
    result = engine.fit(
        BINARY, model, engine.FitData(feed.Split(tokens(32, 1))), config, optimizer=optax.sgd(0.0)
    )
    got = result.evaluate(feed.Split(data), 20, best=False, prefix="val_")
    for i in range(2):
        params = result.seed_params(i)
        logits = np.asarray(model.apply(params, jnp.asarray(data["inputs"])), np.float64)
        y = data["targets"]
        bce = np.mean(np.logaddexp(0, logits) - y * logits) + float(model.regularization(params))
        assert got[i]["val_accuracy"] == pytest.approx(np.mean((logits > 0) == (y == 1)), abs=1e-12)
        assert got[i]["val_loss"] == pytest.approx(bce, rel=1e-6)
