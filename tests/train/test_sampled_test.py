import jax
import jax.numpy as jnp
import numpy as np

from rnn_attn.data.copy_task import sample_copy_task
from rnn_attn.models.seq2seq import TokenInputs, make_model
from rnn_attn.parallel.mesh import make_mesh
from rnn_attn.train.sampled_test import compile_sampled_test, sampled_test, sequence_scores


def test_scores_count_whole_pairs_and_positions():
    targets = jnp.array([[1, 2, 0], [2, 2, 1]])
    predicted = np.array([[1, 2, 0], [2, 0, 1]])  # the first pair right, the second 2 of 3
    logits = jax.nn.one_hot(predicted, 3) * 5.0
    scores = sequence_scores(logits, targets)
    assert int(scores["exact_match"]) == 1
    assert int(scores["token_accuracy"]) == 5
    np.testing.assert_array_equal(scores["predicted"], predicted)
    expected = -jax.nn.log_softmax(logits)[np.arange(2)[:, None], np.arange(3), targets].mean()
    np.testing.assert_allclose(scores["loss"], expected, rtol=1e-6)


def test_compiled_test_matches_each_seed_scored_alone():
    model = TokenInputs(make_model("attention", 6, units=8), 6)
    seeds, mesh = 2, make_mesh(1)

    def draw(key):
        return sample_copy_task(key, 5, 4, 2, 6)

    params = jax.vmap(model.init)(jax.random.split(jax.random.PRNGKey(0), seeds))
    keys = np.asarray(jax.random.split(jax.random.PRNGKey(1), seeds))
    out = sampled_test(compile_sampled_test(model, draw, seeds, mesh), params, keys, mesh)
    assert out["attention_weights"].shape == (seeds, 5, 4, 4)
    for i in range(seeds):
        inputs, targets = draw(keys[i])
        one = jax.tree.map(lambda x, i=i: x[i], params)
        logits, _ = model.apply(one, inputs, return_weights=True)
        hits = np.asarray(jnp.argmax(logits, -1) == targets)
        np.testing.assert_array_equal(out["targets"][i], targets)
        np.testing.assert_allclose(out["exact_match"][i], hits.all(-1).mean())
        np.testing.assert_allclose(out["token_accuracy"][i], hits.mean())
