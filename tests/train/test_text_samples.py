import types

import numpy as np

from rnn_attn.train.text_samples import recorded_samples, sample_window


def test_sample_windows_are_a_pure_function_of_seed_and_draw():
    """The d-th sample's window is the d-th draw of ``default_rng(seed)``, as the generator
    an uninterrupted run kept in memory gave it (its figures unchanged), but without that
    state: a run resumed after an iteration draws the same windows (hostile round 3 of
    issue 31: the final sample and ``real_word_tokens_scored`` differed after a resume)."""
    windows = np.arange(50 * 3).reshape(50, 3)
    corpus = types.SimpleNamespace(train={"inputs": windows})
    rng = np.random.default_rng(7)
    stream = [windows[int(rng.integers(len(windows)))] for _ in range(5)]
    for draw in (3, 0, 4, 1, 2):  # any order: no state between calls
        np.testing.assert_array_equal(sample_window(corpus, 7, draw), stream[draw])


def test_recorded_samples_follow_the_seed_order():
    records = {"samples": {"3": [{"iteration": 1}], "1": [{"iteration": 1}, {"iteration": 2}]}}
    assert recorded_samples(records, [1, 3, 5]) == [
        [{"iteration": 1}, {"iteration": 2}],
        [{"iteration": 1}],
        [],
    ]
