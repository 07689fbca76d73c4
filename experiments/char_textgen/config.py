"""Configuration of character-level text generation on "Alice in Wonderland" (doc 003).

    python -m experiments.char_textgen --workdir runs/char_textgen
    python -m experiments.char_textgen --local --workdir /tmp/char_textgen  # a quick check

Defaults follow document 003 (windows of 10 characters, LSTM(128) with dropout 0.1 and
an L1L2 bias penalty, RMSprop, batch 128, 25 iterations of one epoch); beyond it, the
book's last 10% is held out for per-character perplexity. ``--cell gru`` or ``--cell
simple_rnn`` swaps the LSTM for the other layers the document's code imports.

Expected result (seed 0): HELD-OUT perplexity about 4.2 per character after 25 iterations
(unigram 19.5, bigram 10.4 on the training text); greedy samples made of the book's words
but looping. Runtime on the 2-core CPU with nothing else running: 663 s for ``--seeds 3``
(4.22, 4.23, 4.27; docs/runs/003_char_lstm), the seeds batched in one program.
``--local`` (2 iterations, seed 0): HELD-OUT perplexity 7.44, samples such as "and the wat
in the wat ..."; about 55 s.

Writes to --workdir: results.json (config, models.char_<cell>.per_seed.<metric>, each
iteration's samples, the final sample, the reference perplexities), history.png,
TensorBoard curves (tensorboard/) and Orbax checkpoints (checkpoints/char_<cell>/, after
each iteration; --resume continues from them).
"""

from __future__ import annotations

import dataclasses
import os

from rnn_attn.config import field, fit_fields, override
from rnn_attn.data.paths import default_data_dir
from rnn_attn.models.char_lm import INPUTS, CharRNN

BOOK = "alice_in_wonderland_pg11.txt"
# Text is generated one character per step of the model, after training: about 1 ms a
# character for the 128-unit model on a 2-core CPU (20,000 in 20 s), so 100,000 take about
# 2 minutes, and 10^8 (accepted before) would have run for about a day.
MAX_GENERATED = 100_000
GENERATED_WHY = "characters are generated one at a time, after training"


@dataclasses.dataclass(frozen=True)
class TextGenConfig(fit_fields(optimizer="rmsprop", learning_rate=1e-3, batch_size=128)):
    """Defaults: document 003."""

    seeds: int = override("seeds", 1)
    text: str = field("", f"the book (default: {BOOK} in $RNN_ATTN_DATA or ../shared/data)")
    iterations: int = field(25, "iterations, each one epoch over the training windows", minimum=1)
    seqlen: int = field(10, "characters per input window", minimum=1)
    step: int = field(1, "stride between windows", minimum=1)
    held_out: float = field(
        0.1, "fraction of the text (its end) held out for measuring", above=0.0, below=0.5
    )
    cell: str = field(
        "lstm",
        "the recurrent layer, one of ('lstm', 'gru', 'simple_rnn') "
        "(document 003: lstm; its code imports all three)",
        choices=("lstm", "gru", "simple_rnn"),
    )
    units: int = field(128, "units of the recurrent layer", minimum=1)
    inputs: str = field("one_hot", f"input encoding, one of {INPUTS}", choices=INPUTS)
    embed_dim: int = field(32, "embedding width with --inputs embedding", minimum=1)
    dropout: float = field(
        0.1, "dropout on the recurrent layer's inputs (document 003: 0.1)", minimum=0.0, below=1.0
    )
    bias_l1: float = field(
        0.01, "L1 penalty on the recurrent bias (document 003: 0.01)", minimum=0.0
    )
    bias_l2: float = field(
        0.01, "L2 penalty on the recurrent bias (document 003: 0.01)", minimum=0.0
    )
    preds_per_iteration: int = field(
        100,
        "characters generated after each iteration",
        minimum=1,
        maximum=MAX_GENERATED,
        why=GENERATED_WHY,
    )
    eval_chars: int = field(
        1000,
        "characters generated at the end to score real words",
        minimum=1,
        maximum=MAX_GENERATED,
        why=GENERATED_WHY,
    )
    temperature: float = field(
        0.0, "0: greedy (document 003); > 0: sample at this temperature", minimum=0.0
    )
    top_k: int = field(0, "sample among the k likeliest characters (0: all)", minimum=0)

    @property
    def model_name(self) -> str:
        """The model's name in results.json and its checkpoints: ``char_<cell>``."""
        return f"char_{self.cell}"

    def text_path(self) -> str:
        return self.text or os.path.join(default_data_dir(), BOOK)


# --local: a quick check of the whole pipeline.
LOCAL = {"iterations": 2}


def build_model(config: TextGenConfig, vocab_size: int) -> CharRNN:
    """The character model: the recurrent layer over one-hot (or embedded) windows."""
    return CharRNN(
        vocab_size,
        cell_kind=config.cell,
        units=config.units,
        inputs=config.inputs,
        embed_dim=config.embed_dim,
        dropout=config.dropout,
        bias_l1=config.bias_l1,
        bias_l2=config.bias_l2,
    )
