"""Temperature forecasting 24 hours ahead with dense and GRU models (reference document 002).

    python -m experiments.weather --workdir runs/weather [--models gru,...] [--seeds 3]

The protocol, its defaults and why, the expected result and its runtime: ``config.py``.
Modules: ``config`` (settings), ``data`` (splits, windows, baseline), ``train`` (the
models and data for the shared runner, figures against the baseline through
``rnn_attn.analysis.baselines``), ``report`` (plots, printed report), ``__main__`` (the
command).
"""

from experiments.weather.config import WeatherConfig
from experiments.weather.data import Split, WeatherData, prepare_data, split_rows
from experiments.weather.train import EXPERIMENT

__all__ = [
    "EXPERIMENT",
    "Split",
    "WeatherConfig",
    "WeatherData",
    "prepare_data",
    "split_rows",
]
