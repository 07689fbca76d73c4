"""Temperature forecasting 24 hours ahead with dense and GRU models (reference document 002).

    python -m experiments.weather --workdir runs/weather [--models gru,...] [--seeds 3]

The protocol, its defaults and why, the expected result and its runtime: ``config.py``.
Modules: ``config`` (settings), ``data`` (splits, windows, baseline), ``train`` (the engine
over seeds, figures against the baseline), ``report`` (plot, printed report), ``run``
(config -> results.json), ``__main__`` (the command).
"""

from experiments.weather.config import WeatherConfig
from experiments.weather.data import Split, WeatherData, prepare_data, split_rows
from experiments.weather.run import main, run_experiment
from experiments.weather.train import per_seed_metrics, train_models, versus_baseline

__all__ = ["Split", "WeatherConfig", "WeatherData", "main", "per_seed_metrics",
           "prepare_data", "run_experiment", "split_rows", "train_models", "versus_baseline"]
