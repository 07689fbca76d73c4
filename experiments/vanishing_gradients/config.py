"""Configuration of the vanishing-gradient study (reference document 003).

    python -m experiments.vanishing_gradients --workdir runs/vanishing_gradients
    python -m experiments.vanishing_gradients --local --workdir /tmp/vg   # a quick check

A task whose answer depends on the first input only (the label is the first of
``length`` random symbols). For SimpleRNN, LSTM and GRU, and for the remedies (gated
cells; a larger bias on the gate that keeps the state: the LSTM's forget gate, the GRU's
update gate; orthogonal vs random-normal recurrent init; gradient clipping; layer
normalization in the cell; a skip connection across time), at several lengths: the norm
of d loss / d x_t for every t at initialization and after training (how far back the
gradient reaches), and the task's TEST accuracy (fresh sequences) over seeds.

Expected result (3 seeds, T = 10, 25, 50, 100, 1,500 Adam steps; docs/results.md has the
table): at T = 100 the SimpleRNN's gradient to the first input falls by about 6 orders
of magnitude (Keras's orthogonal init) and underflows with a random-normal init; gated
cells with Keras's default gate biases lose it too, and fail the task past T = 10; an
LSTM forget-gate bias or a GRU update-gate bias of 5, or a skip connection across time,
keep it and solve T = 100. Runtime on the 2-core CPU: about 9 minutes; ``--local``
(the three cells at T = 10 and 25, 300 steps, 2 seeds): about 80 s; TEST accuracy at
T = 25 SimpleRNN 98.7% and 96.9%, LSTM 13.8% and 17.9%, GRU 11.3% and 13.5% (chance 12.5%:
300 steps are too few for the gated cells at Keras's default gate biases).
"""

from __future__ import annotations

import dataclasses

from experiments.vanishing_gradients.study import CONFIGS
from rnn_attn.config import field, fit_fields, override, require, split_names
from rnn_attn.memory import host_free_bytes

ALL = (
    "simple_rnn,simple_rnn_normal_init,simple_rnn_clipped,simple_rnn_layer_norm,"
    "simple_rnn_residual,lstm,lstm_forget_bias_5,lstm_layer_norm,gru,gru_update_bias_5"
)

CELL_COMPARISON = ("simple_rnn", "lstm", "gru", "lstm_forget_bias_5", "gru_update_bias_5")


@dataclasses.dataclass(frozen=True)
class VanishingConfig(fit_fields(batch_size=64, learning_rate=3e-3)):
    """The gradient study; one job per configuration and length, ``<config>_T<length>``,
    each trained for one epoch of ``steps`` fresh batches (no --epochs, --seed-loop:
    every seed of a job in one batched program)."""

    configs: str = field(
        ALL,
        "comma-separated configurations (see study.CONFIGS)",
        items=sorted(CONFIGS),
        item="configuration",
    )
    lengths: str = field("10,25,50,100", "comma-separated sequence lengths")
    units: int = field(32, "recurrent units", minimum=1)
    symbols: int = field(8, "distinct symbols (chance accuracy is 1/symbols)", minimum=2)
    steps: int = field(1500, "training steps (Adam) per run", minimum=1)
    batch_size: int = override("batch_size", 64, help="sequences per training step")
    checkpoint_every: int = override("checkpoint_every", 500)

    @property
    def config_names(self) -> list[str]:
        return split_names(self.configs)

    @property
    def length_values(self) -> list[int]:
        return [int(v) for v in split_names(self.lengths)]

    def check(self) -> None:
        try:
            lengths = self.length_values
        except ValueError:
            lengths = []
        require(
            bool(lengths) and all(v >= 2 for v in lengths),
            f"--lengths must be comma-separated integers >= 2, got {self.lengths!r}",
        )
        require(
            len(set(lengths)) == len(lengths),
            f"--lengths repeats a length: {self.lengths!r}; expected each length once",
        )
        self.check_memory(max(lengths))

    def check_memory(self, longest: int) -> None:
        """The largest array, every seed's one-hot batches of a segment of steps (drawn
        up front), must fit in half of the free memory."""
        segment = min(self.steps, self.checkpoint_every or self.steps)
        need = 4 * self.seeds * segment * self.batch_size * longest * self.symbols
        free = host_free_bytes()
        require(
            need <= free / 2,
            f"--seeds {self.seeds} x {segment} steps x --batch-size {self.batch_size} x "
            f"length {longest} x --symbols {self.symbols} needs {need / 2**30:.1f} GiB "
            f"of batches, more than half the {free / 2**30:.1f} GiB free; expected a "
            f"smaller --batch-size, --checkpoint-every or --seeds",
        )


# --local: a quick check of the whole pipeline.
LOCAL = {"configs": "simple_rnn,lstm,gru", "lengths": "10,25", "steps": 300, "seeds": 2}
