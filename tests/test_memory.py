"""The memory check: a public function or constructor whose arrays' sizes come from its
arguments refuses, with one ValueError naming the sizes, the bytes and the free memory,
an array that cannot fit, before anything is allocated (it ended in JAX's
RESOURCE_EXHAUSTED or numpy's MemoryError); and the check changes no result."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnn_attn import memory
from rnn_attn.data import copy_task, glove
from rnn_attn.data.text import Tokenizer
from rnn_attn.interop import flax_nnx
from rnn_attn.models import char_lm, forecasters, seq2seq, text_classifiers
from rnn_attn.nn import cells, layers, numpy_lstm

KEY = jax.random.PRNGKey(0)
# "... need 7450.6 GiB of int32, more than half the 20.1 GiB free; expected ..."
REFUSAL = re.compile(r"need [\d.]+ GiB( of \w+)?, more than half the [\d.]+ GiB free")


def refusal(call) -> str:
    """The one-line message ``call()`` raises, checked to state the bytes and the free
    memory."""
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message, message
    assert REFUSAL.search(message), message
    return message


def test_check_fits_names_what_the_bytes_and_the_free_memory():
    message = refusal(lambda: memory.check_fits("10 things", 2**60, "fewer things", dtype="int8"))
    assert message.startswith("10 things need 1073741824.0 GiB of int8, more than half the")
    assert message.endswith("free; expected fewer things")
    memory.check_fits("10 things", 10, "fewer things")  # fits: nothing raised


def test_device_free_bytes_is_the_hosts_on_cpu():
    free = memory.device_free_bytes()
    assert 0 < free
    assert abs(free - memory.host_free_bytes()) < 2**30  # read twice, a moment apart


def test_copy_task_pairs_too_large_are_refused():
    message = refusal(lambda: copy_task.sample_copy_task(KEY, 10**6, 10**6, 2, 50))
    assert "batch_size 1000000 and length 1000000" in message


def test_copy_task_one_hot_too_large_is_refused():
    message = refusal(lambda: copy_task.one_hot(jnp.zeros((1000, 1000), jnp.int32), 10**7))
    assert "cardinality 10000000" in message and "(1000, 1000)" in message


@pytest.mark.parametrize(
    "model",
    [
        seq2seq.EncoderDecoder(10**9, units=64),
        seq2seq.AttentionEncoderDecoder(10**9, units=64),
        char_lm.CharRNN(10**9, units=64),
        char_lm.CharRNN(10**9, units=4, inputs="embedding", embed_dim=10**3),
        text_classifiers.BiLSTMClassifier(vocab_size=10**9, embed_dim=1000),
        text_classifiers.EmbeddingFlattenClassifier(vocab_size=10**9, embed_dim=1000),
        text_classifiers.RecurrentClassifier(vocab_size=10**9, embed_dim=1000),
        forecasters.DenseForecaster(features=10**4, lookback_steps=10**5, hidden=1000),
        forecasters.GRUForecaster(features=10**9, units=100),
        forecasters.StackedGRUForecaster(features=10**9, layer_units=(100, 8)),
        forecasters.BidirectionalGRUForecaster(features=10**9, units=100),
    ],
    ids=lambda m: type(m).__name__,
)
def test_a_model_too_large_is_refused_before_init(model):
    message = refusal(lambda: model.init(KEY))
    assert message.startswith("the ") and f"parameters of {type(model).__name__}(" in message


def test_a_traced_init_is_not_refused_shapes_stay_available():
    """Under ``eval_shape``/``jit`` nothing is allocated while tracing: the parameter
    counts of a run (and the engine's own memory check) read the shapes."""
    shapes = jax.eval_shape(seq2seq.EncoderDecoder(10**9, units=64).init, KEY)
    assert shapes["encoder"]["kernel"].shape == (10**9, 256)


@pytest.mark.parametrize(
    "call",
    [
        lambda: cells.LSTMCell(10**6).init(KEY, 3),
        lambda: cells.GRUCell(1000).init(KEY, 10**9),
        lambda: layers.init_dense(KEY, 10**9, 10**3),
        lambda: text_classifiers.init_embedding(KEY, 10**9, 10**3),
        lambda: flax_nnx.KerasLSTMCell(3, 10**6, rngs=flax_nnx.nnx.Rngs(0)),
        lambda: numpy_lstm.init_params(np.random.default_rng(0), 3, 10**6),
        lambda: glove.embedding_matrix({}, {}, 10**12, dim=100),
        lambda: Tokenizer(num_words=2**31 - 1).sequences_to_matrix([[1]] * 1000),
    ],
    ids=[
        "lstm_cell",
        "gru_cell_input_dim",
        "init_dense",
        "init_embedding",
        "nnx_cell",
        "numpy_lstm",
        "glove_matrix",
        "tokenizer_matrix",
    ],
)
def test_a_layer_or_table_too_large_is_refused(call):
    refusal(call)


def test_the_checked_init_gives_the_same_parameters():
    """The check only reads shapes: the parameters are those of the init it wraps."""
    for model in (seq2seq.EncoderDecoder(5, units=4), char_lm.CharRNN(5, units=4)):
        checked, plain = model.init(KEY), type(model).init.__wrapped__(model, KEY)
        assert jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.all(a == b)), checked, plain))
