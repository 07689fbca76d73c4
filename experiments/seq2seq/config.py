"""Sequence-to-sequence tasks whose output differs from the input: encoder-decoders
without attention, with Bahdanau, Luong (dot, general) or multi-head attention, and a
small Transformer, over repeated seeds, decoded greedily or by beam search.

    python -m experiments.seq2seq --task addition --workdir runs/seq2seq_addition
    python -m experiments.seq2seq --task dates --decode beam --beam-width 4 --workdir DIR
    python -m experiments.seq2seq --task reversal --local --workdir /tmp/s2s   # quick check

Tasks (``rnn_attn.data.seq2seq_tasks``, generated offline from ``--data-seed``): reversal
and sorting of ``--train-length`` symbols of ``--alphabet``, addition of two numbers of up to
``--train-length`` digits, date normalisation (six English formats to ISO 8601);
train, validation and test are disjoint (their overlap is recorded, 0) and the ``long``
split holds longer examples (the length-generalisation test). Every model trains
``epochs`` epochs with Adam on the same training examples (teacher forcing, an end
token; the epoch with the best validation loss is kept) and is scored on the TEST and
long splits by decoding: exact match of the whole output, token accuracy, and for dates
the share of outputs that are valid dates.

Sizes (TASK_SIZES) were fixed before any comparison from one seed each of ``none`` and
``bahdanau``, and of other models where said (Adam 3e-3, batch 64, 1,000 TEST examples
unless said; TEST exact match, then on the longer inputs; seconds of the whole run on
the 2-core CPU, shared). Reversal of up to 16 symbols of 10, 6,400 examples, 5 epochs
(500 TEST examples): 25.0% vs 84.6%, longer 0.0% vs 0.8%, but its 10-seed row (776 s)
put ``multihead`` at 99.4% [99.0, 99.8] (none 29.3, bahdanau 86.8, luong_dot 70.6,
luong_general 89.9, transformer 73.8), above the ~98% bound; with ``multihead`` too, 4
epochs: 18.6%, 74.3%, 98.0%, longer 0.0%, 1.1%, 0.1% (49 s); 3 epochs: 11.5%, 27.5%,
68.0%, longer 0% (37 s): kept. Sorting of up to 12 symbols of 10, 5 epochs (500 TEST):
99.6% vs 98.2%, longer 70.0% vs 31.0% (no headroom: the final state can count 10
symbols); of up to 16 symbols of 26 (longer: 17 to 20), 5 epochs: 62.9% vs 73.5%, longer
1.2% vs 2.8% (37 s): kept; of up to 24 of 26, 10 epochs: 75.8% vs 82.4%, longer 8.5% vs
11.6% (64 s). Addition of up to 3 digits, 6,400 examples, 20 epochs (500 TEST): 11.4% vs
16.2%, longer 0% vs 0%; 20,000 examples, 10 epochs: 24.5% vs 21.2%, longer 0% vs 0% (51
s); 40,000 examples, 15 epochs: 80.6% vs 83.1%, longer 0% vs 0% (133 s; written most
significant digit first, the sum's carries come from the operands' far ends, which the
recurrent decoders' attention does not give them); 16,000 examples, 6 epochs, with
``multihead`` and ``transformer`` too: 6.8%, 8.2%, 11.3%, 59.7%, longer 0% for all (131
s): kept, the Transformer the best (the 10-seed row must also fit ~15 minutes, which the
40,000-example budget would not). Dates, 6,400 examples, with ``multihead`` too: 3
epochs: 0.6%, 58.8%, 55.2%, longer 0.3%, 39.7%, 25.7% (44 s); 4 epochs: 1.7%, 84.5%,
90.2%, longer 0.4%, 69.0%, 62.7% (89 s): kept; 5 epochs (500 TEST, 2 seeds, every model,
274 s): none 4.3, 1.8 / 1.4, 0.6; bahdanau 93.3, 95.1 / 56.3, 78.8; luong_dot 23.8, 93.4
/ 16.0, 71.6; luong_general 94.0, 94.0 / 56.5, 75.6; multihead 97.2, 99.9 / 81.8, 83.1
(at the ~98% bound); transformer 96.2, 93.5 / 11.4, 9.0.

Expected result, 10 seeds (``python -m experiments.seq2seq --task TASK``, the rows of
docs/results.md made by ``experiments.reproduce``): TEST exact match, mean [95% CI], for
none, bahdanau, luong_dot, luong_general, multihead, transformer. Reversal: 12.3 [10.8,
13.7], 38.1 [29.7, 46.5], 35.3 [31.8, 38.7], 65.7 [55.5, 75.8], 58.6 [42.1, 75.0], 46.2
[39.5, 52.8] (283 s; longer at most 0.4). Sorting: 62.7 [59.7, 65.7], 66.7 [62.4, 71.0],
63.6 [61.1, 66.1], 66.3 [62.7, 70.0], 60.9 [57.0, 64.7], 68.8 [65.3, 72.2] (754 s).
Addition: 5.8 [5.1, 6.6], 5.1 [3.9, 6.2], 4.9 [4.3, 5.6], 6.1 [5.3, 6.9], 10.3 [7.7,
12.9], 73.9 [70.0, 77.7] (317 s; longer 0 for all). Dates: 0.7 [0.3, 1.0], 89.3 [86.1,
92.6], 69.5 [48.9, 90.2], 88.0 [84.9, 91.2], 85.9 [79.7, 92.0], 93.3 [91.9, 94.8] (676
s). Each row's seconds: the whole run on the 2-core CPU shared with other work (load up
to about 5). Sorting leaves attention little room over ``none`` (at most 6 points); on
addition only the Transformer learns at this budget.

Beam width, measured (``--task reversal --epochs 5 --models bahdanau --seeds 2
--beam-sweep 1,2,4,8``, 108 s): TEST exact match 64.9%, 70.3%, 70.8%, 70.8% and mean log-probability
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
from rnn_attn.data.seq2seq_tasks import SPLITS, TASKS, Task, date_lengths
from rnn_attn.models.teacher_forcing import RECURRENT_ATTENTION

MODELS = (*RECURRENT_ATTENTION, "transformer")
DECODERS = ("greedy", "beam")
# Each task's sizes, fixed before the comparison: train on lengths up to train_length,
# test length generalisation on train_length + 1 .. long_length (dates: every string
# longer than train_length characters); reversal and sorting write with the first
# ``alphabet`` letters; every model sees train_examples distinct examples for epochs.
TASK_SIZES = {
    "reversal": dict(train_length=16, long_length=20, alphabet=10, epochs=3, train_examples=6400),
    "sorting": dict(train_length=16, long_length=20, alphabet=26, epochs=5, train_examples=6400),
    "addition": dict(train_length=3, long_length=5, epochs=6, train_examples=16000),
    "dates": dict(train_length=20, long_length=28, epochs=4, train_examples=6400),
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
    alphabet: int = field(
        0, "reversal and sorting: distinct symbols (2 to 26); 0: the task's", minimum=0
    )
    max_output_length: int = field(
        0, "decoder steps, end token included; 0: the task's longest target", minimum=0
    )
    train_examples: int = field(0, "distinct training examples; 0: the task's", minimum=0)
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
        """The task's sizes, epochs and training examples: the flags', or ``TASK_SIZES``'
        where they are 0 (``alphabet``: reversal and sorting only)."""
        task_sizes = TASK_SIZES[self.task]
        return {k: getattr(self, k) or task_sizes[k] for k in task_sizes}

    @property
    def examples(self) -> dict[str, int]:
        """Distinct examples per split (``train``: the task's unless chosen)."""
        chosen = {s: getattr(self, f"{s}_examples") for s in SPLITS}
        return chosen | {"train": self.sizes["train_examples"]}

    @property
    def task_spec(self) -> Task:
        sizes = self.sizes
        alphabet = {"alphabet": sizes["alphabet"]} if "alphabet" in sizes else {}
        return Task(self.task, sizes["train_length"], sizes["long_length"], **alphabet)

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
        require(
            not self.alphabet or "alphabet" in TASK_SIZES[self.task],
            f"--alphabet {self.alphabet}: the {self.task} task's symbols are fixed (digits, "
            f"or the dates' characters); expected --alphabet 0, or a task of reversal or "
            f"sorting",
        )
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
