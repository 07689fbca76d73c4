"""The workloads of ``benchmarks/workloads.py``: each model's shapes, loss and optimizer
(Keras defaults), the synthetic batches every framework trains on, and our side of it
(the model from the registries, its objective and optimizer).

Every framework gets the same arrays (``arrays``) and the same sizes (``Workload``);
``small`` shrinks the sequence lengths and batches for smoke runs only.
"""

from __future__ import annotations

import dataclasses

import numpy as np

# IMDB's word ids are frequency ranks, drawn about as Zipf's law has it; with this exponent
# a batch of 128 reviews x 200 tokens holds ~3,400 distinct words, as IMDB's batches do
# (3,150-3,560). Uniform ids would hold ~9,200, which no text does, and would hide what
# projecting only a batch's words saves (rnn_attn/nn/fast_lstm.py).
ZIPF_EXPONENT = 1.15

# seq2seq: the addition task at the experiment's sizes (experiments/seq2seq/config.py
# TASK_SIZES: operands of up to 3 digits, the long split's 5 fix the decoder's 7 steps).
ADDITION = ("addition", 3, 5)


def word_ids(rng, shape: tuple[int, ...], vocab: int = 10_000):
    """``<int64>shape`` token ids in ``[1, vocab)``, id ``r`` with probability
    proportional to ``r ** -ZIPF_EXPONENT``."""
    ranks = np.arange(1, vocab)
    p = ranks.astype(np.float64) ** -ZIPF_EXPONENT
    return rng.choice(ranks, size=shape, p=p / p.sum())


@dataclasses.dataclass(frozen=True)
class Workload:
    """One row of the benchmark.

    ``family``: ``imdb`` (Embedding -> one recurrent layer -> Dense(1), binary
    cross-entropy), ``bilstm`` (document 000), ``weather`` (GRU -> Dense(1), MAE), ``char``
    (one-hot -> LSTM -> Dense(vocab), cross-entropy), ``copy`` (LSTM encoder -> Bahdanau
    attention decoder fed its own softmax, document 001) or ``seq2seq`` (teacher-forced
    LSTM encoder -> Bahdanau decoder on the addition task)."""

    name: str
    family: str
    document: str
    batch: int
    length: int  # time steps of the input (the source, for the encoder-decoders)
    units: int
    optimizer: str  # "adam" or "rmsprop", Keras's defaults at learning_rate
    learning_rate: float = 1e-3
    cell: str = "lstm"
    vocab: int = 0  # embedding rows, one-hot width or output alphabet
    embed: int = 0
    features: int = 0
    dropout: float = 0.0
    bias_l1l2: float = 0.0  # Keras's bias_regularizer=L1L2(x, x) on the recurrent layer
    out_length: int = 0  # decoder steps of the encoder-decoders


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload(
            "imdb_simple_rnn",
            "imdb",
            "002",
            128,
            500,
            32,
            "rmsprop",
            cell="simple_rnn",
            vocab=10_000,
            embed=32,
        ),
        Workload(
            "imdb_lstm", "imdb", "002", 128, 500, 32, "rmsprop", cell="lstm", vocab=10_000, embed=32
        ),
        Workload(
            "imdb_gru", "imdb", "002", 128, 500, 32, "rmsprop", cell="gru", vocab=10_000, embed=32
        ),
        Workload("weather_gru", "weather", "002", 128, 120, 32, "rmsprop", cell="gru", features=14),
        # document 003 (experiments/char_textgen/config.py): windows of 10 characters,
        # LSTM(128, dropout 0.1, L1L2(0.01, 0.01) on its bias), RMSprop, batch 128; the
        # alphabet of "Alice in Wonderland" is taken as 60 symbols.
        Workload(
            "char_lstm",
            "char",
            "003",
            128,
            10,
            128,
            "rmsprop",
            vocab=60,
            dropout=0.1,
            bias_l1l2=0.01,
        ),
        # experiments/copy_task/config.py: 5 symbols of 50, LSTM(150), batch 1, Adam.
        Workload("copy_attention", "copy", "001", 1, 5, 150, "adam", vocab=50, out_length=5),
        # experiments/seq2seq: bahdanau on addition, units 64, batch 64, Adam 3e-3.
        Workload(
            "seq2seq_bahdanau",
            "seq2seq",
            "new",
            64,
            7,
            64,
            "adam",
            learning_rate=3e-3,
            vocab=14,
            out_length=7,
        ),
        # document 000 (benchmarks/imdb_bilstm_speed.py's model at its default maxlen)
        Workload(
            "bilstm", "bilstm", "000", 128, 200, 64, "adam", vocab=10_000, embed=128, dropout=0.5
        ),
    )
}

SMALL = {"imdb": 20, "bilstm": 20, "weather": 12}  # --small: shorter sequences


def get(name: str, small: bool = False) -> Workload:
    w = WORKLOADS[name]
    if not small:
        return w
    return dataclasses.replace(w, length=SMALL.get(w.family, w.length), batch=min(w.batch, 16))


def _tokens(rng, n: int, w: Workload) -> np.ndarray:
    """Reviews of ``w.length`` Zipf-drawn ids, 'pre'-padded with 0 to lengths from a
    quarter of it to all of it (as benchmarks/imdb_bilstm_speed.py draws them)."""
    tokens = word_ids(rng, (n, w.length), w.vocab).astype(np.int32)
    lengths = rng.integers(w.length // 4, w.length + 1, size=n)
    tokens[np.arange(w.length)[None, :] < (w.length - lengths)[:, None]] = 0
    return tokens


def _addition(n: int) -> dict[str, np.ndarray]:
    """``n`` addition examples as the seq2seq experiment encodes them (its first ``n``
    distinct training examples, repeated when ``n`` exceeds what was drawn)."""
    from rnn_attn.data import seq2seq_tasks as tasks

    task = tasks.Task(*ADDITION)
    drawn = min(n, 6400)
    splits, _ = tasks.dataset(
        task, {"train": drawn, "validation": 8, "test": 8, "long": 8}, 0, task.target_length("long")
    )
    rows = np.arange(n) % drawn
    return {k: v[rows] for k, v in splits["train"].items()}


def arrays(w: Workload, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``n`` examples: ``inputs`` and ``targets`` (seq2seq: also ``source`` and
    ``decoder_inputs``, the two halves of ``inputs``), numpy, as the engine feeds them."""
    rng = np.random.default_rng(seed)
    if w.family in ("imdb", "bilstm"):
        return {"inputs": _tokens(rng, n, w), "targets": rng.integers(0, 2, n).astype(np.int32)}
    if w.family == "weather":
        x = rng.standard_normal((n, w.length, w.features)).astype(np.float32)
        return {"inputs": x, "targets": rng.standard_normal(n).astype(np.float32)}
    if w.family == "char":
        ids = rng.integers(0, w.vocab, (n, w.length + 1)).astype(np.int32)
        return {"inputs": ids[:, :-1], "targets": ids[:, -1]}
    if w.family == "copy":  # rnn_attn.data.copy_task.sample_copy_task, in numpy
        x = rng.integers(0, w.vocab, (n, w.length)).astype(np.int32)
        return {"inputs": x, "targets": np.where(np.arange(w.length) < 2, x, 0).astype(np.int32)}
    if w.family == "seq2seq":
        return _addition(n)
    raise ValueError(f"unknown family {w.family!r}")


def optimizer(w: Workload):
    """Keras's ``adam`` or ``rmsprop`` with its defaults, in optax (ours and Flax's)."""
    from rnn_attn.train import optimizers

    return optimizers.keras_optimizer(w.optimizer, w.learning_rate)


def objective(w: Workload):
    """The workload's loss as ours computes it (``rnn_attn.train.objectives``)."""
    from rnn_attn.train import objectives

    if w.family in ("imdb", "bilstm"):
        return objectives.binary_classification()
    if w.family == "weather":
        return objectives.mean_absolute_error()
    if w.family == "char":
        return objectives.categorical_classification()
    if w.family == "copy":
        return objectives.sequence_cross_entropy()
    from rnn_attn.data.seq2seq_tasks import PAD

    return objectives.masked_sequence_cross_entropy(PAD)


def model(w: Workload):
    """Our model from the registries, as the experiments build it."""
    if w.family == "imdb":
        from rnn_attn.models.text_classifiers import make_text_model

        return make_text_model(w.cell, maxlen=w.length)
    if w.family == "bilstm":
        from rnn_attn.models.text_classifiers import make_text_model

        return make_text_model("bilstm", maxlen=w.length)
    if w.family == "weather":
        from rnn_attn.models.forecasters import make_forecaster

        return make_forecaster("gru", w.features, w.length, units=w.units)
    if w.family == "char":
        from rnn_attn.models.char_lm import CharRNN

        return CharRNN(
            w.vocab, units=w.units, dropout=w.dropout, bias_l1=w.bias_l1l2, bias_l2=w.bias_l1l2
        )
    if w.family == "copy":
        from experiments.copy_task.config import CopyTaskConfig, build_model

        return build_model("attention", CopyTaskConfig())
    if w.family == "seq2seq":
        from rnn_attn.data.seq2seq_tasks import PAD
        from rnn_attn.models.teacher_forcing import make_seq2seq

        return make_seq2seq("bahdanau", w.vocab, w.out_length, units=w.units, pad_id=PAD)
    raise ValueError(f"unknown family {w.family!r}")


def fit_options(w: Workload) -> dict:
    """``FitConfig`` fields the workload's experiment sets beyond the defaults: the copy
    task's XLA options of its training program."""
    if w.family == "copy":
        from experiments.copy_task.config import TRAIN_COMPILER_OPTIONS

        return {"compiler_options": TRAIN_COMPILER_OPTIONS}
    return {}
