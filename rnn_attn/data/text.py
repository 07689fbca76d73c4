"""Text to word sequences, with Keras's defaults."""

from __future__ import annotations

# keras.preprocessing.text's default filters: punctuation, tabs and newlines (not the
# apostrophe, so "don't" stays one word).
KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'


def text_to_word_sequence(
    text: str, filters: str = KERAS_FILTERS, lower: bool = True, split: str = " "
) -> list[str]:
    """Splits text into words as ``keras.preprocessing.text.text_to_word_sequence``:
    lower-case, every filter character becomes ``split``, empty pieces dropped."""
    if lower:
        text = text.lower()
    text = text.translate(str.maketrans(filters, split * len(filters)))
    return [w for w in text.split(split) if w]
