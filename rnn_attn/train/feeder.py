"""The feeder of a run: its batch plans (``plans.BatchPlan``) built on the host from the
plans of ``feed`` and placed on the mesh, segment by segment, and the inputs of an
evaluation over every example of a split."""

from __future__ import annotations

from collections.abc import Mapping

import jax
import numpy as np
from jax.sharding import Mesh

from rnn_attn.parallel import mesh as meshes
from rnn_attn.train import feed, trials
from rnn_attn.train.plans import BatchPlan
from rnn_attn.train.run import FitConfig, FitData, Run


def batch_shapes(train: feed.Split | feed.Sampler, batch_size: int) -> dict:
    """Shapes of one training batch (for tracing the train step)."""
    if isinstance(train, feed.Sampler):
        key = jax.ShapeDtypeStruct(train.keys.shape[1:], train.keys.dtype)
        batch = dict(jax.eval_shape(train.sample, key))
    else:
        batch = {
            k: jax.ShapeDtypeStruct(
                (batch_size,) + train.arrays[k].shape[1:], train.arrays[k].dtype
            )
            for k in ("inputs", "targets")
        }
    return batch | {"weight": jax.ShapeDtypeStruct((batch_size,), np.float32)}


def _index_plan(
    split: feed.Split,
    index: np.ndarray,
    weight: np.ndarray,
    *,
    host: bool,
    active: np.ndarray | None = None,
) -> BatchPlan:
    """An index plan on the host (fed from the host: the examples themselves)."""
    if host:
        return BatchPlan(
            active=active, examples=feed.gather_on_host(split.arrays, index), weight=weight
        )
    return BatchPlan(active=active, index=index, weight=weight)


def evaluation_inputs(
    split: feed.Split, num_seeds: int, batch_size: int, mesh: Mesh, *, host: bool
) -> tuple[BatchPlan, dict]:
    """``(plan, arrays)`` on the mesh for the evaluation program over every example of
    ``split`` (``host``: the examples are in the plan, else gathered from ``arrays``)."""
    # Never larger than a seed's split: the padding would only cost memory.
    size = meshes.round_up(min(batch_size, split.examples_per_seed()), mesh)
    index, weight = feed.eval_plan(split, num_seeds, size)
    arrays = {} if host else meshes.put(_xy(split.arrays), meshes.replicated(mesh))
    return _index_plan(split, index, weight, host=host).place(mesh), arrays


class Feeder:
    """Places the plans (and, fed from the host, the examples) of one run on the mesh,
    and each trial's hyperparameters (``hyper``; {} when the slots are seeds)."""

    def __init__(self, data: FitData, config: FitConfig, mesh: Mesh):
        self.data, self.config, self.mesh = data, config, mesh
        self.kind = data.feed_kind(config)
        rep = meshes.replicated(mesh)
        self.train_arrays = {} if self.kind != "device" else meshes.put(_xy(data.train.arrays), rep)
        # Each slot's swept hyperparameters, split over the seed axis as the states are.
        self.hyper = meshes.put(trials.hyper_arrays(config), meshes.per_seed(mesh))
        self.val_arrays = self.val_plan = None
        if data.validation is not None:
            self.val_plan, self.val_arrays = evaluation_inputs(
                data.validation,
                len(config.seeds),
                config.eval_batch_size or config.batch_size,
                mesh,
                host=self.kind == "host",
            )
        self._epoch, self._plan = -1, None
        self.active = None  # the last segment's, on the host (to replay a prefix of it)

    def segment(self, run: Run, stop: int, length: int) -> BatchPlan:
        """Batches ``[run.batch, stop)`` of the current epoch, padded to ``length``."""
        active = np.arange(length)[None, :] < stop - run.batch
        active = active & ~np.asarray(run.stopped)[:, None]
        self.active = active
        if self.kind == "sample":
            return self._sampled(run, active).place(self.mesh)
        if self._epoch != run.epoch:
            self._epoch = run.epoch
            self._plan = feed.epoch_plan(
                self.data.train,
                self.config.source_seeds("data"),
                run.epoch,
                self.config.batch_size,
                shuffle=self.config.shuffle,
            )
        index, weight = (x[:, run.batch : stop] for x in self._plan)
        pad = length - (stop - run.batch)
        if pad:
            index = np.concatenate([index, np.repeat(index[:, -1:], pad, 1)], 1)
            weight = np.concatenate(
                [weight, np.zeros((len(weight), pad) + weight.shape[2:], weight.dtype)], 1
            )
        return _index_plan(
            self.data.train, index, weight, host=self.kind == "host", active=active
        ).place(self.mesh)

    def _sampled(self, run: Run, active: np.ndarray) -> BatchPlan:
        """The keys of the segment's steps (global step numbers) for a ``Sampler``."""
        seeds, length = active.shape
        steps = np.broadcast_to(run.step + np.arange(length), (seeds, length))
        weight = np.ones((seeds, length, self.config.batch_size), np.float32)
        return BatchPlan(active=active, key=feed.step_keys(self.data.train, steps), weight=weight)


def _xy(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.asarray(arrays[k]) for k in ("inputs", "targets")}
