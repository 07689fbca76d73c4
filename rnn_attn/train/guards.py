"""The guards of a run: before it starts, that its arrays fit in memory (``check_memory``);
after each segment under ``on_nonfinite="stop"``, whether a seed went non-finite
(``nonfinite``) and, if so, at which step (``locate_nonfinite``); after each epoch, that
every training seed took at least one step (``check_epoch_trained``: not every step
skipped as non-finite); at the end, that every seed's parameters changed
(``check_parameters_changed`` against the ``digests`` of the initial ones)."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh

from rnn_attn.errors import ConfigError, DegenerateRunError, NonFiniteError
from rnn_attn.memory import device_free_bytes
from rnn_attn.parallel import mesh as meshes
from rnn_attn.train import feed
from rnn_attn.train.feeder import Feeder
from rnn_attn.train.plans import BatchPlan
from rnn_attn.train.run import FitConfig, FitData, Run
from rnn_attn.train.steps import TrainState


def _nbytes(tree) -> int:
    return sum(int(np.prod(x.shape)) * np.dtype(x.dtype).itemsize for x in jax.tree.leaves(tree))


def free_memory(mesh: Mesh) -> int:
    """Bytes free for the run's arrays: the host's available memory on CPU; on an
    accelerator, the least free memory of one device times the mesh's devices (the arrays
    are spread over them)."""
    return device_free_bytes(list(mesh.devices.flat))


def check_memory(
    stacked: TrainState, data: FitData, config: FitConfig, num_batches: int, mesh: Mesh
) -> None:
    """Refuses (ConfigError, with the figures) a run whose largest arrays would take more
    than half the free memory (``free_memory``): every seed's state about three times over
    (the state, the copy kept to locate a NaN, the best parameters), a segment's batches
    (drawn up front from a sampler; or the index plan and one gathered batch) and the
    splits' device copies. Activations are not counted: the estimate is a floor."""
    seeds, steps = len(config.seeds), config.segment_length(num_batches)
    if isinstance(data.train, feed.Sampler):
        one = jax.eval_shape(
            data.train.sample,
            jax.ShapeDtypeStruct(data.train.keys.shape[1:], data.train.keys.dtype),
        )
        batches = seeds * steps * _nbytes(one)
    else:  # the index plan, and one gathered batch of every seed
        per_example = sum(a.nbytes // max(len(a), 1) for a in data.train.arrays.values())
        batches = seeds * config.batch_size * (steps * 4 + per_example)
    splits = sum(
        _nbytes(split.arrays)
        for split in (data.train, data.validation)
        if isinstance(split, feed.Split)
    )
    need = 3 * _nbytes(stacked) + batches + splits
    free = free_memory(mesh)
    if need > free / 2:
        slots, fewer = (
            ("trials'", "fewer --seeds or swept values")
            if config.hyperparameters
            else ("seeds'", "fewer --seeds")
        )
        raise ConfigError(
            f"this run needs at least {need / 2**30:.1f} GiB ({seeds} {slots} states "
            f"{3 * _nbytes(stacked) / 2**30:.1f} GiB, a segment's batches "
            f"{batches / 2**30:.1f} GiB, data {splits / 2**30:.1f} GiB), more than half "
            f"the {free / 2**30:.1f} GiB free; expected a smaller model, batch, "
            f"--checkpoint-every or {fewer}"
            + (" (a smaller --seeds-by-source grid)" if config.sources else "")
        )


def nonfinite(run: Run, state: TrainState, carry: Mapping[str, Any]) -> np.ndarray:
    """``<bool>[seeds]``: the seed halted on a non-finite loss, or its state is no longer
    finite (a non-finite gradient was applied)."""
    halted = np.asarray(meshes.fetch(carry["halted"]))
    return halted | ~np.asarray(meshes.fetch(run.programs.finite(state)))


def _replay(
    run: Run, feeder: Feeder, start: tuple, plan: BatchPlan, prefix: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The segment run again from its ``start`` (state, carry) with only each seed's
    first ``prefix[i]`` steps active: ``(non-finite, halted on the loss)`` per seed."""
    mask = feeder.active & (np.arange(feeder.active.shape[1])[None, :] < prefix[:, None])
    plan = dataclasses.replace(plan, active=BatchPlan(active=mask).place(feeder.mesh).active)
    state, carry, _ = run.programs.segment(*start, plan, feeder.train_arrays, feeder.hyper)
    return nonfinite(run, state, carry), np.asarray(meshes.fetch(carry["halted"]))


def locate_nonfinite(
    run: Run, feeder: Feeder, start: tuple, plan: BatchPlan, flagged: np.ndarray, taken: int
) -> NonFiniteError:
    """The error naming the first flagged seed's first non-finite step, found by
    bisection over replayed prefixes of the segment (the same program, so the same
    numbers; NaN absorbs every later update, so "non-finite after k steps" is monotone
    in k)."""
    lo, hi = np.zeros(len(flagged), int), np.where(flagged, taken, 0)
    while np.any(hi - lo > 1):
        unsettled = hi - lo > 1
        mid = np.where(unsettled, (lo + hi) // 2, hi)
        bad, _ = _replay(run, feeder, start, plan, mid)
        hi, lo = np.where(unsettled & bad, mid, hi), np.where(unsettled & ~bad, mid, lo)
    _, halted = _replay(run, feeder, start, plan, hi)
    i = int(np.flatnonzero(flagged)[0])
    step = run.step + int(lo[i])
    epoch, batch = divmod(step, run.num_batches)
    what = "the loss" if halted[i] else "the gradients (the loss was finite)"
    return NonFiniteError(
        f"{run.config.label(i)}: training step {step} (epoch {epoch + 1}, batch "
        f"{batch + 1}): {what} went NaN or infinite; the run stopped there and nothing "
        f"after the last checkpoint was saved (on_nonfinite='skip' drops such steps "
        f"instead)"
    )


def digests(params: Any) -> list[bytes]:
    """One digest per seed of the stacked host (numpy) ``params``: every leaf's bytes, so
    two digests are equal only if every parameter is bit-identical."""
    leaves = [np.asarray(x) for x in jax.tree.leaves(params)]
    out = []
    for i in range(len(leaves[0]) if leaves else 0):
        h = hashlib.blake2b(digest_size=16)
        for leaf in leaves:
            h.update(np.ascontiguousarray(leaf[i]).tobytes())
        out.append(h.digest())
    return out


def check_parameters_changed(run: Run, initial: list[bytes]) -> None:
    """DegenerateRunError naming the first seed whose parameters after training are
    bit-identical to its initial ones (``initial``: their ``digests``): every update was
    zero or too small to change a float32 value."""
    same = [a == b for a, b in zip(digests(meshes.fetch(run.state.params)), initial, strict=True)]
    if any(same):
        slots = [i for i, unchanged in enumerate(same) if unchanged]
        seeds = [run.config.seeds[i] for i in slots]
        others = f" (seeds {seeds[1:]} too)" if len(seeds) > 1 else ""
        raise DegenerateRunError(
            f"{run.config.label(slots[0])}: not one parameter changed in {run.step} training "
            f"steps{others}: every update was zero or too small to move a float32 "
            f"value (a learning rate too small, gradients that are all zero, or every step "
            f"skipped); expected training to change the model"
        )


def check_epoch_trained(run: Run, index: int, sums: Mapping[str, Any], skipped: float) -> None:
    """DegenerateRunError when seed ``index`` trained in the epoch just run but its sums
    count no example: every step was skipped as non-finite, so its training figures
    would be means of zero samples."""
    if float(sums["count"]) > 0:
        return
    seed, epoch = run.config.label(index), run.epoch + 1
    if not skipped:  # the plans give every batch a weight: not reached
        raise DegenerateRunError(
            f"{seed}: epoch {epoch} counted no training example; its training "
            f"figures would be means of zero samples"
        )
    raise DegenerateRunError(
        f"{seed}: every one of the {int(skipped)} training steps of epoch {epoch} was "
        f"skipped as non-finite (--on-nonfinite skip), so the epoch's training figures "
        f"would be means of zero samples and the parameters did not move; expected finite "
        f"steps (a smaller learning rate, or --on-nonfinite stop to find the first bad one)"
    )
