"""Configuration of the copy-task comparison (reference document 001).

    python -m experiments.copy_task --workdir runs/copy_task
    python -m experiments.copy_task --local --workdir /tmp/copy_task   # a quick check

Defaults reproduce the tutorial: sequences of 5 symbols out of 50, the target copies the
first 2 then zeros; LSTM(150) encoder -> RepeatVector -> LSTM(150) decoder (``baseline``)
vs LSTM(150) encoder -> Bahdanau attention decoder (``attention``); Adam with Keras's
defaults; 5,000 steps of one fresh pair each; test on 100 fresh pairs per seed, a pair
correct only when the whole decoded sequence matches; 10 seeds.

Expected result (document 001: 23.1% vs 95.7% mean test exact match): 19.4% [16.2, 22.6]
vs 98.9% [97.9, 99.9] (95% t-CI over the 10 seeds; AVX-512 host, 2026-12-07), identical on
every run on one machine; another CPU model rounds differently, and the baseline's
batch-1 training carries that into its end points (21.2% [18.0, 24.4] on an AVX2 host).
Runtime on the 2-core CPU: about 50 s for both models, compilation included. ``--local``
(2 seeds, 600 steps of 16 pairs): TEST exact match 8.0% and 4.0% (baseline) vs 91.0% and
98.0% (attention), in about 30 s (37 s measured with other work on the machine).
"""

from __future__ import annotations

import dataclasses

from rnn_attn.config import ConfigError, field, fit_fields, models_field, override
from rnn_attn.data.copy_task import check_copy_task
from rnn_attn.models.seq2seq import MODEL_KINDS, TokenInputs, make_model
from rnn_attn.nn.attention import ATTENTION_KINDS
from rnn_attn.nn.cells import CELLS

# --local: a quick check of the whole pipeline.
LOCAL = {"seeds": 2, "steps": 600, "batch_size": 16, "checkpoint_every": 300}


@dataclasses.dataclass(frozen=True)
class CopyTaskConfig(fit_fields(batch_size=1, learning_rate=1e-3, seed_loop="auto")):
    """The copy-task comparison; defaults reproduce reference document 001."""

    seeds: int = override("seeds", 10)
    models: str = models_field("baseline,attention", MODEL_KINDS)
    steps: int = field(5000, "training steps per seed, each on fresh pairs", minimum=1)
    batch_size: int = override(
        "batch_size", 1, help="pairs per training step (the tutorial uses 1)"
    )
    eval_examples: int = field(
        100, "fresh test pairs per seed (exact match of the sequence)", minimum=1
    )
    length: int = field(5, "input (and output) sequence length")
    n_copy: int = field(2, "how many leading input values the target copies")
    cardinality: int = field(50, "number of distinct symbols (one-hot width)")
    units: int = field(150, "hidden units of the encoder and the decoder", minimum=1)
    cell: str = field(
        "lstm",
        f"recurrent cell of the encoder/decoder, one of {sorted(CELLS)}",
        choices=sorted(CELLS),
    )
    attention: str = field(
        "bahdanau", f"attention score, one of {ATTENTION_KINDS}", choices=ATTENTION_KINDS
    )
    unroll: bool = field(True, "unroll the time loops fully (faster for short sequences)")
    checkpoint_every: int = override("checkpoint_every", 1000, minimum=1, why="")
    spot_checks: int = field(10, "Expected/Predicted examples to print per model", minimum=0)

    def check(self) -> None:
        try:
            check_copy_task(self.length, self.n_copy, self.cardinality)
        except ValueError as e:
            raise ConfigError(str(e)) from None


# XLA's backend optimization level per program: LLVM's most expensive passes buy nothing
# measurable for these small, dispatch-bound loops (level 1 compiles ~20% faster and runs
# as fast); the test program, which runs once, at level 0. (It changes float rounding.)
TRAIN_COMPILER_OPTIONS = (("xla_backend_optimization_level", 1),)
TEST_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}


def build_model(name: str, cfg: CopyTaskConfig) -> TokenInputs:
    """Model ``name`` of ``MODEL_KINDS`` with the config's sizes, reading token ids."""
    options = {k: getattr(cfg, k) for k in ("units", "cell", "attention", "unroll")}
    return TokenInputs(make_model(name, cfg.cardinality, **options), cfg.cardinality)
