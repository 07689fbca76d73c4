import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_attn.models.summary import parameter_count, summary
from rnn_attn.models.text_classifiers import (
    TEXT_MODELS,
    BiLSTMClassifier,
    make_text_model,
    reverse_tokens,
)


def test_parameter_counts_match_document_000():
    base = BiLSTMClassifier(pooling="last")
    att = BiLSTMClassifier(pooling="attention")
    assert parameter_count(base.init(jax.random.PRNGKey(0))) == 1_378_945
    assert parameter_count(att.init(jax.random.PRNGKey(0))) == 1_379_273
    table = summary(att.init(jax.random.PRNGKey(0)))
    assert "1,379,273" in table and "attention/b" in table


def test_forward_weights_and_masking():
    model = BiLSTMClassifier(
        vocab_size=50, embed_dim=8, units=4, maxlen=6, pooling="masked_attention"
    )
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


# -- documents 002 / 003 models and the registry ------------------------------------------

# Keras's arithmetic: Embedding V*d; SimpleRNN u(d+u+1); LSTM 4u(d+u+1); GRU (reset_after)
# 3u(d+u+2); Bidirectional twice the layer; Dense(1) from n inputs n+1.
DOCUMENT_COUNTS = {
    "embedding_flatten": 80_000 + 161,  # 80,161
    "embedding_flatten_dense": 1_000_000 + 320_032 + 33,  # 1,320,065
    "simple_rnn": 320_000 + 2_080 + 33,  # 322,113
    "lstm": 320_000 + 8_320 + 33,  # 328,353
    "gru": 320_000 + 6_336 + 33,  # 326,369
    "lstm_reversed": 1_280_000 + 20_608 + 33,  # 1,300,641 (Embedding 128)
    "bidirectional_lstm": 320_000 + 2 * 8_320 + 65,  # 336,705
    "lstm_regularized": 2_560_000 + 49_408 + 65,  # 2,609,473 (LSTM(64), doc 003)
    "lstm_unpenalized": 2_560_000 + 49_408 + 65,  # its ablation: same weights
    "bilstm": 1_378_945,
    "bilstm_attention": 1_379_273,
    "bilstm_masked_attention": 1_379_273,
    # issue 32: the BiLSTM + one query over 4 heads (query 128, projections 4 x 16,512);
    # Embedding + 2 encoder layers of 99,584 (attention 66,048, feed-forward 33,024, two
    # layer norms 512) + the final layer norm 256 + Dense(1) 129
    "bilstm_mha": 1_378_945 + 128 + 66_048,  # 1,445,121
    "transformer_encoder": 1_280_000 + 2 * 99_584 + 256 + 129,  # 1,479,553
}

SMALL = dict(vocab_size=30, embed_dim=4)


def _small(name, **extra):
    options = {**SMALL, "maxlen": 6, **extra}
    if name not in ("embedding_flatten", "embedding_flatten_dense", "transformer_encoder"):
        options["units"] = 3 if name != "bilstm_mha" else 4  # 2 * 4 features over 4 heads
    return make_text_model(name, **options)


def test_registry_parameter_counts_and_summaries():
    assert set(TEXT_MODELS) == set(DOCUMENT_COUNTS)
    key = jax.random.PRNGKey(0)
    for name, count in DOCUMENT_COUNTS.items():
        model = make_text_model(name)
        shapes = jax.eval_shape(model.init, key)  # the real shapes, without the work
        assert parameter_count(shapes) == count, name
        assert f"{count:,}" in summary(shapes, title=name)
        assert hash(model) == hash(make_text_model(name))  # frozen, usable as a jit static
    big = make_text_model("lstm_regularized", units=128)  # the Keras example's LSTM(128)
    assert parameter_count(jax.eval_shape(big.init, key)) == 2_691_713
    # One real initialization at the document's size.
    params = make_text_model("lstm").init(key)
    assert parameter_count(params) == 328_353
    assert "lstm/recurrent_kernel" in summary(params)
    assert make_text_model("embedding_flatten").maxlen == 20
    assert make_text_model("lstm").maxlen is None  # any length
    assert make_text_model("lstm_regularized").vocab_size == 20_000


def test_every_model_gives_one_logit_per_review():
    tokens = jnp.array([[0, 0, 3, 4, 5, 6], [1, 2, 3, 4, 5, 29], [0, 0, 0, 0, 0, 7]], jnp.int32)
    # The document-000 models' forward passes are tested above; one stands for them here.
    for name in [
        n for n in TEXT_MODELS if n not in ("bilstm_attention", "bilstm_masked_attention")
    ]:
        model = _small(name)
        params = model.init(jax.random.PRNGKey(0))
        logits = jax.jit(model.apply)(params, tokens)  # op by op is far slower
        assert logits.shape == (3,) and logits.dtype == jnp.float32, name
        assert np.all(np.isfinite(logits)), name
        penalty = model.regularization(params)
        assert penalty.shape == () and (name == "lstm_regularized" or float(penalty) == 0.0)
        assert "Total params" in summary(params, title=name)


def test_l1l2_bias_penalty_is_keras():
    model = _small("lstm_regularized")
    params = model.init(jax.random.PRNGKey(0))
    bias = jnp.linspace(-1.0, 2.0, 12)  # LSTM(3): 4 * 3 gates
    params["lstm"]["bias"] = bias
    b = np.asarray(bias, np.float64)
    expected = 0.01 * np.abs(b).sum() + 0.01 * (b**2).sum()
    np.testing.assert_allclose(model.regularization(params), expected, rtol=1e-6)
    # Keras's initial bias (unit forget bias: 3 ones) gives 0.01*3 + 0.01*3.
    fresh = model.regularization(model.init(jax.random.PRNGKey(1)))
    np.testing.assert_allclose(fresh, 0.06, rtol=1e-6)
    l2_only = make_text_model("lstm", **SMALL, units=3, bias_l2=0.5)
    np.testing.assert_allclose(l2_only.regularization(params), 0.5 * (b**2).sum(), rtol=1e-6)
    both = make_text_model("bidirectional_lstm", **SMALL, units=3, bias_l1=0.1)
    bp = both.init(jax.random.PRNGKey(0))
    np.testing.assert_allclose(both.regularization(bp), 0.1 * 6.0, rtol=1e-6)  # 2 x 3 ones


def test_recurrent_dropout_only_when_training():
    model = _small("lstm_regularized", recurrent_dropout=0.3)  # input 0.2 + recurrent 0.3
    params = model.init(jax.random.PRNGKey(0))
    tokens = jnp.tile(jnp.arange(1, 7, dtype=jnp.int32), (8, 1))
    inference = model.apply(params, tokens)
    np.testing.assert_array_equal(
        model.apply(params, tokens, train=False, key=jax.random.PRNGKey(1)), inference
    )
    train = jax.jit(functools.partial(model.apply, train=True))  # one compilation, 3 keys
    a, b, c = (train(params, tokens, key=jax.random.PRNGKey(k)) for k in (1, 1, 2))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, inference)
    assert not np.allclose(a, c)
    with pytest.raises(ValueError, match="needs a PRNG key"):
        model.apply(params, tokens, train=True)
    plain = _small("lstm")  # no dropout: training mode changes nothing, no key needed
    np.testing.assert_array_equal(
        plain.apply(params, tokens, train=True), plain.apply(params, tokens)
    )


def test_reversed_model_is_the_lstm_on_reversed_reviews():
    rev, fwd = _small("lstm_reversed", maxlen=None), _small("lstm", maxlen=None)
    params = fwd.init(jax.random.PRNGKey(0))
    full = jnp.array([[3, 4, 5, 6, 7], [9, 8, 7, 6, 5]], jnp.int32)
    np.testing.assert_allclose(rev.apply(params, full), fwd.apply(params, full[:, ::-1]), atol=1e-6)
    # Document 002 reverses, then pads 'pre': the padding stays in front.
    padded = jnp.array([[0, 0, 3, 4, 5], [0, 9, 8, 7, 6]], jnp.int32)
    lecture = jnp.array([[0, 0, 5, 4, 3], [0, 6, 7, 8, 9]], jnp.int32)
    np.testing.assert_array_equal(reverse_tokens(padded), lecture)
    np.testing.assert_allclose(rev.apply(params, padded), fwd.apply(params, lecture), atol=1e-6)
    np.testing.assert_array_equal(
        reverse_tokens(jnp.array([[3, 4, 5, 0], [0, 0, 0, 0]])), [[5, 4, 3, 0], [0, 0, 0, 0]]
    )


def test_mask_padding_option():
    masked = _small("gru", maxlen=None, mask_padding=True)
    params = masked.init(jax.random.PRNGKey(0))
    padded = jnp.array([[0, 0, 3, 4, 5]], jnp.int32)
    alone = masked.apply(params, padded[:, 2:])
    np.testing.assert_allclose(masked.apply(params, padded), alone, atol=1e-6)
    # The documents' default does not mask: the padded steps run through the GRU.
    assert not np.allclose(_small("gru", maxlen=None).apply(params, padded), alone)


def test_registry_and_shape_errors_are_clear():
    with pytest.raises(
        ValueError,
        match=r"unknown text model 'transformer'; expected one of "
        r"\['bidirectional_lstm', 'bilstm'",
    ):
        make_text_model("transformer")
    with pytest.raises(ValueError, match=r"text model 'lstm' has no option 'pooling'"):
        make_text_model("lstm", pooling="attention")
    with pytest.raises(
        ValueError,
        match=r"text model 'lstm_regularized': dropout must be a "
        r"number in \[0, 1\), got 1.5",
    ):
        make_text_model("lstm_regularized", dropout=1.5)
    with pytest.raises(ValueError, match="units must be an integer >= 1, got 0"):
        make_text_model("gru", units=0)
    with pytest.raises(ValueError, match="bias_l1 must be a finite number >= 0"):
        make_text_model("lstm", bias_l1=-0.01)
    with pytest.raises(ValueError, match="dropout in a bidirectional model is not supported"):
        make_text_model("bidirectional_lstm", dropout=0.2)
    flat = _small("embedding_flatten")
    with pytest.raises(ValueError, match="tokens have length 4, expected maxlen=6"):
        flat.apply(flat.init(jax.random.PRNGKey(0)), jnp.ones((2, 4), jnp.int32))
    with pytest.raises(ValueError, match=r"tokens must be <int>\[batch, time\]"):
        flat.apply(flat.init(jax.random.PRNGKey(0)), jnp.ones((2, 6)))


@pytest.mark.parametrize("name", ["embedding_flatten_dense", "lstm"])
def test_a_frozen_embedding_gets_no_gradient(name):
    frozen = make_text_model(name, maxlen=6, freeze_embedding=True)
    free = make_text_model(name, maxlen=6)
    params = free.init(jax.random.PRNGKey(0))
    tokens = jnp.array([[1, 2, 3, 4, 5, 6], [0, 0, 7, 8, 9, 1]])

    def loss(model, p):
        return jnp.sum(model.apply(p, tokens) ** 2)

    g_frozen = jax.grad(lambda p: loss(frozen, p))(params)
    g_free = jax.grad(lambda p: loss(free, p))(params)
    assert not np.any(np.asarray(g_frozen["embedding"]["embeddings"]))
    assert np.any(np.asarray(g_free["embedding"]["embeddings"]))
    # Everything else still learns, with the same gradients.
    for key in g_free:
        if key != "embedding":
            jax.tree.map(np.testing.assert_allclose, g_frozen[key], g_free[key])


# -- token ids against the vocabulary -------------------------------------------------------


def _token_models():
    """Every model that reads token ids, built small over a vocabulary of 20."""
    from rnn_attn.models.char_lm import CharRNN
    from rnn_attn.models.seq2seq import TokenInputs, make_model

    text = {
        name: make_text_model(name, vocab_size=20, embed_dim=4, units=3, maxlen=6)
        for name in ("lstm", "lstm_reversed", "bidirectional_lstm", "bilstm")
        + ("bilstm_masked_attention",)
    }
    return text | {
        "embedding_flatten": make_text_model("embedding_flatten", vocab_size=20, maxlen=6),
        "char_rnn_one_hot": CharRNN(20, units=3),
        "char_rnn_embedding": CharRNN(20, units=3, inputs="embedding", embed_dim=4),
        "copy_tokens": TokenInputs(make_model("baseline", 20, units=3), 20),
    }


@pytest.mark.parametrize("bad", [20, 25, -1])
def test_concrete_token_ids_outside_the_vocabulary_are_refused(bad):
    """An id at or past the vocabulary was clamped to the table's last row, a negative one
    wrapped from the end (one-hot: a zero vector), without a word."""
    tokens = np.tile(np.arange(1, 7, dtype=np.int32), (3, 1))
    tokens[2, 4] = bad
    for name, model in _token_models().items():
        params = model.init(jax.random.PRNGKey(0))
        model.apply(params, jnp.asarray(np.clip(tokens, 0, 19)))  # in range: fine
        with pytest.raises(ValueError) as info:
            model.apply(params, jnp.asarray(tokens))
        message = str(info.value)
        assert f"the id {bad} at row 2, position 4 is outside the vocabulary of 20 ids" in (
            message
        ), (name, message)


def test_traced_token_ids_are_not_checked_under_jit():
    """What the model docstrings say: inside ``jit`` the ids have no values to check, and
    the gather clamps an id past the table to its last row (the engine checks the splits
    on the host before its compiled programs see them)."""
    model = make_text_model("lstm", vocab_size=20, embed_dim=4, units=3)
    params = model.init(jax.random.PRNGKey(0))
    past = jnp.array([[1, 2, 25]], jnp.int32)
    last = jnp.array([[1, 2, 19]], jnp.int32)
    np.testing.assert_array_equal(
        jax.jit(model.apply)(params, past), jax.jit(model.apply)(params, last)
    )


# -- self-attention beside document 000 (issue 32) -----------------------------------------

SELF_ATTENTION = ("bilstm_mha", "transformer_encoder")


@pytest.mark.parametrize("name", SELF_ATTENTION)
def test_self_attention_models_ignore_padding(name):
    """Keras pads 'pre': the same reviews padded to 11 steps instead of 6 give the same
    logits and weights, and padding's embedding row cannot matter."""
    model = _small(name, maxlen=None)
    params = model.init(jax.random.PRNGKey(0))
    # compiled once per shape: the layers run op by op otherwise, far slower on CPU
    apply = jax.jit(model.apply, static_argnames=("return_weights",))
    tokens = jnp.array([[0, 0, 3, 4, 5, 6], [1, 2, 3, 4, 5, 29], [0, 0, 0, 0, 0, 7]], jnp.int32)
    longer = jnp.pad(tokens, ((0, 0), (5, 0)))
    logits, weights = apply(params, tokens, return_weights=True)
    logits2, weights2 = apply(params, longer, return_weights=True)
    assert logits.shape == (3,) and weights.shape == (3, 6) and weights2.shape == (3, 11)
    np.testing.assert_allclose(logits2, logits, atol=1e-6)
    np.testing.assert_allclose(weights2[:, 5:], weights, atol=1e-6)
    np.testing.assert_array_equal(weights2[:, :5], 0.0)
    np.testing.assert_array_equal(weights[0, :2], 0.0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)
    # Whatever the padding row holds, NaN included, reaches neither logit nor gradient.
    nan = jax.tree.map(lambda a: a, params)
    nan["embedding"]["embeddings"] = params["embedding"]["embeddings"].at[0].set(jnp.nan)
    np.testing.assert_allclose(apply(nan, longer), logits, atol=1e-6)
    grads = jax.jit(jax.grad(lambda p: jnp.sum(model.apply(p, longer))))(nan)
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
    # The words themselves matter, and so does their order (positions / recurrence).
    assert not np.allclose(apply(params, tokens[:, ::-1]), logits)


@pytest.mark.parametrize("name", SELF_ATTENTION)
def test_self_attention_models_train_with_dropout_and_a_gradient(name):
    model = _small(name)
    params = model.init(jax.random.PRNGKey(0))
    apply = jax.jit(model.apply, static_argnames=("train",))  # op by op is far slower
    tokens = jnp.array([[0, 0, 3, 4, 5, 6], [1, 2, 3, 4, 5, 29]], jnp.int32)
    a = apply(params, tokens)
    np.testing.assert_array_equal(a, apply(params, tokens))
    assert not np.allclose(a, apply(params, tokens, train=True, key=jax.random.PRNGKey(1)))
    with pytest.raises(ValueError, match="needs a PRNG key"):
        apply(params, tokens, train=True)
    grads = jax.jit(jax.grad(lambda p: jnp.sum(model.apply(p, tokens) ** 2)))(params)
    leaves = jax.tree_util.tree_leaves_with_path(grads)
    assert all(np.all(np.isfinite(g)) for _, g in leaves)
    # Every parameter learns but the rows of words absent from the batch, and the
    # padding row: the embedding's gradient is zero there.
    table = np.asarray(grads["embedding"]["embeddings"])
    assert not np.any(table[0]) and np.all(np.any(table[[1, 2, 3, 29]], axis=-1))
    assert all(np.any(g) for path, g in leaves if "embedding" not in jax.tree_util.keystr(path))
    with pytest.raises(ValueError, match="tokens have length 4, expected maxlen=6"):
        apply(params, tokens[:, 2:])


def test_self_attention_sizes_and_errors():
    mha = make_text_model("bilstm_mha", heads=2, queries=3, units=4, embed_dim=4, vocab_size=30)
    params = mha.init(jax.random.PRNGKey(0))
    assert params["pooling"]["queries"].shape == (3, 8)
    assert params["output"]["kernel"].shape == (24, 1)  # the 3 queries' outputs side by side
    deep = make_text_model("transformer_encoder", layers=3, hidden=16, embed_dim=8, vocab_size=30)
    assert len(deep.init(jax.random.PRNGKey(0))["encoder"]) == 3
    with pytest.raises(ValueError, match=r"text model 'bilstm_mha': 3 heads cannot split"):
        make_text_model("bilstm_mha", heads=3)
    with pytest.raises(ValueError, match=r"'transformer_encoder': 3 heads cannot split embed_dim"):
        make_text_model("transformer_encoder", heads=3)
    with pytest.raises(ValueError, match="embed_dim must be even"):
        make_text_model("transformer_encoder", embed_dim=5, heads=1)
    with pytest.raises(ValueError, match="queries must be an integer >= 1, got 0"):
        make_text_model("bilstm_mha", queries=0)
