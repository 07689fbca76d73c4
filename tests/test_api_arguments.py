"""Every public constructor and function of ``rnn_attn.nn``, ``rnn_attn.models`` and
``rnn_attn.interop`` checks its integer, True/False and choice arguments with the one
checker (``rnn_attn.checks.argument``, over the config fields' ``check_value``): a wrong
type is a TypeError (``ArgumentTypeError``, also a ValueError), a bad value a ValueError,
each with one line naming the argument, what was expected and the value.

Most cases below were taken before without a word (a string for a switch turned it on,
a float or a bool passed for a size, ``num_steps=0`` decoded nothing); the others were
refused far from the call with another library's message (``unhashable type: 'list'``,
``Shapes must be 1D sequences...``), or as a ValueError of another wording."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rnn_attn import checks
from rnn_attn.data import text
from rnn_attn.interop import flax_linen, flax_nnx, weights
from rnn_attn.models import char_lm, forecasters, generation, seq2seq, text_classifiers
from rnn_attn.nn import attention, cells, layers, recurrent

KEY = jax.random.PRNGKey(0)
LSTM = cells.LSTMCell(4)
LSTM_PARAMS = LSTM.init(KEY, 3)
X = jnp.ones((2, 5, 3))
DECODER = attention.AttentionDecoder(4, 3)


def _rnn(**kwargs):
    return recurrent.rnn(LSTM, LSTM_PARAMS, X, **kwargs)


def _bidirectional(**kwargs):
    params = {"forward": LSTM_PARAMS, "backward": LSTM_PARAMS}
    return recurrent.bidirectional(LSTM, LSTM, params, X, **kwargs)


def _decode(**kwargs):
    return DECODER.apply(DECODER.init(KEY, 5), jnp.ones((2, 3, 5)), **kwargs)


def _text_model_logits(tokens):
    model = text_classifiers.RecurrentClassifier(vocab_size=10, embed_dim=3, units=2)
    return model.apply(model.init(KEY), tokens)


def _bilstm_logits(tokens):
    model = text_classifiers.BiLSTMClassifier(vocab_size=10, embed_dim=3, units=2, maxlen=3)
    return model.apply(model.init(KEY), tokens)


def _nnx_cell():
    return flax_nnx.KerasLSTMCell(3, 4, rngs=nnx.Rngs(0))


def _linen_rnn(**fields):
    layer = flax_linen.KerasRNN(flax_linen.KerasLSTMCell(4), **fields)
    return layer.init(KEY, X)


def _from_torch(**kwargs):
    state = weights.to_torch(LSTM, jax.tree.map(np.asarray, LSTM_PARAMS))
    return weights.from_torch(LSTM, state, **kwargs)


TYPE, VALUE = TypeError, ValueError
CASES = {
    # nn/cells.py
    "cell_layer_norm_text": (
        lambda: cells.LSTMCell(4, layer_norm="no"),
        TYPE,
        "layer_norm must be True or False, got 'no'",
    ),
    "cell_residual_int": (
        lambda: cells.SimpleRNNCell(4, residual=1),
        TYPE,
        "residual must be True or False, got 1",
    ),
    "cell_unit_forget_bias_text": (
        lambda: cells.make_cell("lstm", 4, unit_forget_bias="False"),
        TYPE,
        "unit_forget_bias must be True or False, got 'False'",
    ),
    "cell_forget_bias_nan": (
        lambda: cells.LSTMCell(4, forget_bias=float("nan")),
        VALUE,
        "forget_bias must be a finite number, got nan",
    ),
    "cell_update_bias_text": (
        lambda: cells.GRUCell(4, update_bias="1"),
        TYPE,
        "update_bias must be a finite number, got '1'",
    ),
    "cell_units_float": (
        lambda: cells.make_cell("gru", 2.0),
        TYPE,
        "units must be an integer >= 1, got 2.0",
    ),
    "cell_units_huge": (
        lambda: cells.make_cell("gru", 2**31),
        VALUE,
        "units must be an integer in [1, 2147483647], got 2147483648",
    ),
    "cell_kind_list": (
        lambda: cells.make_cell(["lstm"], 4),
        VALUE,
        "unknown cell kind ['lstm']; expected one of",
    ),
    "cell_activation_list": (
        lambda: cells.LSTMCell(4, activation=["tanh"]),
        VALUE,
        "unknown activation ['tanh']; expected one of",
    ),
    "cell_initializer_list": (
        lambda: cells.LSTMCell(4, kernel_initializer=["zeros"]),
        VALUE,
        "unknown initializer ['zeros']; expected one of",
    ),
    # nn/recurrent.py
    "rnn_return_sequences_text": (
        lambda: _rnn(return_sequences="no"),
        TYPE,
        "return_sequences must be True or False, got 'no'",
    ),
    "rnn_reverse_int": (lambda: _rnn(reverse=0), TYPE, "reverse must be True or False, got 0"),
    "rnn_train_text": (
        lambda: _rnn(train="no", dropout=0.5, key=KEY),
        TYPE,
        "train must be True or False, got 'no'",
    ),
    "rnn_unroll_float": (
        lambda: _rnn(unroll=2.5),
        TYPE,
        "unroll must be an integer >= 1 (time steps per loop iteration; or True/False), got 2.5",
    ),
    "rnn_unroll_0": (lambda: _rnn(unroll=0), VALUE, "unroll must be an integer >= 1"),
    "rnn_remat_negative": (
        lambda: _rnn(remat=-1),
        VALUE,
        "remat must be None or an integer >= 0 (time steps per checkpointed chunk of the "
        "scan; 0 or None: off), got -1",
    ),
    "rnn_remat_float": (lambda: _rnn(remat=2.5), TYPE, "remat must be None or an integer >= 0"),
    "bidirectional_remat_bool": (
        lambda: _bidirectional(remat=True),
        TYPE,
        "remat must be None or an integer >= 0",
    ),
    "bilstm_remat_text": (
        lambda: text_classifiers.BiLSTMClassifier(remat="8"),
        TYPE,
        "remat must be None or an integer >= 0",
    ),
    "gru_forecaster_remat_negative": (
        lambda: forecasters.GRUForecaster(3, remat=-2),
        VALUE,
        "remat must be None or an integer >= 0",
    ),
    "rnn_dropout_bool": (
        lambda: _rnn(dropout=True),
        TYPE,
        "dropout must be a number in [0, 1), got True",
    ),
    "bidirectional_return_sequences_int": (
        lambda: _bidirectional(return_sequences=1),
        TYPE,
        "return_sequences must be True or False, got 1",
    ),
    "stacked_return_sequences_text": (
        lambda: recurrent.stacked_rnn([LSTM], [LSTM_PARAMS], X, return_sequences="yes"),
        TYPE,
        "return_sequences must be True or False, got 'yes'",
    ),
    # nn/attention.py and nn/layers.py
    "decoder_units_bool": (
        lambda: attention.AttentionDecoder(True, 3),
        TYPE,
        "units must be an integer >= 1, got True",
    ),
    "decoder_num_steps_0": (
        lambda: _decode(num_steps=0),
        VALUE,
        "num_steps must be None or an integer >= 1, got 0",
    ),
    "decoder_return_weights_text": (
        lambda: _decode(return_weights="no"),
        TYPE,
        "return_weights must be True or False, got 'no'",
    ),
    "softmax_axis_float": (
        lambda: attention.masked_softmax(jnp.zeros((2, 3)), None, axis=1.0),
        TYPE,
        "axis must be an integer, got 1.0",
    ),
    "dense_units_bool": (
        lambda: layers.init_dense(KEY, 3, True),
        TYPE,
        "init_dense: units must be an integer >= 1, got True",
    ),
    # models/
    "char_rnn_units_float": (
        lambda: char_lm.CharRNN(30, units=2.0),
        TYPE,
        "units must be an integer >= 1, got 2.0",
    ),
    "char_rnn_bias_nan": (
        lambda: char_lm.CharRNN(30, bias_l1=float("nan")),
        VALUE,
        "bias_l1 must be a finite number >= 0, got nan",
    ),
    "char_rnn_unroll_text": (
        lambda: char_lm.CharRNN(30, unroll="no"),
        TYPE,
        "unroll must be an integer >= 1",
    ),
    "seq2seq_vocab_0": (
        lambda: seq2seq.EncoderDecoder(0),
        VALUE,
        "vocab_size must be an integer >= 1, got 0",
    ),
    "seq2seq_decoder_unroll_float": (
        lambda: seq2seq.AttentionEncoderDecoder(8, decoder_unroll=1.5),
        TYPE,
        "decoder_unroll must be an integer >= 1",
    ),
    "seq2seq_return_weights_text": (
        lambda: seq2seq.EncoderDecoder(3, units=4).apply(
            seq2seq.EncoderDecoder(3, units=4).init(KEY), X, return_weights="no"
        ),
        TYPE,
        "return_weights must be True or False, got 'no'",
    ),
    "token_inputs_vocab_float": (
        lambda: seq2seq.TokenInputs(seq2seq.EncoderDecoder(3), 3.0),
        TYPE,
        "vocab_size must be an integer >= 1, got 3.0",
    ),
    "bilstm_units_float": (
        lambda: text_classifiers.BiLSTMClassifier(units=2.0),
        TYPE,
        "units must be an integer >= 1, got 2.0",
    ),
    "bilstm_maxlen_0": (
        lambda: text_classifiers.BiLSTMClassifier(maxlen=0),
        VALUE,
        "maxlen must be an integer >= 1, got 0",
    ),
    "recurrent_classifier_reverse_text": (
        lambda: text_classifiers.RecurrentClassifier(reverse="no"),
        TYPE,
        "reverse must be True or False, got 'no'",
    ),
    "recurrent_classifier_mask_int": (
        lambda: text_classifiers.make_text_model("lstm", mask_padding=1),
        VALUE,
        "text model 'lstm': mask_padding must be True or False, got 1",
    ),
    "flatten_freeze_text": (
        lambda: text_classifiers.EmbeddingFlattenClassifier(freeze_embedding="yes"),
        TYPE,
        "freeze_embedding must be True or False, got 'yes'",
    ),
    "embedding_dim_float": (
        lambda: text_classifiers.init_embedding(KEY, 10, 4.0),
        TYPE,
        "embedding dim must be an integer >= 1, got 4.0",
    ),
    "forecaster_reset_after_text": (
        lambda: forecasters.make_forecaster("gru", 5, 7, reset_after="no"),
        TYPE,
        "reset_after must be True or False, got 'no'",
    ),
    "forecaster_train_text": (
        lambda: forecasters.DenseForecaster(2, 3).apply(
            forecasters.DenseForecaster(2, 3).init(KEY), jnp.ones((1, 3, 2)), train="no"
        ),
        TYPE,
        "train must be True or False, got 'no'",
    ),
    "generator_length_bool": (
        lambda: generation.make_generator(lambda p, w: w, True),
        TYPE,
        "length must be an integer >= 1, got True",
    ),
    "generator_temperature_bool": (
        lambda: generation.make_generator(lambda p, w: w, 3, temperature=True),
        TYPE,
        "temperature must be a finite number >= 0 (0: greedy), got True",
    ),
    "text_model_token_past_vocab": (
        lambda: _text_model_logits(jnp.array([[1, 2, 10]])),
        VALUE,
        "tokens: the id 10 at row 0, position 2 is outside the vocabulary of 10 ids",
    ),
    "bilstm_token_negative": (
        lambda: _bilstm_logits(jnp.array([[1, -1, 2]])),
        VALUE,
        "tokens: the id -1 at row 0, position 1 is outside the vocabulary of 10 ids",
    ),
    "char_rnn_token_past_vocab": (
        lambda: char_lm.CharRNN(5, units=4).apply(
            char_lm.CharRNN(5, units=4).init(KEY), jnp.array([[0, 7]])
        ),
        VALUE,
        "character ids: the id 7 at row 0, position 1 is outside the vocabulary of 5 ids",
    ),
    "token_inputs_past_vocab": (
        lambda: seq2seq.TokenInputs(seq2seq.EncoderDecoder(3, units=4), 3).apply(
            seq2seq.EncoderDecoder(3, units=4).init(KEY), jnp.array([[0, 3]])
        ),
        VALUE,
        "tokens: the id 3 at row 0, position 1 is outside the vocabulary of 3 ids",
    ),
    # data/ (the Tokenizer and pad_sequences take the same checker)
    "tokenizer_num_words_bool": (
        lambda: text.Tokenizer(num_words=True),
        TYPE,
        "num_words must be None or an integer >= 1, got True",
    ),
    "tokenizer_lower_text": (
        lambda: text.Tokenizer(lower="no"),
        TYPE,
        "lower must be True or False, got 'no'",
    ),
    "tokenizer_oov_int": (
        lambda: text.Tokenizer(oov_token=1),
        TYPE,
        "oov_token must be None or a string, got 1",
    ),
    # interop/
    "nnx_rnn_return_sequences_text": (
        lambda: flax_nnx.KerasRNN(_nnx_cell(), return_sequences="no"),
        TYPE,
        "return_sequences must be True or False, got 'no'",
    ),
    "nnx_bidirectional_merge": (
        lambda: flax_nnx.KerasBidirectional(_nnx_cell(), _nnx_cell(), merge_mode="avg"),
        VALUE,
        "unknown merge mode 'avg'",
    ),
    "nnx_in_features_float": (
        lambda: flax_nnx.KerasGRUCell(3.0, 4, rngs=nnx.Rngs(0)),
        TYPE,
        "in_features must be an integer >= 1, got 3.0",
    ),
    "linen_rnn_reverse_text": (
        lambda: _linen_rnn(reverse="no"),
        TYPE,
        "reverse must be True or False, got 'no'",
    ),
    "linen_rnn_unroll_0": (lambda: _linen_rnn(unroll=0), VALUE, "unroll must be an integer >= 1"),
    "torch_layer_bool": (
        lambda: _from_torch(layer=True),
        TYPE,
        "layer must be an integer >= 0, got True",
    ),
    "torch_reverse_text": (
        lambda: weights.to_torch(LSTM, LSTM_PARAMS, reverse="no"),
        TYPE,
        "reverse must be True or False, got 'no'",
    ),
    "gate_axis_float": (
        lambda: weights.reorder_gates(np.zeros(8), "keras_lstm", "torch_lstm", axis=-1.0),
        TYPE,
        "axis must be an integer, got -1.0",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_argument_gets_one_line_naming_it(case):
    call, error, message = CASES[case]
    with pytest.raises(error) as info:
        call()
    text = str(info.value)
    assert message in text, f"expected {message!r} in {text!r}"
    assert "\n" not in text.strip()
    # Whatever its type, a refusal is a ValueError too (rnn_attn.config.ConfigError).
    assert isinstance(info.value, ValueError)


def test_a_type_error_is_also_a_config_error():
    with pytest.raises(checks.ArgumentTypeError) as info:
        checks.argument("units", 2.0, int, minimum=1)
    assert isinstance(info.value, TypeError) and isinstance(info.value, checks.ConfigError)
    with pytest.raises(checks.ConfigError) as info:
        checks.argument("units", 0, int, minimum=1)
    assert not isinstance(info.value, TypeError)


@pytest.mark.parametrize(
    ("value", "kind", "limits", "expected"),
    [
        (np.int64(3), int, {"minimum": 1}, 3),
        (np.float32(0.5), float, {"minimum": 0.0, "below": 1.0}, 0.5),
        (np.bool_(True), bool, {}, True),
        (None, int, {"minimum": 1, "optional": True}, None),
        (0, float, {"minimum": 0.0}, 0),
    ],
)
def test_numpy_scalars_and_none_pass_as_python_values(value, kind, limits, expected):
    got = checks.argument("x", value, kind, **limits)
    assert got == expected and type(got) is type(expected)


def test_valid_switches_and_sizes_still_pass():
    cells.LSTMCell(np.int64(4), layer_norm=np.bool_(True)).init(KEY, np.int64(3))
    _rnn(return_sequences=np.bool_(False), unroll=np.int64(2), reverse=True)
    _rnn(unroll=True)
    _rnn(remat=np.int64(2))
    _rnn(remat=None)
    _decode(num_steps=2, return_weights=True)
    generation.make_generator(lambda p, w: w, np.int64(3), temperature=np.float32(0.5))
