"""Which examples each seed sees, in which order: index plans built on the host.

A ``Split`` is arrays shared by every seed (``inputs``, ``targets``, each ``[n, ...]``)
and, optionally, the rows each seed uses (``rows <int>[seeds, n_seed]``: e.g. each seed's
own 200 training reviews). The engine never moves examples around on the host: it
sends, per segment of steps, the row numbers of every batch of every seed
(``<int32>[seeds, steps, batch]``) and gathers the examples on the device.

Epoch ``e`` of the seed whose data seed is ``s`` (its seed number unless the run varies
its sources separately: ``FitConfig.source_seeds``) visits its rows in the order
``epoch_order(n, seed=s, epoch=e)``, so the order depends only on (data seed, epoch): a
resumed run, or the same seed on another mesh, sees the same batches.

A ``Sampler`` instead draws every training batch afresh on the device (the copy task):
the batch of global step ``t`` of seed ``i`` is ``sample(fold_in(keys[i], t))``, so it too
depends only on (seed, step).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import jax
import numpy as np

from rnn_attn.data.batching import epoch_order
from rnn_attn.errors import ConfigError
from rnn_attn.nn.layers import check_token_ids


@dataclasses.dataclass(frozen=True)
class Split:
    """Examples of one split (see the module doc)."""

    arrays: Mapping[str, np.ndarray]
    rows: np.ndarray | None = None  # <int>[seeds, n_seed]; None: every row, every seed

    def __post_init__(self):
        lengths = {k: len(v) for k, v in self.arrays.items()}
        if not {"inputs", "targets"} <= set(lengths):
            raise ConfigError(f"a split needs 'inputs' and 'targets' arrays, got {sorted(lengths)}")
        if len(set(lengths.values())) != 1:
            raise ConfigError(f"a split's arrays differ in length: {lengths}")
        if next(iter(lengths.values())) == 0:
            raise ConfigError("a split has no examples; expected at least one")
        if self.rows is not None and (np.ndim(self.rows) != 2 or np.size(self.rows) == 0):
            raise ConfigError(
                f"a split's rows must be <int>[seeds, n >= 1], got shape {np.shape(self.rows)}"
            )

    @property
    def num_rows(self) -> int:
        return len(self.arrays["targets"])

    def examples_per_seed(self) -> int:
        return self.num_rows if self.rows is None else self.rows.shape[1]

    def seed_rows(self, index: int) -> np.ndarray:
        return np.arange(self.num_rows) if self.rows is None else np.asarray(self.rows[index])


@dataclasses.dataclass(frozen=True)
class Sampler:
    """Training data drawn on the device: ``sample(key) -> {"inputs", "targets"}``, one
    batch of ``batch_size`` examples (a pure ``jax.random`` function); ``keys`` are the
    seeds' data keys ``[seeds, ...]``; an epoch is ``steps_per_epoch`` steps."""

    sample: Callable[[jax.Array], Mapping[str, jax.Array]]
    keys: jax.Array
    steps_per_epoch: int

    def __post_init__(self):
        if not isinstance(self.steps_per_epoch, int) or self.steps_per_epoch < 1:
            raise ConfigError(f"a sampler needs steps_per_epoch >= 1, got {self.steps_per_epoch!r}")


def step_keys(sampler: Sampler, steps: np.ndarray) -> np.ndarray:
    """``fold_in(keys[i], steps[i, j])`` for every seed ``i`` and step ``j``:
    ``[seeds, S, ...]`` key data, the per-step keys of a segment."""
    return np.asarray(_fold_steps(sampler.keys, np.asarray(steps, np.int32)))


_fold_steps = jax.jit(jax.vmap(jax.vmap(jax.random.fold_in, (None, 0)), (0, 0)))


def check_rows(split: Split, num_seeds: int, name: str) -> None:
    if split.rows is not None and split.rows.shape[0] != num_seeds:
        raise ConfigError(
            f"the {name} split has rows for {split.rows.shape[0]} seeds; expected {num_seeds}"
        )


def vocabulary_of(model) -> int | None:
    """The vocabulary size of a model that reads token ids (its integer ``vocab_size``),
    else None."""
    size = getattr(model, "vocab_size", None)
    return size if isinstance(size, int) and not isinstance(size, bool) else None


def check_ids(split: Split, vocab_size: int | None, name: str) -> None:
    """ConfigError naming the first token id of ``split``'s integer inputs outside
    ``[0, vocab_size)`` (its row and position); nothing without a vocabulary or for
    float inputs. On the host, before the compiled programs, whose gathers would clamp
    such an id without a word (``layers.check_token_ids``)."""
    if vocab_size is not None:
        check_token_ids(split.arrays["inputs"], vocab_size, f"the {name} split's token ids")


def batches(rows: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """``rows <int>[seeds, n]`` cut into ``(index, weight)``, each ``[seeds, ceil(n / b), b]``.

    The last batch is padded to full size with its own first row and weight 0 (so every
    batch has one shape, and padding changes no sum)."""
    seeds, n = rows.shape
    num = -(-n // batch_size)
    index = np.empty((seeds, num * batch_size), np.int32)
    index[:, :n] = rows
    index[:, n:] = rows[:, (num - 1) * batch_size][:, None]
    weight = np.zeros((seeds, num * batch_size), np.float32)
    weight[:, :n] = 1.0
    return (index.reshape(seeds, num, batch_size), weight.reshape(seeds, num, batch_size))


def epoch_plan(
    split: Split, seeds: Sequence[int], epoch: int, batch_size: int, *, shuffle: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Every seed's training batches of one epoch: ``batches`` of its rows in the order
    ``epoch_order(n, seed=seeds[i], epoch=epoch)`` (``seeds``: each seed's data seed)."""
    n = split.examples_per_seed()
    rows = np.stack(
        [
            split.seed_rows(i)[epoch_order(n, seed=s, epoch=epoch, shuffle=shuffle)]
            for i, s in enumerate(seeds)
        ]
    )
    return batches(rows, batch_size)


def eval_plan(split: Split, num_seeds: int, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every example of each seed's split once, in order."""
    rows = np.stack([split.seed_rows(i) for i in range(num_seeds)])
    return batches(rows, batch_size)


def gather_on_host(arrays: Mapping[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    """The examples of an index plan, for data fed from the host."""
    return {k: np.asarray(arrays[k])[index] for k in ("inputs", "targets")}
