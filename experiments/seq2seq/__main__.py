"""``python -m experiments.seq2seq``: see ``config.py`` for the command, the expected
result and its runtime."""

import sys

if __name__ == "__main__":
    from rnn_attn.parallel.runtime import reexec_with_huge_pages

    reexec_with_huge_pages()  # before JAX starts: see rnn_attn/parallel/runtime.py

    from experiments.seq2seq.train import EXPERIMENT
    from rnn_attn.experiment.cli import main

    sys.exit(main(EXPERIMENT))
