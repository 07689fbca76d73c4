"""Every recipe of reference documents 000-003, run and set beside the documents' figures.

    python -m experiments.reproduce --workdir runs/reproduce --update-doc docs/results.md
    python -m experiments.reproduce --quick --workdir /tmp/reproduce   # every row, small

Each row of ``RECIPES`` is one experiment command (``python -m experiments.NAME``) with the
document's settings and at least 3 seeds; its results go to ``<workdir>/<row>/``. A row
whose ``results.json`` exists is not run again (a row interrupted mid-way is resumed), so
an interrupted reproduction continues where it stopped, and ``--table-only`` rebuilds the
table from the files alone. The table (``<workdir>/results_table.md``; with
``--update-doc``, also the marked section of that file, and the plots copied beside it)
gives each figure's mean over seeds with its 95% t-interval next to the document's; our
95% prediction interval for one new run, against which the document's figure (one run;
the copy task's is a mean of 10) is inside or outside; each ``versus`` comparison of a
model with another, paired by seed where both ran the same seeds, its p-value
Holm-adjusted over every comparison of the table at once; and the ``AGGREGATES`` (rows
sharing a metric: interquartile mean, stratified bootstrap interval).
With ``--update-doc``, a full run's finished rows (results.json and ``provenance.json``:
the commit, date, runtime and CPU of the run) are also archived beside that file
(``docs/runs/<row>/``) and the table is read from the work dir, then that archive: a
reproduction split over several sessions or machines adds up there.

Expected result: the table of docs/results.md. The full run takes about 4 hours on the
2-core CPU (document 000's 12 epochs: about an hour; the five maxlen-500 IMDB models of
document 002: about two), and the four sequence-to-sequence rows of issue 32 (every
model of ``experiments.seq2seq`` on one task, 10 seeds, beyond document 001's copy task)
5 to 13 minutes each. ``--quick`` runs every row with 2 seeds, one epoch (or a few
hundred steps) and shorter reviews, in about 13 minutes (773 s on 2026-12-07 on the
2-core CPU, the four sequence-to-sequence rows, every model one epoch, 198 s of it): it
checks that every recipe runs and that the table has every figure, not the figures.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Figure:
    """One number of a row: ``path`` into the row's results.json (dots; ``*`` maps over a
    list, an integer indexes one) leads to per-seed values (a list) or one deterministic
    value, shown times ``scale`` with ``digits`` decimals.

    ``reference``: the document's figure on our scale (times ``scale``), the mean of
    ``reference_runs`` runs, held against our prediction interval for that many new runs
    (None: the document gives none, or one on another yardstick; ``document`` says which).
    ``versus``: the figure this one is compared with over seeds (this one minus that one),
    paired by seed when both ran the same seeds: a path into this row's results.json, or
    ``ROW:path`` into another row's."""

    label: str
    path: str
    document: str = "-"
    scale: float = 100.0
    digits: int = 1
    reference: float | None = None
    reference_runs: int = 1
    versus: str = ""


@dataclasses.dataclass(frozen=True)
class Aggregate:
    """One figure several rows share (the same metric on the same data), aggregated as
    rliable does: the interquartile mean of every row's seeds, with a stratified bootstrap
    interval (seeds resampled within each row). ``figures``: ``(row, path)`` pairs."""

    label: str
    figures: tuple[tuple[str, str], ...]
    scale: float = 100.0
    digits: int = 1


@dataclasses.dataclass(frozen=True)
class Recipe:
    """One experiment command: ``python -m experiments.<module> *args`` (``quick``: the
    arguments of ``--quick`` instead)."""

    name: str
    document: str
    title: str
    module: str
    args: tuple[str, ...]
    quick: tuple[str, ...]
    figures: tuple[Figure, ...]
    note: str = ""
    plots: tuple[str, ...] = ("history",)  # results.json "files" entries shown in the doc


def _per_seed(model: str, metric: str) -> str:
    return f"models.{model}.per_seed.{metric}"


def _after_epoch(model: str, key: str, epoch: int) -> str:
    return f"models.{model}.history_per_seed.*.{key}.{epoch - 1}"


def _versus(other: str, metric: str) -> str:
    """The ``versus`` of a figure: ``other`` model's ``metric`` (``ROW:model``: another
    row's model); "" without ``other``."""
    if not other:
        return ""
    row, _, model = other.rpartition(":")
    return f"{row}:{_per_seed(model, metric)}" if row else _per_seed(model, metric)


def _accuracy(
    model: str,
    document: str,
    *,
    final_label: str = "VALIDATION accuracy, last epoch",
    reference: float | None = None,
    versus: str = "",
) -> tuple[Figure, ...]:
    return (
        Figure(
            f"{model}: {final_label}",
            _per_seed(model, "val_accuracy_final"),
            document,
            reference=reference,
            versus=_versus(versus, "val_accuracy_final"),
        ),
        Figure(
            f"{model}: VALIDATION accuracy, best epoch",
            _per_seed(model, "val_accuracy_best"),
            versus=_versus(versus, "val_accuracy_best"),
        ),
    )


def _number(document: str) -> float | None:
    """The document's figure as a number: its first word ('83.76 (...)'), or None ('-')."""
    try:
        return float(document.split()[0])
    except ValueError:
        return None


def _doc000(
    model: str, after_1: str, best: str, after_12: str, training: str, versus: str = ""
) -> tuple[Figure, ...]:
    return (
        Figure(
            f"{model}: VALIDATION accuracy after epoch 1",
            _after_epoch(model, "val_accuracy", 1),
            after_1,
            reference=_number(after_1),
        ),
        Figure(
            f"{model}: VALIDATION accuracy, best epoch",
            _per_seed(model, "val_accuracy_best"),
            best,
            reference=_number(best),
            versus=_versus(versus, "val_accuracy_best"),
        ),
        Figure(
            f"{model}: VALIDATION accuracy after the last epoch (12)",
            _per_seed(model, "val_accuracy_final"),
            after_12,
            reference=_number(after_12),
            versus=_versus(versus, "val_accuracy_final"),
        ),
        Figure(
            f"{model}: TRAINING accuracy in the last epoch",
            _per_seed(model, "train_accuracy_final"),
            training,
            reference=_number(training),
        ),
    )


IMDB_QUICK = ("--seeds", "2", "--epochs", "1", "--maxlen", "40")
_DOC002_RNN_NOTE = (
    "maxlen 500, RMSprop, 10 epochs, validation_split 0.2 as the lecture; "
    "the lecture reads its figure off a plot of one run"
)


def _doc002_rnn(
    model: str, document: str, what: str, *, reference: float | None = None, versus: str = ""
) -> Recipe:
    return Recipe(
        f"002_{model}",
        "002",
        what,
        "imdb",
        ("--model", model, "--seeds", "3"),
        ("--model", model, *IMDB_QUICK),
        _accuracy(model, document, reference=reference, versus=versus),
        _DOC002_RNN_NOTE,
    )


# Figures the table shows beside ours but never compares with them (no ``reference``)
GLOVE_ELSEWHERE = "- (Chollet's book: {}, not document 002's)"
JENA_ONLY = "not comparable: Jena {} (another series, another deviation)"


def _weather(model: str, document: str = "-", versus: str = "") -> tuple[Figure, ...]:
    """A weather model's figures; the document's (Jena's) are normalized by another
    series' deviation, so none is held against ours (no ``reference``)."""
    return (
        Figure(
            f"{model}: VALIDATION MAE, best epoch (normalized)",
            _per_seed(model, "val_mae_best"),
            document,
            scale=1.0,
            digits=3,
            versus=_versus(versus, "val_mae_best"),
        ),
        Figure(
            f"{model}: TEST MAE at that epoch (C)",
            _per_seed(model, "test_mae_best_c"),
            scale=1.0,
            digits=2,
            versus=_versus(versus, "test_mae_best_c"),
        ),
    )


def _char(cell: str, what: str, versus: str = "") -> Recipe:
    return Recipe(
        f"003_char_{cell}",
        "003",
        what,
        "char_textgen",
        ("--cell", cell, "--seeds", "3"),
        (
            "--cell",
            cell,
            "--seeds",
            "2",
            "--iterations",
            "1",
            "--step",
            "4",
            "--eval-chars",
            "200",
            "--preds-per-iteration",
            "20",
        ),
        (
            Figure(
                f"char_{cell}: HELD-OUT perplexity per character",
                _per_seed(f"char_{cell}", "heldout_perplexity_final"),
                "qualitative: word-like text",
                scale=1.0,
                digits=2,
                versus=_versus(versus, "heldout_perplexity_final"),
            ),
            Figure(
                f"char_{cell}: generated tokens that are words of the book (%)",
                _per_seed(f"char_{cell}", "real_word_fraction"),
                versus=_versus(versus, "real_word_fraction"),
            ),
        ),
        "25 iterations of one epoch over windows of 10 characters, RMSprop, greedy "
        "generation; the book's last 10% held out to measure (the document measures nothing)",
    )


def _doc003_sweep(
    suffix: str, title: str, grid: tuple[str, ...], labels: tuple[str, ...]
) -> Recipe:
    """Document 003's question as a sweep of its model (issue 30): every setting of
    ``grid`` (``--sweep`` values, the settings in ``labels``' order; the last is the
    document's model) trained on the same 3 tuning seeds, its best-epoch VALIDATION
    accuracy on the held-out training reviews compared seed by seed with the document's
    setting; the selected setting's TEST accuracy on 3 fresh seeds."""
    trial = "models.lstm_regularized.trials.{}.per_seed.val_accuracy_best"
    reference = len(labels) - 1
    figures = tuple(
        Figure(
            f"{label}: VALIDATION accuracy, best epoch (tuning seeds)",
            trial.format(i),
            "- (says: did not help)" if i != reference else "-",
            versus="" if i == reference else trial.format(reference),
        )
        for i, label in enumerate(labels)
    )
    selected = Figure(
        "the selected setting: TEST accuracy at its best epoch (fresh seeds)",
        _per_seed("lstm_regularized", "test_accuracy_best"),
    )
    sweep = tuple(a for g in grid for a in ("--sweep", g))
    common = ("--model", "lstm_regularized", "--validation", "split", *sweep)
    return Recipe(
        f"003_lstm_{suffix}_sweep",
        "003",
        title,
        "imdb",
        (*common, "--seeds", "3"),
        (*common, "--seeds", "2", *DOC003_QUICK),
        (*figures, selected),
        "the document's recipe but validated on the last 5,000 training reviews "
        "(a sweep chooses on data apart from the test reviews); each setting compared "
        "with the document's (the last) on the same tuning seeds",
        plots=("accuracy_by_seed",),
    )


# Document 003's IMDB rows, small: short reviews, a small vocabulary, few large batches.
DOC003_QUICK = ("--maxlen", "20", "--num-words", "2000", "--batch-size", "512")
SEQ2SEQ_MODELS = ("none", "bahdanau", "luong_dot", "luong_general", "multihead", "transformer")
# Every model, as the table needs each one's figures (``--local`` alone runs two).
SEQ2SEQ_QUICK = (
    "--local",
    "--epochs",
    "1",
    "--train-examples",
    "640",
    "--models",
    ",".join(SEQ2SEQ_MODELS),
)


def _seq2seq_figures(model: str) -> tuple[Figure, ...]:
    """A model's TEST and longer-input exact match, each (but the no-attention model's)
    set against the no-attention model's, paired by seed."""
    baseline = "" if model == "none" else "none"
    return (
        Figure(
            f"{model}: TEST exact match (greedy)",
            _per_seed(model, "test_exact_match"),
            versus=_versus(baseline, "test_exact_match"),
        ),
        Figure(
            f"{model}: LONGER inputs, exact match",
            _per_seed(model, "long_exact_match"),
            versus=_versus(baseline, "long_exact_match"),
        ),
    )


def _seq2seq(task: str, what: str) -> Recipe:
    """Issue 32's comparison on one generated task (document 001's question, beyond the
    copy task): every model's TEST and length-generalisation exact match, 10 seeds, each
    attention model against the one without."""
    return Recipe(
        f"001_seq2seq_{task}",
        "001",
        f"beyond the copy task (issue 32): {what}",
        "seq2seq",
        ("--task", task),
        ("--task", task, *SEQ2SEQ_QUICK),
        tuple(f for model in SEQ2SEQ_MODELS for f in _seq2seq_figures(model)),
        "10 seeds; the sizes, epochs and training examples of experiments/seq2seq/config.py "
        "TASK_SIZES; greedy decoding",
        plots=("exact_match_by_seed", "attention_bahdanau"),
    )


VANISHING_CONFIGS = (
    "simple_rnn",
    "simple_rnn_normal_init",
    "simple_rnn_clipped",
    "simple_rnn_layer_norm",
    "simple_rnn_residual",
    "lstm",
    "lstm_forget_bias_5",
    "lstm_layer_norm",
    "gru",
    "gru_update_bias_5",
)

RECIPES: tuple[Recipe, ...] = (
    Recipe(
        "000_imdb_attention",
        "000",
        "BiLSTM vs BiLSTM + attention pooling, IMDB",
        "imdb_attention",
        ("--seeds", "3", "--epochs", "12"),
        ("--seeds", "2", "--epochs", "1", "--maxlen", "20", "--batch-size", "128"),
        _doc000("bilstm", "86.27", "86.58", "84.08", "94.86 (epoch 12's log)")
        + _doc000(
            "bilstm_attention",
            "86.95",
            "-",
            "83.76 (its '99%' is TRAINING)",
            "98.91 (epoch 12's log)",
            "bilstm",
        ),
        "one run in the document; validation on the 25,000 test reviews as it does; our "
        "attention weight W starts glorot-uniform, the document's random-normal",
    ),
    Recipe(
        "001_copy_task",
        "001",
        "encoder-decoder with and without Bahdanau attention",
        "copy_task",
        (),
        ("--seeds", "2", "--steps", "300"),
        (
            Figure(
                "baseline: TEST exact match",
                _per_seed("baseline", "test_exact_match"),
                "23.10 (mean of 10 runs)",
                reference=23.10,
                reference_runs=10,
            ),
            Figure(
                "attention: TEST exact match",
                _per_seed("attention", "test_exact_match"),
                "95.70 (mean of 10 runs)",
                reference=95.70,
                reference_runs=10,
                versus=_versus("baseline", "test_exact_match"),
            ),
        ),
        "10 seeds as the document; 5,000 steps of one fresh pair, 100 fresh TEST pairs",
        plots=("accuracy_by_seed", "attention_weights"),
    ),
    Recipe(
        "002_embedding_flatten",
        "002",
        "Embedding + Flatten, maxlen 20",
        "imdb",
        ("--model", "embedding_flatten", "--seeds", "3"),
        ("--model", "embedding_flatten", "--seeds", "2", "--epochs", "1"),
        _accuracy("embedding_flatten", "about 75", reference=75.0),
        "as the lecture",
    ),
    Recipe(
        "002_imdb_glove",
        "002",
        "frozen GloVe vs a learned embedding, 200 reviews",
        "imdb_glove",
        ("--seeds", "3"),
        ("--seeds", "2", "--epochs", "2", "--validation-samples", "2000"),
        _accuracy("glove_frozen", GLOVE_ELSEWHERE.format("about 56"), versus="learned")
        + _accuracy("learned", GLOVE_ELSEWHERE.format("about 52")),
        "50-d GloVe (the lecture's is 100-d), 20 epochs as the lecture; the lecture prints no "
        "accuracy for these models: the 56 and 52 are Chollet's (Deep Learning with R, ch. 6), "
        "on another sample of 200 reviews, so none is held against ours",
    ),
    _doc002_rnn("simple_rnn", "about 85", "SimpleRNN(32), maxlen 500", reference=85.0),
    _doc002_rnn(
        "lstm",
        "about 89",
        "LSTM(32), maxlen 500",
        reference=89.0,
        versus="002_simple_rnn:simple_rnn",
    ),
    _doc002_rnn("gru", "-", "GRU(32), maxlen 500", versus="002_lstm:lstm"),
    _doc002_rnn(
        "lstm_reversed",
        "-",
        "LSTM(32) on reversed reviews, Embedding 128",
        versus="002_lstm:lstm",
    ),
    _doc002_rnn(
        "bidirectional_lstm", "-", "Bidirectional(LSTM(32)), maxlen 500", versus="002_lstm:lstm"
    ),
    Recipe(
        "002_weather",
        "002",
        "temperature 24 h ahead: dense and four GRUs",
        "weather",
        ("--seeds", "3"),
        ("--seeds", "2", "--epochs", "1"),
        (
            Figure(
                "common-sense baseline: VALIDATION MAE (normalized)",
                "baseline.validation.mae",
                JENA_ONLY.format("0.29"),
                scale=1.0,
                digits=3,
            ),
            Figure(
                "common-sense baseline: TEST MAE (C)", "baseline.test.mae_c", scale=1.0, digits=2
            ),
        )
        + _weather("dense")
        + _weather("gru", JENA_ONLY.format("about 0.265"), versus="dense")
        + _weather("gru_dropout", versus="gru")
        + _weather("gru_stacked", versus="gru_dropout")
        + _weather("gru_bidirectional", versus="gru"),
        "the real TMY3 hourly record of Greensboro NC (one year), not Jena; 5 days of "
        "history; 20 epochs (dense, gru) or 40 (the others) as the lecture",
        plots=("temperature", "history"),
    ),
    Recipe(
        "003_lstm_regularized",
        "003",
        "LSTM(64), dropout 0.2, L1L2 bias penalty",
        "imdb",
        ("--model", "lstm_regularized", "--seeds", "3"),
        ("--model", "lstm_regularized", "--seeds", "2", *DOC003_QUICK),
        _accuracy(
            "lstm_regularized",
            "- (says: slightly better)",
            final_label="VALIDATION accuracy after its 1 epoch",
        ),
        "20,000 words, maxlen 80, Adam, batch 16, one epoch, the test reviews as "
        "validation, as the document",
        plots=("accuracy_by_seed",),
    ),
    Recipe(
        "003_lstm_regularized_sgd",
        "003",
        "ablation: SGD(0.01, momentum 0.9)",
        "imdb",
        (
            "--model",
            "lstm_regularized",
            "--seeds",
            "3",
            "--optimizer",
            "sgd",
            "--learning-rate",
            "0.01",
            "--momentum",
            "0.9",
        ),
        (
            "--model",
            "lstm_regularized",
            "--seeds",
            "2",
            *DOC003_QUICK,
            "--optimizer",
            "sgd",
            "--learning-rate",
            "0.01",
            "--momentum",
            "0.9",
        ),
        _accuracy(
            "lstm_regularized",
            "- (says: worse than Adam)",
            final_label="VALIDATION accuracy after its 1 epoch",
            versus="003_lstm_regularized:lstm_regularized",
        ),
        "the optimizer the document's code tried",
        plots=("accuracy_by_seed",),
    ),
    Recipe(
        "003_lstm_unpenalized",
        "003",
        "ablation: no bias penalty",
        "imdb",
        ("--model", "lstm_unpenalized", "--seeds", "3"),
        ("--model", "lstm_unpenalized", "--seeds", "2", *DOC003_QUICK),
        _accuracy(
            "lstm_unpenalized",
            "- (says: overfits more)",
            final_label="VALIDATION accuracy after its 1 epoch",
            versus="003_lstm_regularized:lstm_regularized",
        ),
        "the document's model without L1L2(0.01, 0.01)",
        plots=("accuracy_by_seed",),
    ),
    _doc003_sweep(
        "dropout",
        "ablation as a sweep: the dropout rate",
        ("dropout=0,0.5,0.2",),
        ("dropout 0", "dropout 0.5", "dropout 0.2 (the document's)"),
    ),
    _doc003_sweep(
        "l1l2",
        "ablation as a sweep: the bias penalty L1L2(l1, l2)",
        ("bias_l1=0,0.01", "bias_l2=0,0.01"),
        ("no penalty", "L1L2(0, 0.01)", "L1L2(0.01, 0)", "L1L2(0.01, 0.01) (the document's)"),
    ),
    _doc003_sweep(
        "optimizer",
        "ablation as a sweep: RMSprop and SGD beside Adam, two learning rates each",
        ("optimizer=rmsprop,sgd,adam", "learning_rate=1e-2,1e-3"),
        (
            "RMSprop 1e-2",
            "RMSprop 1e-3",
            "SGD 1e-2",
            "SGD 1e-3",
            "Adam 1e-2",
            "Adam 1e-3 (the document's)",
        ),
    ),
    _char("lstm", "character-level LSTM(128), Alice in Wonderland"),
    _char("simple_rnn", "the same with SimpleRNN(128)", versus="003_char_lstm:char_lstm"),
    _char("gru", "the same with GRU(128)", versus="003_char_lstm:char_lstm"),
    Recipe(
        "003_vanishing_gradients",
        "003",
        "vanishing gradients and remedies, T = 100",
        "vanishing_gradients",
        (),
        ("--seeds", "2", "--lengths", "100", "--steps", "100"),
        tuple(
            Figure(
                f"{c}: TEST accuracy at T = 100 (chance 12.5)",
                _per_seed(f"{c}_T100", "test_accuracy"),
                "qualitative: propose remedies",
                versus="" if c == "simple_rnn" else _versus("simple_rnn_T100", "test_accuracy"),
            )
            for c in VANISHING_CONFIGS
        ),
        "3 seeds, 1,500 Adam steps; the label is the first of 100 symbols",
        plots=("gradient_by_step", "accuracy_by_length"),
    ),
    _seq2seq("reversal", "reversal of up to 16 symbols of 10"),
    _seq2seq("sorting", "sorting of up to 16 symbols of 26"),
    _seq2seq("addition", "addition of two numbers of up to 3 digits"),
    _seq2seq("dates", "dates in six English formats to ISO 8601"),
)

DOC002_RNNS = ("simple_rnn", "lstm", "gru", "lstm_reversed", "bidirectional_lstm")
AGGREGATES: tuple[Aggregate, ...] = (
    Aggregate(
        "IMDB VALIDATION accuracy after the last epoch, the five maxlen-500 recurrent recipes "
        "of document 002 (each row a task)",
        tuple((f"002_{m}", _per_seed(m, "val_accuracy_final")) for m in DOC002_RNNS),
    ),
)
