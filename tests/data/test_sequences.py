import numpy as np
import pytest

from rnn_attn.data.sequences import pad_sequences

SEQS = [[1, 2, 3], [4, 5], [6, 7, 8, 9, 10], []]


def test_default_is_pre_padding_to_longest():
    np.testing.assert_array_equal(
        pad_sequences(SEQS),
        [
            [0, 0, 1, 2, 3],
            [0, 0, 0, 4, 5],
            [6, 7, 8, 9, 10],
            [0, 0, 0, 0, 0],
        ],
    )


@pytest.mark.parametrize(
    "padding,truncating,expected",
    [
        ("pre", "pre", [[1, 2, 3], [0, 4, 5], [8, 9, 10], [0, 0, 0]]),
        ("post", "pre", [[1, 2, 3], [4, 5, 0], [8, 9, 10], [0, 0, 0]]),
        ("pre", "post", [[1, 2, 3], [0, 4, 5], [6, 7, 8], [0, 0, 0]]),
        ("post", "post", [[1, 2, 3], [4, 5, 0], [6, 7, 8], [0, 0, 0]]),
    ],
)
def test_padding_and_truncating(padding, truncating, expected):
    out = pad_sequences(SEQS, maxlen=3, padding=padding, truncating=truncating)
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == np.int32


def test_value_and_dtype():
    out = pad_sequences([[0.5], [1.5, 2.5]], maxlen=3, dtype="float32", value=-1.0)
    np.testing.assert_array_equal(out, [[-1, -1, 0.5], [-1, 1.5, 2.5]])
    assert out.dtype == np.float32


def test_bad_options():
    with pytest.raises(ValueError, match="padding must be 'pre' or 'post', got 'middle'"):
        pad_sequences(SEQS, padding="middle")
    with pytest.raises(ValueError, match="maxlen must be None or an integer >= 1"):
        pad_sequences(SEQS, maxlen=-2)


def test_matches_a_plain_loop_on_random_data():
    rng = np.random.default_rng(0)
    seqs = [list(rng.integers(1, 100, rng.integers(0, 30))) for _ in range(200)]
    for padding in ("pre", "post"):
        for truncating in ("pre", "post"):
            out = pad_sequences(seqs, maxlen=17, padding=padding, truncating=truncating)
            for row, s in zip(out, seqs, strict=True):
                s = s[-17:] if truncating == "pre" else s[:17]
                want = [0] * (17 - len(s)) + s if padding == "pre" else s + [0] * (17 - len(s))
                np.testing.assert_array_equal(row, want)
