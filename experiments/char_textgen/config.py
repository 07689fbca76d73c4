"""Configuration of character-level text generation on "Alice in Wonderland" (doc 003).

    python -m experiments.char_textgen --workdir runs/char_textgen
    python -m experiments.char_textgen --local --workdir /tmp/char_textgen  # a quick check

Defaults follow document 003 (windows of 10 characters, LSTM(128) with dropout 0.1 and
an L1L2 bias penalty, RMSprop, batch 128, 25 iterations of one epoch); beyond it, the
book's last 10% is held out for per-character perplexity.

Expected result (seed 0, the 2-core CPU, about 25 minutes): HELD-OUT perplexity about
4.2 per character after 25 iterations (unigram 19.5, bigram 10.4 on the training text);
greedy samples made of the book's words but looping. ``--local`` (2 iterations): a few
minutes.
"""

from __future__ import annotations

import dataclasses
import os

from rnn_attn.config import (
    check_fit_flags,
    checkpoint_every_field,
    cpu_devices_field,
    field,
    on_nonfinite_field,
    require,
)
from rnn_attn.data.paths import default_data_dir
from rnn_attn.models.char_lm import INPUTS
from rnn_attn.train.optimizers import KERAS_OPTIMIZERS

BOOK = "alice_in_wonderland_pg11.txt"


@dataclasses.dataclass(frozen=True)
class TextGenConfig:
    """Defaults: document 003."""

    text: str = field("", f"the book (default: {BOOK} in $RNN_ATTN_DATA or ../shared/data)")
    seeds: int = field(1, "independent repeats")
    first_seed: int = field(0, "seed of the first repeat")
    iterations: int = field(25, "iterations, each one epoch over the training windows")
    seqlen: int = field(10, "characters per input window")
    step: int = field(1, "stride between windows")
    held_out: float = field(0.1, "fraction of the text (its end) held out for measuring")
    units: int = field(128, "LSTM units")
    inputs: str = field("one_hot", f"input encoding, one of {INPUTS}")
    embed_dim: int = field(32, "embedding width with --inputs embedding")
    dropout: float = field(0.1, "dropout on the LSTM's inputs (document 003: 0.1)")
    bias_l1: float = field(0.01, "L1 penalty on the LSTM bias (document 003: 0.01)")
    bias_l2: float = field(0.01, "L2 penalty on the LSTM bias (document 003: 0.01)")
    optimizer: str = field("rmsprop", f"one of {KERAS_OPTIMIZERS} (Keras defaults)")
    learning_rate: float = field(1e-3, "learning rate")
    batch_size: int = field(128, "training batch size")
    checkpoint_every: int = checkpoint_every_field()
    on_nonfinite: str = on_nonfinite_field()
    preds_per_iteration: int = field(100, "characters generated after each iteration")
    eval_chars: int = field(1000, "characters generated at the end to score real words")
    temperature: float = field(0.0, "0: greedy (document 003); > 0: sample at this temperature")
    top_k: int = field(0, "sample among the k likeliest characters (0: all)")
    cpu_devices: int = cpu_devices_field()

    def validate(self) -> TextGenConfig:
        check_fit_flags(self)
        for name in ("seeds", "iterations", "seqlen", "step", "units", "embed_dim",
                     "batch_size", "preds_per_iteration", "eval_chars"):
            value = getattr(self, name)
            require(isinstance(value, int) and value >= 1,
                    f"--{name.replace('_', '-')} must be an integer >= 1, got {value!r}")
        require(0.0 < self.held_out < 0.5, f"--held-out must be in (0, 0.5), got {self.held_out}")
        require(0.0 <= self.dropout < 1.0, f"--dropout must be in [0, 1), got {self.dropout}")
        require(self.bias_l1 >= 0 and self.bias_l2 >= 0,
                f"--bias-l1/--bias-l2 must be >= 0, got {self.bias_l1}, {self.bias_l2}")
        require(self.inputs in INPUTS, f"--inputs must be one of {INPUTS}, got {self.inputs!r}")
        require(self.optimizer in KERAS_OPTIMIZERS,
                f"unknown optimizer {self.optimizer!r}; expected one of {KERAS_OPTIMIZERS}")
        require(self.learning_rate > 0, f"--learning-rate must be > 0, got {self.learning_rate}")
        require(self.temperature >= 0, f"--temperature must be >= 0, got {self.temperature}")
        require(self.top_k >= 0, f"--top-k must be >= 0, got {self.top_k}")
        require(self.first_seed >= 0, f"--first-seed must be >= 0, got {self.first_seed}")
        require(self.cpu_devices >= 0, f"--cpu-devices must be >= 0, got {self.cpu_devices}")
        return self

    def text_path(self) -> str:
        return self.text or os.path.join(default_data_dir(), BOOK)


# --local: a quick check of the whole pipeline.
LOCAL = {"iterations": 2}
