"""Times ``Tokenizer(num_words=10000)`` on the 50,000 labelled IMDB reviews.

    python benchmarks/tokenize_imdb.py [--source /work/shared/data/aclImdb_v1_labeled.tar.xz]

Reading the archive is timed separately; the figure that matters is fit_on_texts +
texts_to_sequences on all 50,000 reviews (train and test together).
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import _flags  # noqa: E402

from rnn_attn.data.imdb import LABELED_ARCHIVE, read_aclimdb  # noqa: E402
from rnn_attn.data.text import Tokenizer  # noqa: E402

DEFAULT_SOURCE = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", LABELED_ARCHIVE
)


def main(argv: list[str] | None = None) -> None:
    parser = _flags.parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--source", default=DEFAULT_SOURCE, help="aclImdb/ directory or its .tar.xz/.tar.gz archive"
    )
    parser.add_argument("--num-words", type=_flags.count(1), default=10_000)
    parser.add_argument("--repeats", type=_flags.count(1), default=1)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    reviews = read_aclimdb(args.source)
    texts = reviews["train"][0] + reviews["test"][0]
    print(
        f"read {len(texts):,} reviews from the archive in "
        f"{time.perf_counter() - start:.2f} s (not part of the figure below)"
    )

    for _ in range(args.repeats):
        start = time.perf_counter()
        tokenizer = Tokenizer(num_words=args.num_words)
        tokenizer.fit_on_texts(texts)
        fitted = time.perf_counter()
        sequences = tokenizer.texts_to_sequences(texts)
        done = time.perf_counter()
        words = sum(map(len, sequences))
        print(
            f"Tokenizer(num_words={args.num_words}): fit_on_texts {fitted - start:.2f} s + "
            f"texts_to_sequences {done - fitted:.2f} s = {done - start:.2f} s "
            f"({len(tokenizer.word_index):,} distinct words, {words:,} kept tokens)"
        )


if __name__ == "__main__":
    sys.exit(_flags.run(main))
