"""Each seed's training and validation curves, live, in TensorBoard event files.

``TensorBoardCurves(logdir, model_name)`` is a ``Callback`` for ``engine.fit`` (or
``runs.train_models``' ``callbacks(name)``) that writes, with tensorboardX's
``SummaryWriter`` (no TensorFlow), one scalar per seed and metric under the tag
``<model>/seed_<n>/<metric>``, ``n`` the seed's number (``config.seeds[i]``) and
``metric`` a key of the engine's logs (``loss``, ``accuracy``, ``val_loss``, ``mae``, ...).
Watch them with ``tensorboard --logdir <workdir>/tensorboard``.

Two modes (``per``):

- ``"epoch"``: after every epoch, every logged metric of every seed that trained in it
  (a seed stopped early has no more points), at step = the epoch number (1-based);
- ``"segment"``: for a run that trains one long epoch cut into segments
  (``checkpoint_every``; the copy task's ``feed.Sampler``): after every segment, each
  seed's mean training loss over the segment's steps (``run.step_loss``; steps skipped
  as non-finite left out), tag ``.../loss``, at step = the optimizer step at the
  segment's end; at an epoch's end, its other metrics (``val_*``, ``accuracy``, ...;
  not ``loss``, which the segments already trace) at that same optimizer step;
- ``"auto"`` (default): ``"segment"`` when ``config.epochs == 1``, else ``"epoch"``.

Layout: one writer, and so one TensorBoard run, per model: ``<logdir>/<model>/``. Models
train one after another, each with its own callback (``callbacks(name)``); a directory
of its own lets TensorBoard's run selector show or hide a model, and keeps one model's
restart marker (below) from hiding another's points.

Only the primary process writes (``parallel.distributed.is_primary``). Nothing is fetched
from the device: the values are the host's copies the engine already made (``run.logs``,
``run.step_loss``). ``add_scalar`` only queues an event; the writer's own thread writes
and flushes it within ``FLUSH_SECS`` (1 s, well inside TensorBoard's 5 s reload), so the
training thread never waits on the disk. ``on_fit_end`` (or leaving a ``with`` block)
closes the writer, writing whatever is queued.

On resume: the writer is opened at the run's first point, a new event file marked as a
restart at that step (``purge_step``: a ``SessionLog.START`` event). The points after the
checkpoint are written again (a resumed run repeats them bit for bit); TensorBoard's
readers keep only the newest point of a step: its data server drops a series' points at
or after a step written again, and its Python reader (``EventAccumulator``) drops, at the
restart marker, every point of the run at or after that step. Nothing shows twice.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from rnn_attn.errors import ConfigError
from rnn_attn.parallel import distributed
from rnn_attn.train.run import Callback, Run

MODES = ("auto", "epoch", "segment")
FLUSH_SECS = 1


class TensorBoardCurves(Callback):
    """Writes each seed's curves of one model into ``<logdir>/<model_name>/`` (see the
    module's docstring for the tags, the modes ``per`` and what a resume does). Also a
    context manager, closing the writer when a fit fails."""

    def __init__(self, logdir: str | os.PathLike, model_name: str, *, per: str = "auto"):
        if per not in MODES:
            raise ConfigError(f"per must be one of {MODES}, got {per!r}")
        if (
            not model_name
            or model_name in (".", "..")
            or "/" in model_name
            or (os.sep in model_name)
        ):
            raise ConfigError(f"model_name must name one directory, got {model_name!r}")
        self.directory = os.path.join(os.fspath(logdir), model_name)
        self.model_name, self.per = model_name, per
        self.mode = per  # "auto" resolved at on_fit_start
        self.writer: Any = None  # tensorboardX.SummaryWriter, opened at the first point
        self.primary = True

    def __enter__(self) -> TensorBoardCurves:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def on_fit_start(self, run: Run) -> None:
        self.close()  # a writer left open by a failed fit: the next one starts a new file
        self.primary = distributed.is_primary()
        self.mode = (
            self.per if self.per != "auto" else ("segment" if run.config.epochs == 1 else "epoch")
        )

    def on_segment_end(self, run: Run) -> None:
        if self.mode != "segment":
            return
        start = segment_start(run)
        points = []
        for i in range(len(run.config.seeds)):
            if run.stopped[i]:
                continue  # stopped at an earlier epoch's end: it no longer trains
            losses = run.step_loss[i, start : run.step]
            losses = losses[np.isfinite(losses)]
            if losses.size:
                mean = float(np.mean(losses, dtype=np.float64))
                points.append((self.tag(run, i, "loss"), mean))
        self._write(points, run.step)

    def on_epoch_end(self, run: Run) -> None:
        segments = self.mode == "segment"
        points = [
            (self.tag(run, i, k), v)
            for i, logs in enumerate(run.logs)
            if run.recorded(i)
            for k, v in logs.items()
            if not (segments and k == "loss")
        ]
        self._write(points, run.step if segments else run.epoch)

    def on_fit_end(self, run: Run) -> None:
        self.close()

    def tag(self, run: Run, index: int, metric: str) -> str:
        """``<model>/seed_<n>/<metric>``; a trial's adds its setting to the seed:
        ``seed_<n>_learning_rate_0.01``."""
        setting = "".join(f"_{k}_{v[index]:g}" for k, v in run.config.hyperparameters)
        return f"{self.model_name}/seed_{run.config.seeds[index]}{setting}/{metric}"

    def _write(self, points: list[tuple[str, float]], step: int) -> None:
        if not points or not self.primary:
            return
        if self.writer is None:
            self.writer = _open_writer(self.directory, step)
        for tag, value in points:
            self.writer.add_scalar(tag, value, step)


def _open_writer(directory: str, first_step: int):
    """A new event file in ``directory``, marked as a restart at ``first_step``.

    tensorboardX names a file by the second it was opened and the host, and opens it for
    writing afresh: the suffix (nanoseconds, pid) keeps a second writer in the same second
    (a quick resume) from overwriting the first, and sorts it after it (readers read a
    run's files in name order)."""
    from tensorboardX import SummaryWriter

    return SummaryWriter(
        directory,
        purge_step=first_step,
        flush_secs=FLUSH_SECS,
        filename_suffix=f".{time.time_ns():020d}.{os.getpid()}",
    )


def segment_start(run: Run) -> int:
    """The first step of the segment that just ended at ``run.step``: the epoch's start or
    the last multiple of ``checkpoint_every`` before it, whichever is later (the engine
    cuts segments there, see ``engine._segment_stop``)."""
    epoch_start = run.epoch * run.num_batches
    every = run.config.checkpoint_every
    if not every:
        return epoch_start
    return max(epoch_start, (run.step - 1) // every * every)
