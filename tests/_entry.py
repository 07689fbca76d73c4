"""An experiment module's ``main(argv)``, as ``python -m experiments.NAME`` runs it."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable


def entry_point(module: str) -> Callable[[list[str]], int]:
    """The shared CLI with the module's ``train.EXPERIMENT``, or, for the modules that
    train nothing themselves (``reproduce``, ``regression``), their ``run.main``."""
    if importlib.util.find_spec(f"{module}.train") is not None:
        experiment = getattr(importlib.import_module(f"{module}.train"), "EXPERIMENT", None)
        if experiment is not None:
            from rnn_attn.experiment.cli import main

            return lambda argv: main(experiment, argv)
    return importlib.import_module(f"{module}.run").main
