"""Sequence-to-sequence tasks whose output differs from the input: encoder-decoders
without attention, with Bahdanau, Luong (dot, general) or multi-head attention, and a
small Transformer, over repeated seeds, decoded greedily or by beam search.

    python -m experiments.seq2seq --task addition --workdir runs/seq2seq_addition
    python -m experiments.seq2seq --task dates --decode beam --beam-width 4 --workdir DIR
    python -m experiments.seq2seq --task reversal --local --workdir /tmp/s2s   # quick check

Tasks (``rnn_attn.data.seq2seq_tasks``, generated offline from ``--data-seed``): reversal
and sorting of ``--train-length`` symbols of 10, addition of two numbers of up to
``--train-length`` digits, date normalisation (six English formats to ISO 8601);
train, validation and test are disjoint (their overlap is recorded, 0) and the ``long``
split holds longer examples (the length-generalisation test). Every model trains
``epochs`` epochs with Adam on the same training examples (teacher forcing, an end
token; the epoch with the best validation loss is kept) and is scored on the TEST and
long splits by decoding: exact match of the whole output, token accuracy, and for dates
the share of outputs that are valid dates.

Sizes (TASK_SIZES) were fixed before any comparison from one seed each of ``none`` and
``bahdanau`` (Adam 3e-3, 6,400 examples, batch 64, 500 TEST examples; TEST exact match,
then on the longer inputs), on the 2-core CPU: reversal of up to 16 symbols, 5 epochs:
25.0% vs 84.6%, longer 0.0% vs 0.8%; dates, 5 epochs: 4.4% vs 92.8%, longer 1.2% vs
56.2%; addition of up to 3 digits, 20 epochs: 11.4% vs 16.2%, longer 0% vs 0% (hard for
both at this budget); sorting of up to 12 symbols, 5 epochs: 99.6% vs 98.2%, longer 70.0%
vs 31.0% (no room for attention: the final state can count the symbols). The other
models and the 10-seed rows (docs/results.md, ``experiments.reproduce``): not yet run.
Every model on dates, 2 seeds (``--task dates --seeds 2``, 274 s with 121 s compiling,
the CPU shared, load 6 to 8), TEST exact match per seed, then on the longer dates:
none 4.3, 1.8 / 1.4, 0.6; bahdanau 93.3, 95.1 / 56.3, 78.8; luong_dot 23.8, 93.4 / 16.0,
71.6; luong_general 94.0, 94.0 / 56.5, 75.6; multihead 97.2, 99.9 / 81.8, 83.1 (at the
~98% bound); transformer 96.2, 93.5 / 11.4, 9.0 (its attention does not carry to longer
strings); 59,245 to 85,782 parameters (transformer 73,261).

Beam width, measured (``--task reversal --models bahdanau --seeds 2 --beam-sweep
1,2,4,8``, 108 s): TEST exact match 64.9%, 70.3%, 70.8%, 70.8% and mean log-probability
of the chosen outputs -2.1295, -2.0599, -2.0513, -2.0510 for widths 1, 2, 4, 8 (width 1
equals greedy decoding on every example).

``--local`` (2 seeds, ``none`` and ``bahdanau``, 2,000 training examples, 3 epochs) checks
the pipeline, not the figures: on the 2-core CPU shared with other work (load 11),
addition: TEST exact match 0.0% and 0.0% vs 0.5% and 0.0% in 50 s (32 s compiling);
reversal 72 s, dates 62 s.
"""

from __future__ import annotations

import dataclasses

from rnn_attn.checks import split_names
from rnn_attn.config import ConfigError, field, fit_fields, models_field, override, require
from rnn_attn.data.seq2seq_tasks import TASKS, Task, date_lengths
from rnn_attn.models.teacher_forcing import RECURRENT_ATTENTION

MODELS = (*RECURRENT_ATTENTION, "transformer")
DECODERS = ("greedy", "beam")
# Each task's sizes, fixed before the comparison: train on lengths up to train_length,
# test length generalisation on train_length + 1 .. long_length (dates: every string
# longer than train_length characters).
TASK_SIZES = {
    "reversal": dict(train_length=16, long_length=20, epochs=5),
    "sorting": dict(train_length=12, long_length=16, epochs=5),
    "addition": dict(train_length=3, long_length=5, epochs=20),
    "dates": dict(train_length=20, long_length=28, epochs=5),
}

LOCAL = {
    "seeds": 2,
    "models": "none,bahdanau",
    "train_examples": 2000,
    "validation_examples": 200,
    "test_examples": 200,
    "long_examples": 200,
    "epochs": 3,
}


@dataclasses.dataclass(frozen=True)
class Seq2SeqConfig(fit_fields(epochs=0, batch_size=64, eval_batch_size=500, learning_rate=3e-3)):
    """The comparison; ``TASK_SIZES`` fill the sizes left at 0."""

    seeds: int = override("seeds", 10)
    epochs: int = override(
        "epochs", 0, minimum=0, help="training epochs; 0: the task's (TASK_SIZES)", why=""
    )
    task: str = field("addition", f"the task, one of {TASKS}", choices=TASKS)
    models: str = models_field(",".join(MODELS), MODELS)
    train_length: int = field(
        0, "longest train/test example (symbols, digits, characters); 0: the task's", minimum=0
    )
    long_length: int = field(
        0, "longest example of the length-generalisation split; 0: the task's", minimum=0
    )
    max_output_length: int = field(
        0, "decoder steps, end token included; 0: the task's longest target", minimum=0
    )
    train_examples: int = field(6400, "distinct training examples", minimum=1)
    validation_examples: int = field(500, "distinct validation examples", minimum=1)
    test_examples: int = field(1000, "distinct TEST examples", minimum=1)
    long_examples: int = field(1000, "length-generalisation examples", minimum=1)
    data_seed: int = field(0, "seed of the generated examples (the same for every seed)", minimum=0)
    units: int = field(64, "recurrent models: encoder and decoder units", minimum=1)
    heads: int = field(4, "multihead and transformer: attention heads", minimum=1)
    dim: int = field(64, "transformer: model width", minimum=2)
    layers: int = field(1, "transformer: encoder and decoder layers", minimum=1)
    hidden: int = field(64, "transformer: feed-forward width", minimum=1)
    decode: str = field("greedy", "how the TEST outputs are decoded", choices=DECODERS)
    beam_width: int = field(4, "--decode beam: hypotheses kept", minimum=1)
    length_penalty: float = field(0.0, "--decode beam: alpha of ((5 + n) / 6)^alpha", minimum=0)
    beam_sweep: str = field(
        "", "comma-separated beam widths also decoded on TEST (log-prob and exact match)"
    )
    spot_checks: int = field(5, "decoded TEST examples to print per model", minimum=0)

    @property
    def sizes(self) -> dict[str, int]:
        """The task's sizes and epochs: the flags', or ``TASK_SIZES``' where they are 0."""
        chosen = {k: getattr(self, k) for k in ("train_length", "long_length", "epochs")}
        return {k: v or TASK_SIZES[self.task][k] for k, v in chosen.items()}

    @property
    def task_spec(self) -> Task:
        sizes = self.sizes
        return Task(self.task, sizes["train_length"], sizes["long_length"])

    @property
    def output_length(self) -> int:
        """Decoder steps: ``max_output_length``, or the longest target with its end token."""
        return self.max_output_length or self.task_spec.target_length("long")

    @property
    def model_options(self) -> dict:
        """The models' sizes (``make_seq2seq``'s keyword arguments)."""
        return {k: getattr(self, k) for k in ("units", "heads", "dim", "layers", "hidden")}

    @property
    def decoding(self) -> dict:
        """How the TEST outputs are decoded (results.json ``decoding``)."""
        beam = {"beam_width": self.beam_width, "length_penalty": self.length_penalty}
        return (
            {"decode": self.decode, "max_output_length": self.output_length}
            | (beam if self.decode == "beam" else {})
            | {"beam_sweep": self.sweep_widths}
        )

    @property
    def sweep_widths(self) -> list[int]:
        return [int(w) for w in split_names(self.beam_sweep)]

    def check(self) -> None:
        self.check_long_split()
        try:
            task = self.task_spec
        except ValueError as e:
            raise ConfigError(f"--task {self.task}: {e}") from None
        needed = task.target_length("long")
        require(
            self.output_length >= needed,
            f"--max-output-length {self.output_length} is too short for the {self.task} "
            f"task: its longest target (the long split) has {needed} tokens with the end "
            f"token; expected at least {needed}",
        )
        self.check_widths(len(task.vocabulary))
        require(
            self.dim % self.heads == 0 and self.units % self.heads == 0,
            f"--heads {self.heads} must divide --units {self.units} and --dim {self.dim}",
        )

    def check_long_split(self) -> None:
        """The length-generalisation split has examples longer than the training ones."""
        train, long = self.sizes["train_length"], self.sizes["long_length"]
        if self.task == "dates":
            shortest, longest = date_lengths()
            require(
                shortest <= train < longest,
                f"--train-length {train}: the date strings have {shortest} to {longest} "
                f"characters, so none would be longer (the length-generalisation split "
                f"would be empty) or none as short; expected {shortest} to {longest - 1}",
            )
        else:
            require(
                long > train,
                f"--long-length {long} is not longer than --train-length {train}: the "
                f"length-generalisation split would have no longer examples; expected "
                f"--long-length > --train-length",
            )

    def check_widths(self, vocabulary: int) -> None:
        """Every beam width lies in 1 .. the vocabulary size (the candidates of a step)."""
        try:
            widths = [("--beam-width", self.beam_width)]
            widths += [("--beam-sweep width", w) for w in self.sweep_widths]
        except ValueError:
            raise ConfigError(
                f"--beam-sweep must be comma-separated integers, got {self.beam_sweep!r}"
            ) from None
        for flag, width in widths:
            require(
                1 <= width <= vocabulary,
                f"{flag} {width} is outside 1 to {vocabulary}, the size of the {self.task} "
                f"task's vocabulary; expected 1 <= width <= {vocabulary}",
            )
