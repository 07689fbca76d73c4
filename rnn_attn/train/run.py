"""A run in progress as the host sees it, and the hooks that read and change it.

``engine.fit`` keeps a ``Run`` (every seed's state on the mesh, the epoch and batch done,
each seed's history and best epoch) and calls each ``Callback`` between its compiled
segments; callbacks (``train.callbacks``) do everything that is not training: best epoch
and early stopping, checkpoints, progress, samples.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from rnn_attn.train.programs import Programs
from rnn_attn.train.steps import TrainState

PyTree = Any


@dataclasses.dataclass
class Run:
    """The host's view of a run in progress; callbacks read and update it.

    Per-seed lists are in ``config.seeds`` order. ``epoch`` counts finished epochs,
    ``batch`` the batches done of the current one; ``step`` is their global count."""

    config: Any  # engine.FitConfig
    objective: Any  # objectives.Objective
    programs: Programs
    num_batches: int
    state: TrainState  # stacked over seeds, on the mesh
    carry: PyTree  # per seed: the epoch's running sums and the non-finite guard
    best_params: PyTree
    epoch: int = 0
    batch: int = 0
    history: list[dict[str, list[float]]] = dataclasses.field(default_factory=list)
    logs: list[dict[str, float]] = dataclasses.field(default_factory=list)
    best_value: list[float] = dataclasses.field(default_factory=list)
    best_epoch: list[int] = dataclasses.field(default_factory=list)
    wait: list[int] = dataclasses.field(default_factory=list)
    stopped: list[bool] = dataclasses.field(default_factory=list)
    step_loss: Any = None  # <float32>[seeds, epochs * num_batches], NaN where not trained

    @property
    def step(self) -> int:
        return self.epoch * self.num_batches + self.batch

    def recorded(self, index: int) -> bool:
        """Whether seed ``index`` trained in the epoch just finished (not stopped early)."""
        return len(self.history[index].get("loss", ())) == self.epoch

    @property
    def done(self) -> bool:
        return self.epoch >= self.config.epochs or all(self.stopped)

    def host_record(self) -> dict[str, Any]:
        """Everything of the run that is not an array (for checkpoints' JSON)."""
        return {"epoch": self.epoch, "batch": self.batch, "history": self.history,
                "best_value": self.best_value, "best_epoch": self.best_epoch,
                "wait": self.wait, "stopped": self.stopped}

    def load_host_record(self, record: Mapping[str, Any]) -> None:
        self.epoch, self.batch = int(record["epoch"]), int(record["batch"])
        self.history = [{k: list(v) for k, v in h.items()} for h in record["history"]]
        self.best_value = [float(v) for v in record["best_value"]]
        self.best_epoch = [int(v) for v in record["best_epoch"]]
        self.wait = [int(v) for v in record["wait"]]
        self.stopped = [bool(v) for v in record["stopped"]]



class Callback:
    """Hooks of ``fit``; each gets the ``Run`` and may read or update it."""

    def on_fit_start(self, run: Run) -> None: ...
    def on_segment_end(self, run: Run) -> None: ...
    def on_epoch_end(self, run: Run) -> None: ...
    def on_fit_end(self, run: Run) -> None: ...
