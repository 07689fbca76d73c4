import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_attn.models.text_classifiers import BiLSTMClassifier
from rnn_attn.summary import parameter_count, summary


def test_parameter_counts_match_document_000():
    base = BiLSTMClassifier(pooling="last")
    att = BiLSTMClassifier(pooling="attention")
    assert parameter_count(base.init(jax.random.PRNGKey(0))) == 1_378_945
    assert parameter_count(att.init(jax.random.PRNGKey(0))) == 1_379_273
    table = summary(att.init(jax.random.PRNGKey(0)))
    assert "1,379,273" in table and "attention/b" in table


def test_forward_weights_and_masking():
    model = BiLSTMClassifier(vocab_size=50, embed_dim=8, units=4, maxlen=6,
                             pooling="masked_attention")
    params = model.init(jax.random.PRNGKey(0))
    tokens = jnp.array([[5, 6, 7, 0, 0, 0], [1, 2, 3, 4, 5, 6]])
    logits, weights = model.apply(params, tokens, return_weights=True)
    assert logits.shape == (2,)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(weights[0, 3:], 0.0)
    # Padding content cannot matter in the masked model.
    params2 = jax.tree.map(lambda a: a, params)
    params2["embedding"]["embeddings"] = params["embedding"]["embeddings"].at[0].set(9.0)
    np.testing.assert_allclose(model.apply(params2, tokens)[0], logits[0], atol=1e-6)


def test_dropout_only_when_training():
    model = BiLSTMClassifier(vocab_size=20, embed_dim=4, units=3, maxlen=5)
    params = model.init(jax.random.PRNGKey(0))
    tokens = jnp.ones((8, 5), jnp.int32)
    a = model.apply(params, tokens)
    np.testing.assert_allclose(a, model.apply(params, tokens))
    b = model.apply(params, tokens, train=True, key=jax.random.PRNGKey(1))
    assert not np.allclose(a, b)
    with pytest.raises(ValueError, match="needs a PRNG key"):
        model.apply(params, tokens, train=True)
    with pytest.raises(ValueError, match="unknown pooling 'max'"):
        BiLSTMClassifier(pooling="max")
