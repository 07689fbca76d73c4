"""Time to generate characters with document 003's character LSTM, after compilation.

    python benchmarks/char_generation_speed.py [--chars 1000] [--repeats 5] [--temperature 0]

Builds the model of ``experiments.char_textgen`` (one-hot windows of 10 characters over
the book's vocabulary, LSTM(128), Dense softmax), compiles the sampling loop (one
``lax.scan``; each step re-reads the sliding 10-character window, as the document's
generation does), and times ``--chars`` characters per call over ``--repeats`` calls.
Target: 1,000 characters in under 1 s. Weights are random: speed does not depend on them.
"""

from __future__ import annotations

import os
import sys
import time

import _flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main() -> int:
    parser = _flags.parser(__doc__)
    parser.add_argument("--chars", type=_flags.count(1), default=1000)
    parser.add_argument("--repeats", type=_flags.count(1), default=5)
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument(
        "--vocab", type=_flags.count(2), default=44, help="characters (the book has ~44)"
    )
    args = parser.parse_args()

    import jax
    import numpy as np

    from rnn_attn.models.char_lm import CharRNN
    from rnn_attn.models.generation import make_generator

    model = CharRNN(args.vocab)
    params = model.init(jax.random.PRNGKey(0))
    generate = make_generator(
        lambda p, w: model.apply(p, w), args.chars, temperature=args.temperature
    )
    window = np.arange(10, dtype=np.int32) % args.vocab
    start = time.perf_counter()
    generate(params, window, jax.random.PRNGKey(0)).block_until_ready()
    compile_s = time.perf_counter() - start
    times = []
    for i in range(args.repeats):
        start = time.perf_counter()
        generate(params, window, jax.random.PRNGKey(i + 1)).block_until_ready()
        times.append(time.perf_counter() - start)
    times = np.array(times)
    print(
        f"{args.chars} characters (temperature {args.temperature}): first call "
        f"{compile_s:.2f} s (compilation included); after compilation median "
        f"{np.median(times):.3f} s, range {times.min():.3f}-{times.max():.3f} s over "
        f"{args.repeats} calls ({args.chars / np.median(times):,.0f} characters/s); "
        f"target < 1 s: {'met' if np.median(times) < 1.0 else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(_flags.run(main))
