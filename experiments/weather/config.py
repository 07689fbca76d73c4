"""Configuration of the weather experiment: temperature 24 h ahead (reference document 002).

    python -m experiments.weather --workdir runs/weather [--models gru,...] [--seeds 3]
    python -m experiments.weather --local --workdir /tmp/weather   # a quick check

Document 002 (after Chollet, "Deep Learning with R" 6.3) forecasts the Jena temperature
24 h ahead from 10 days of history and compares a small dense network and GRUs (plain,
with dropout, stacked, bidirectional) against the common-sense baseline "tomorrow at
this hour = now". The Jena file is not available here, so the default data is the real
NREL TMY3 hourly record of Greensboro, NC (8,760 rows, one typical year; target
``Dry-bulb (C)``, the 13 measured weather columns of ``rnn_attn.data.weather.TMY3_FEATURES``
as inputs).

Defaults, and why: rows are already hourly, so ``--step 1``; ``--delay 24`` (24 h, as the
lecture); ``--lookback 120`` (5 days: five daily cycles and a passing weather system;
the lecture's 10 days would leave one year of data 2 x 120 fewer windows per split and
double the cost on CPU). Chronological split: the first 60% of the rows train (Jan-Aug),
the next 20% validate (Aug-Oct), the last 20% test (Oct-Dec); the normalizer is fitted
on the training rows only, and every window's inputs AND target lie inside its own split
(the lecture lets the last training targets reach 24 h into the validation rows).
Training: MAE loss, RMSprop (Keras defaults), batch 128, the lecture's epochs per model
(``DOCUMENT_EPOCHS``: 20 for dense and gru, 40 for the dropout-regularized GRUs, unless
``--epochs`` sets one number for all); each epoch visits
EVERY training window once in a seeded shuffled order (our batching, not the lecture's
500 random draws per epoch: with one year, an epoch is about 40 batches). Validation on
every validation window after each epoch; the best epoch (lowest validation MAE) is
evaluated once on the test windows.

The lecture's Jena settings, for a user who has ``jena_climate_2009_2016.csv``:
``--format jena --data PATH --lookback 1440 --step 6 --delay 144 --train-end 200000
--validation-end 300000`` (features: the 14 measurements; target ``T (degC)``).

Expected result (``--models dense,gru --seeds 3``, TMY3 record, the 2-core CPU: about a
minute): the GRU's best-epoch VALIDATION MAE about 2.19 C (95% CI about [2.12, 2.26]) against
the common-sense baseline's 2.34 C; after 20 epochs it overfits one year of data (about
2.5 C). The full default (five models, 3 seeds: ``python -m experiments.reproduce --only
002_weather``) takes a few minutes. ``temperature.png`` plots the whole record with its
three splits (the lecture's first plot). ``--local`` (dense and GRU, 2 seeds, 2 epochs:
about 15 s) checks the pipeline: best-epoch VALIDATION MAE of the GRU 2.27
and 2.50 C, of the dense model 5.73 and 7.06 C, against the baseline's 2.34 C.

Writes to --workdir: results.json (config, the baseline, models.<name>.per_seed.<metric>
in normalized units and degrees C, statistics over seeds, each model vs the baseline),
history.png, mae_by_seed.png, temperature.png, and Orbax checkpoints (checkpoints/<model>/,
every seed in one, after each epoch; --resume continues from them).
"""

from __future__ import annotations

import dataclasses
import os

from rnn_attn.config import (
    ConfigError,
    field,
    fit_fields,
    models_field,
    require,
    split_names,
)
from rnn_attn.models.forecasters import FORECASTERS, make_forecaster

FORMATS = ("tmy3", "jena")
DEFAULT_FILES = {"tmy3": "tmy3_723170_greensboro_nc.csv", "jena": "jena_climate_2009_2016.csv"}
DEFAULT_TARGETS = {"tmy3": "Dry-bulb (C)", "jena": "T (degC)"}
REFERENCE = (
    "document 002 (Jena, one run each): common-sense baseline MAE 0.29 normalized "
    "(about 2.57 C); GRU(32) about 0.265 validation MAE"
)
HEADLINE = "val_mae_best_c"
# --local: a quick check of the whole pipeline.
LOCAL = {"models": "dense,gru", "seeds": 2, "epochs": 2}
# The lecture's epochs (after Chollet 6.3): the dropout-regularized GRUs learn more slowly
# and train twice as long. (The dense model's and the stacked and bidirectional GRUs' are
# Chollet's; the lecture's slides leave them out.)
DOCUMENT_EPOCHS = {
    "dense": 20,
    "gru": 20,
    "gru_dropout": 40,
    "gru_stacked": 40,
    "gru_bidirectional": 40,
}


@dataclasses.dataclass(frozen=True)
class WeatherConfig(
    fit_fields(
        batch_size=128, eval_batch_size=1024, optimizer="rmsprop", learning_rate=1e-3, patience=0
    )
):
    """Settings of a forecasting comparison (defaults: the TMY3 record, see the module doc)."""

    models: str = models_field("dense,gru,gru_dropout,gru_stacked,gru_bidirectional", FORECASTERS)
    data: str = field(
        "", "the weather CSV (default: the --format's file in $RNN_ATTN_DATA or ../shared/data)"
    )
    format: str = field("tmy3", f"layout of --data, one of {FORMATS}", choices=FORMATS)
    target: str = field("", "target column (default: 'Dry-bulb (C)' for tmy3, 'T (degC)' for jena)")
    columns: str = field(
        "",
        "comma-separated input columns, the target among them "
        "(default: tmy3's 13 measured columns / every jena column)",
    )
    lookback: int = field(
        120, "rows of history per window (tmy3: hours; jena: 10 minutes)", minimum=1
    )
    step: int = field(1, "keep every step-th row of the window (jena: 6, hourly)", minimum=1)
    delay: int = field(24, "forecast this many rows after the window's end (jena: 144)", minimum=0)
    train_fraction: float = field(
        0.6, "first fraction of the rows for training", above=0.0, below=1.0
    )
    validation_fraction: float = field(
        0.2, "next fraction for validation (the rest: test)", above=0.0, below=1.0
    )
    train_end: int = field(0, "training rows [0, train_end) (0: use --train-fraction)", minimum=0)
    validation_end: int = field(
        0, "validation rows [train_end, validation_end) (0: use --validation-fraction)", minimum=0
    )
    epochs: int = field(
        0,
        "training epochs, each over every training window once (0: each "
        "model's document epochs, DOCUMENT_EPOCHS: 20 for dense and gru, "
        "40 for the others)",
        minimum=0,
    )
    reset_after: bool = field(
        True, "Keras 2 GRU (True) or the original GRU of the R lecture's Keras (False)"
    )

    def epochs_for(self, model: str) -> int:
        """``--epochs``, or the model's document epochs when it is 0."""
        return self.epochs or DOCUMENT_EPOCHS[model]

    @property
    def column_names(self) -> list[str] | None:
        return split_names(self.columns) or None

    @property
    def target_name(self) -> str:
        return self.target or DEFAULT_TARGETS[self.format]

    @property
    def lookback_steps(self) -> int:
        return self.lookback // self.step

    def check(self) -> None:
        require(
            self.lookback % self.step == 0,
            f"--lookback {self.lookback} must be a multiple of --step {self.step} (a "
            f"window holds lookback / step timesteps)",
        )
        require(
            self.train_fraction + self.validation_fraction < 1.0,
            f"--train-fraction and --validation-fraction must leave rows for the test "
            f"split, got {self.train_fraction} and {self.validation_fraction}",
        )
        require(
            self.validation_end == 0 or self.train_end < self.validation_end,
            f"--train-end {self.train_end} must be below --validation-end {self.validation_end}",
        )


def default_data_path(fmt: str) -> str:
    """The format's file in ``$RNN_ATTN_DATA`` (else ``../shared/data`` beside the repo)."""
    from rnn_attn.data.paths import default_data_dir

    return os.path.join(default_data_dir(), DEFAULT_FILES[fmt])


def build_model(name: str, config: WeatherConfig, features: int):
    """The named forecaster for windows ``[lookback / step, features]``."""
    overrides = {} if name == "dense" else {"reset_after": config.reset_after}
    try:
        return make_forecaster(name, features, config.lookback_steps, **overrides)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"model {name!r}: {e}") from None
