import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_attn.models.generation import choose, make_generator


def _next_is_previous_plus_one(vocab):
    """A 'model' whose logits favour (last token + 1) mod vocab."""

    def next_logits(params, window):
        return 10.0 * jax.nn.one_hot((window[:, -1] + 1) % vocab, vocab) + params

    return next_logits


def test_greedy_generation_slides_the_window():
    generate = make_generator(_next_is_previous_plus_one(7), 12)
    out = generate(jnp.zeros(7), jnp.array([0, 1, 2], jnp.int32), jax.random.PRNGKey(0))
    np.testing.assert_array_equal(out, (np.arange(12) + 3) % 7)


def test_sampling_temperature_and_top_k():
    logits = jnp.log(jnp.array([0.5, 0.3, 0.15, 0.05]))
    keys = jax.random.split(jax.random.PRNGKey(0), 4000)
    draws = np.asarray(jax.vmap(lambda k: choose(logits, k, 1.0))(keys))
    np.testing.assert_allclose(
        np.bincount(draws, minlength=4) / 4000, [0.5, 0.3, 0.15, 0.05], atol=0.03
    )
    top2 = np.asarray(jax.vmap(lambda k: choose(logits, k, 1.0, top_k=2))(keys))
    assert set(np.unique(top2)) == {0, 1}
    assert int(choose(logits, keys[0], 0.0)) == 0
    cold = np.asarray(jax.vmap(lambda k: choose(logits, k, 0.05))(keys))
    assert (cold == 0).mean() > 0.99


def test_bad_generation_settings():
    f = _next_is_previous_plus_one(3)
    with pytest.raises(ValueError, match="length must be an integer >= 1, got 0"):
        make_generator(f, 0)
    with pytest.raises(ValueError, match=r"temperature must be a finite number >= 0 \(0: "):
        make_generator(f, 5, temperature=-1.0)
    for temperature in (float("nan"), float("inf"), "0.5"):
        with pytest.raises(ValueError, match="temperature must be a finite number"):
            make_generator(f, 5, temperature=temperature)
    for top_k in (-1, 2.5, True):
        with pytest.raises(ValueError, match="top_k must be an integer >= 0"):
            make_generator(f, 5, top_k=top_k)
