"""Temperature forecasting 24 hours ahead with dense and GRU models (reference document 002).

    python -m experiments.weather --workdir runs/weather [--models gru,...] [--seeds 3]

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
Training: MAE loss, RMSprop (Keras defaults), batch 128, 20 epochs; each epoch visits
EVERY training window once in a seeded shuffled order (our batching, not the lecture's
500 random draws per epoch: with one year, an epoch is about 40 batches). Validation on
every validation window after each epoch; the best epoch (lowest validation MAE) is
evaluated once on the test windows.

The lecture's Jena settings, for a user who has ``jena_climate_2009_2016.csv``:
``--format jena --data PATH --lookback 1440 --step 6 --delay 144 --train-end 200000
--validation-end 300000`` (features: the 14 measurements; target ``T (degC)``).

Writes to --workdir: results.json (config, the baseline, models.<name>.per_seed.<metric>
in normalized units and degrees C, statistics over seeds, each model vs the baseline),
history.png, mae_by_seed.png, and Orbax checkpoints (checkpoints/<model>/, every seed in
one, after each epoch; --resume continues from them).
"""

from experiments.weather.config import WeatherConfig
from experiments.weather.data import Split, WeatherData, prepare_data, split_rows
from experiments.weather.run import main, run_experiment
from experiments.weather.train import per_seed_metrics, train_models, versus_baseline

__all__ = ["Split", "WeatherConfig", "WeatherData", "main", "per_seed_metrics",
           "prepare_data", "run_experiment", "split_rows", "train_models", "versus_baseline"]
