"""What happens between the engine's compiled segments: best epoch and early stopping,
checkpoints, progress, and anything an experiment adds after an epoch."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from rnn_attn.train.checkpoints import Checkpointer
from rnn_attn.train.run import Callback, Run
from rnn_attn.train.workdir import check_resume_compatible, checkpoints_exist


class BestEpoch(Callback):
    """Keeps each seed's best epoch by ``run.config.monitor`` (its value, number and
    parameters) and, with ``patience``, stops a seed after that many epochs without
    improvement (the other seeds go on; a stopped seed's state no longer changes)."""

    def on_epoch_end(self, run: Run) -> None:
        config = run.config
        improved = np.zeros(len(config.seeds), bool)
        for i, logs in enumerate(run.logs):
            if not run.recorded(i):
                continue  # stopped before this epoch
            value = logs.get(config.monitor, math.nan)
            if _is_better(
                value, run.best_value[i], config.monitor in run.objective.higher_is_better
            ):
                run.best_value[i], run.best_epoch[i], run.wait[i] = value, run.epoch, 0
                improved[i] = True
            else:
                run.wait[i] += 1
                run.stopped[i] = config.patience > 0 and run.wait[i] >= config.patience
        if improved.any():
            run.best_params = run.programs.select(improved, run.state.params, run.best_params)


def _is_better(value: float, best: float, higher: bool) -> bool:
    if math.isnan(best):
        return not math.isnan(value)
    return value > best if higher else value < best


class Checkpointing(Callback):
    """Orbax checkpoints of the whole run (every seed's state, best parameters and epoch
    sums; the host record as JSON) after every epoch and, with ``checkpoint_every``,
    within epochs. With ``resume`` the run continues from the newest readable
    checkpoint (a corrupt newest one is reported and skipped) and ends bit-identical to
    an uninterrupted run; a new run into a directory with checkpoints is refused.
    Checkpoints are numbered by the run's global step. Use as a context manager."""

    def __init__(self, directory: str, record: Mapping[str, Any], *, resume: bool = False):
        self.checkpointer = Checkpointer(directory)
        self.record, self.resume = dict(record), resume

    def __enter__(self) -> Checkpointing:
        return self

    def __exit__(self, *exc) -> None:
        self.checkpointer.close()

    @staticmethod
    def _tree(run: Run) -> dict[str, Any]:
        return {
            "state": run.state,
            "best_params": run.best_params,
            "carry": run.carry,
            "step_loss": run.step_loss,
        }

    def on_fit_start(self, run: Run) -> None:
        latest = self.checkpointer.latest_step()
        if latest is None:
            return
        if not self.resume:
            raise checkpoints_exist(self.checkpointer.directory, latest)
        # The config first: another config's arrays may not even read back.
        check_resume_compatible(self.checkpointer.newest_record().get("config", {}), self.record)
        _, tree, saved = self.checkpointer.restore_newest_good(self._tree(run))
        check_resume_compatible(saved.get("config", {}), self.record)
        run.state, run.best_params, run.carry = tree["state"], tree["best_params"], tree["carry"]
        run.step_loss = np.array(tree["step_loss"])
        run.load_host_record(saved)

    def save(self, run: Run) -> None:
        self.checkpointer.save(
            run.step, self._tree(run), {"config": self.record, **run.host_record()}
        )

    def on_segment_end(self, run: Run) -> None:
        every = run.config.checkpoint_every
        if every and run.batch < run.num_batches and run.step % every == 0:
            self.save(run)

    def on_epoch_closed(self, run: Run) -> None:
        self.save(run)  # after every on_epoch_end: with what the callbacks recorded

    def on_fit_end(self, run: Run) -> None:
        self.checkpointer.wait()


class ProgressLog(Callback):
    """One line per seed after every epoch (as Keras's ``verbose=2``), and with ``bar`` a
    tqdm bar over the run's steps on stderr."""

    def __init__(self, name: str = "", *, bar: bool = False):
        self.name, self.bar_enabled, self.bar = name, bar, None

    def on_fit_start(self, run: Run) -> None:
        if self.bar_enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=run.config.epochs * run.num_batches,
                initial=run.step,
                desc=self.name or "training",
                unit="step",
                file=sys.stderr,
                dynamic_ncols=True,
                leave=False,
            )

    def on_segment_end(self, run: Run) -> None:
        if self.bar is not None:
            self.bar.update(run.step - self.bar.n)

    def on_epoch_end(self, run: Run) -> None:
        prefix = f"{self.name} " if self.name else ""
        for i, logs in enumerate(run.logs):
            if run.recorded(i):
                line = f"{prefix}{run.config.label(i)} epoch {run.epoch}/{run.config.epochs}: "
                line += ", ".join(f"{k} {v:.4f}" for k, v in logs.items())
                (self.bar.write if self.bar is not None else print)(line)
        sys.stdout.flush()

    def on_fit_end(self, run: Run) -> None:
        if self.bar is not None:
            self.bar.close()


class EpochEnd(Callback):
    """Calls ``fn(run)`` after every epoch (e.g. to sample text from each seed)."""

    def __init__(self, fn: Callable[[Run], None]):
        self.fn = fn

    def on_epoch_end(self, run: Run) -> None:
        self.fn(run)
