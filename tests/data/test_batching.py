import numpy as np

from rnn_attn.data.batching import validation_split


def test_validation_split_takes_the_last_fraction_as_keras_does():
    arrays = {"inputs": np.arange(20).reshape(10, 2), "targets": np.arange(10)}
    head, tail = validation_split(arrays, 0.2)
    np.testing.assert_array_equal(tail["targets"], [8, 9])
    np.testing.assert_array_equal(head["inputs"], arrays["inputs"][:8])
    assert validation_split(arrays, 0.0)[1]["targets"].size == 0
