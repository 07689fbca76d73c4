"""The one rule for how a number in a data file is written (``rnn_attn.data.numbers``),
and its two forms: per string (``is_plain``, GloVe) and per column (``plain_cells``,
gated by ``may_hold_unplain``, the weather CSVs)."""

import numpy as np
import pytest

from rnn_attn.data.numbers import is_plain, may_hold_unplain, plain_cells

PLAIN = ["1", "-1.5", "+.5", "5.", "1e5", "1E-05", " 2.25", "2.25\t", "0001"]
# What Python's float reads (as a finite number) that a CSV reader does not.
NOT_PLAIN = [
    "1_000",
    "1e1_0",
    "\u0661\u0662",  # Arabic-Indic digits
    "\uff11\uff12",  # full-width digits
    "\u00a01.5",  # no-break space
    "1.5\u2003",
    "1.5\n",
    "\r1.5",
    "\x0b1",
    "1\x0c",
]


def test_float_reads_every_case_so_only_the_syntax_is_refused():
    for text in PLAIN + NOT_PLAIN:
        assert np.isfinite(float(text)), text


@pytest.mark.parametrize("text", PLAIN + NOT_PLAIN)
def test_the_column_form_agrees_with_the_string_form(text):
    expected = text in PLAIN
    assert is_plain(text) is expected
    cells = np.array(["1.0", text, "22.5"])
    np.testing.assert_array_equal(plain_cells(cells), [True, expected, True])
    assert may_hold_unplain([["01.01.2009", "1.0"], ["x", text]]) is not expected


def test_is_plain_from_a_position_reads_the_rest_of_a_line():
    line = "caf\u00e9 0.1 -2e-3"
    assert is_plain(line, len("caf\u00e9")) and not is_plain(line)
