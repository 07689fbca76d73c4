"""Character-level text generation on "Alice in Wonderland" (reference document 003).

    python -m experiments.char_textgen --workdir runs/char_textgen [--seeds 1]

Defaults follow the document: the book's body (CHAPTER I to THE END), lines stripped,
lower-cased and joined with spaces; windows of 10 characters, stride 1, one-hot;
LSTM(128, dropout 0.1, L1L2(0.01, 0.01) bias penalty) -> Dense -> softmax; RMSprop; batch
128; 25 iterations of one epoch, each followed by 100 greedily generated characters from
a random window. Beyond the document, the book's last 10% is held out: each iteration
reports the held-out per-character cross-entropy and perplexity, and the end scores the
share of generated words that are words of the book (unigram and bigram perplexities of
the training text are printed for scale). Generation is one compiled lax.scan.

Writes to --workdir: results.json (config, models.char_lstm.per_seed.<metric>, the
samples), history.png, and Orbax checkpoints per iteration (--resume continues).
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from experiments._common import run_main
    from rnn_attn import textgen

    return run_main(argv, description=__doc__.split("\n\n")[0],
                    config_cls=textgen.TextGenConfig, default_workdir="runs/char_textgen",
                    run=textgen.run_experiment,
                    jobs=lambda cfg: cfg.seeds)


if __name__ == "__main__":
    from rnn_attn.runtime import reexec_with_huge_pages

    reexec_with_huge_pages()  # before JAX starts: see rnn_attn/runtime.py
    sys.exit(main())
