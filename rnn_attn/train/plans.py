"""A batch plan: what one compiled program reads per step, for every seed, and how it lies
on the ``(seed, data)`` mesh.

A ``BatchPlan`` holds ``[seeds, steps, ...]`` arrays: the ``weight`` of every example of
every batch and, by how the batches arrive (the feed), the rows to gather from arrays on
the device (``index``), the examples themselves (``examples``, fed from the host or drawn
by a sampler) or the keys to draw them from (``key``); a training plan also says which
steps are ``active``. Its layout on the mesh is written once, on its fields
(``shardings``): everything split over ``seed``, and each batch also over ``data``. The
feeder places plans with it and the programs declare their inputs with it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import jax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from rnn_attn.parallel import mesh as meshes

FEEDS = ("device", "host", "sample")  # rows gathered on the device, examples sent, drawn
STEPS = P(meshes.SEED, None, meshes.DATA)  # [seeds, steps, batch, ...]: each batch split
SEEDS = P(meshes.SEED)  # [seeds, ...]: a seed's steps whole on its devices


def _field(spec: P) -> Any:
    return dataclasses.field(default=None, metadata={"spec": spec})


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class BatchPlan:
    """The inputs of ``S`` steps of every seed (the module doc); absent fields are None.

    A pytree (the arrays are its leaves, an absent field has none), so a program scans,
    vmaps and maps over it; one step of one seed is ``[batch, ...]``. The fields are in
    the alphabetical order of their names, as the leaves of the dicts they replace."""

    active: Any = _field(SEEDS)  # <bool>[seeds, S]: the step trains (training plans)
    examples: Mapping[str, Any] | None = _field(STEPS)  # {"inputs", "targets"}: [seeds, S, b, ..]
    index: Any = _field(STEPS)  # <int32>[seeds, S, b]: rows of the arrays on the device
    key: Any = _field(SEEDS)  # [seeds, S, ...]: key data of each step's drawn batch
    weight: Any = _field(STEPS)  # <float32>[seeds, S, b]: 0 for a padding example

    @classmethod
    def of_feed(cls, feed: str, *, training: bool) -> BatchPlan:
        """The fields a plan of ``feed`` has (each leaf a placeholder 0), for its
        ``shardings`` before any plan exists. An evaluation reads a split: its rows on the
        device, or (``host``) its examples; it has no ``active`` steps."""
        if feed not in FEEDS:
            raise ValueError(f"feed must be one of {FEEDS}, got {feed!r}")
        if not training and feed == "sample":
            feed = "device"
        return cls(
            active=0 if training else None,
            examples={"inputs": 0, "targets": 0} if feed == "host" else None,
            index=0 if feed == "device" else None,
            key=0 if feed == "sample" else None,
            weight=0,
        )

    def shardings(self, mesh: Mesh) -> BatchPlan:
        """The plan's layout on ``mesh``: the same structure, a ``NamedSharding`` for
        every array (the ``spec`` of its field)."""
        return BatchPlan(
            **{
                f.name: jax.tree.map(
                    lambda _, spec=f.metadata["spec"]: NamedSharding(mesh, spec),
                    getattr(self, f.name),
                )
                for f in dataclasses.fields(self)
            }
        )

    def place(self, mesh: Mesh) -> BatchPlan:
        """The plan's host arrays put on ``mesh`` with its ``shardings``."""
        return jax.tree.map(meshes.put, self, self.shardings(mesh))
