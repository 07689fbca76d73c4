import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_attn.data.copy_task import sample_copy_task
from rnn_attn.models.seq2seq import TokenInputs, make_model
from rnn_attn.parallel.mesh import make_mesh
from rnn_attn.train.sampled_test import (
    compile_sampled_test,
    decoded_scores,
    sampled_test,
    sequence_scores,
)


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
    model = TokenInputs(make_model("attention", 6, units=4, unroll=1), 6)
    seeds, mesh = 2, make_mesh(1)

    def draw(key):
        return sample_copy_task(key, 5, 4, 2, 6)

    params = jax.vmap(model.init)(jax.random.split(jax.random.PRNGKey(0), seeds))
    keys = np.asarray(jax.random.split(jax.random.PRNGKey(1), seeds))
    out = sampled_test(compile_sampled_test(model, draw, seeds, mesh), params, keys, mesh)
    assert out["attention_weights"].shape == (seeds, 5, 4, 4)
    apply = jax.jit(lambda p, x: model.apply(p, x))  # each seed alone, one compilation
    for i in range(seeds):
        inputs, targets = draw(keys[i])
        logits = apply(jax.tree.map(lambda x, i=i: x[i], params), inputs)
        hits = np.asarray(jnp.argmax(logits, -1) == targets)
        np.testing.assert_array_equal(out["targets"][i], targets)
        np.testing.assert_allclose(out["exact_match"][i], hits.all(-1).mean())
        np.testing.assert_allclose(out["token_accuracy"][i], hits.mean())


def test_decoded_scores_count_rows_and_the_targets_real_tokens():
    targets = jnp.array([[5, 6, 2, 0], [5, 2, 0, 0]])  # tokens, end token 2, padding 0
    predicted = jnp.array([[5, 6, 2, 0], [5, 6, 2, 0]])  # right; one token too many
    scores = decoded_scores(predicted, targets, pad_id=0)
    assert int(scores["exact_match"]) == 1
    assert int(scores["tokens"]) == 5
    assert int(scores["token_accuracy"]) == 4  # the second row's end token came late


@pytest.mark.slow
def test_compiled_decoded_test_matches_each_seed_decoded_alone():
    from rnn_attn.models import decoding
    from rnn_attn.models.teacher_forcing import make_seq2seq

    model, seeds, mesh = make_seq2seq("bahdanau", 6, 4, units=8), 2, make_mesh(1)
    tokens = decoding.Tokens(start=1, end=2, pad=0)
    source = jnp.array([[3, 4, 5], [5, 3, 0]], jnp.int32)
    targets = jnp.array([[5, 4, 3, 2], [3, 5, 2, 0]], jnp.int32)
    decode = decoding.make_decoder(model, max_length=4, tokens=tokens, weights_of=1)
    program = compile_sampled_test(
        model, lambda key: (source, targets), seeds, mesh, decode=decode, pad_id=0
    )
    params = jax.vmap(model.init)(jax.random.split(jax.random.PRNGKey(0), seeds))
    out = sampled_test(program, params, np.zeros((seeds, 2), np.uint32), mesh)
    assert out["attention_weights"].shape == (seeds, 1, 4, 3)
    for i in range(seeds):
        one = jax.tree.map(lambda x, i=i: x[i], params)
        found = decode(one, source)
        np.testing.assert_array_equal(out["predicted"][i], found["tokens"])
        rows = np.all(np.asarray(found["tokens"]) == np.asarray(targets), -1)
        np.testing.assert_allclose(out["exact_match"][i], rows.mean())
        np.testing.assert_allclose(out["log_prob"][i], found["log_prob"], rtol=1e-6)
