"""A sequence model's test on freshly drawn pairs, every seed at once.

Generated tasks (the copy task, the gradient study's sequences) draw their test pairs
from a seed's test key rather than reading a split: ``compile_sampled_test`` compiles the
draw, the forward pass and the scores of one seed for every seed of the mesh at once
(from shapes alone, so it compiles while the models train), and ``sampled_test`` runs it
and turns the counts into rates. A pair counts as an exact match only when every
position of its prediction (the logits' argmax) equals the target.

A model whose output is decoded token by token (a sequence-to-sequence model with an
end token, ``models.decoding``) passes ``decode``: the prediction is then the decoded
rows, scored by ``decoded_scores`` (exact match of the whole row, end token and padding
included; token accuracy over the target's real positions).
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh

from rnn_attn.parallel import devices
from rnn_attn.parallel import mesh as meshes

# (key) -> (inputs, targets <int>[examples, length])
DrawPairs = Callable[[jax.Array], tuple[jax.Array, jax.Array]]
# (params, inputs) -> {"tokens" <int>[examples, length], ...}
Decode = Callable[[Any, jax.Array], dict[str, jax.Array]]


def sequence_scores(logits: jax.Array, targets: jax.Array) -> dict[str, jax.Array]:
    """Counts over ``targets <int>[examples, length]`` and ``logits [examples, length,
    classes]``: ``exact_match`` (pairs right at every position), ``token_accuracy``
    (positions right) and ``loss`` (mean cross-entropy per position), with the
    ``predicted`` tokens."""
    predicted = jnp.argmax(logits, axis=-1)
    hits = predicted == targets
    return {
        "exact_match": jnp.sum(jnp.all(hits, axis=-1)),
        "token_accuracy": jnp.sum(hits),
        "loss": optax.softmax_cross_entropy_with_integer_labels(logits, targets).mean(),
        "predicted": predicted,
    }


def decoded_scores(predicted: jax.Array, targets: jax.Array, pad_id: int) -> dict[str, jax.Array]:
    """Counts over decoded rows ``predicted`` and ``targets``, both ``<int>[examples,
    length]`` (tokens, end token, then ``pad_id``): ``exact_match`` (rows equal at every
    position), ``token_accuracy`` (target positions other than padding decoded right) and
    ``tokens`` (how many such positions)."""
    real = targets != pad_id
    hits = predicted == targets
    return {
        "exact_match": jnp.sum(jnp.all(hits, axis=-1)),
        "token_accuracy": jnp.sum(hits & real),
        "tokens": jnp.sum(real),
        "predicted": predicted,
    }


def compile_sampled_test(
    model,
    draw: DrawPairs,
    num_seeds: int,
    mesh: Mesh,
    compiler_options=None,
    *,
    decode: Decode | None = None,
    pad_id: int = 0,
):
    """The compiled test: ``(params [seeds, ...], keys <uint32>[seeds, 2])`` -> per seed
    ``sequence_scores`` of ``model.apply(params, inputs, return_weights=True)`` on the
    pairs ``draw(key)``, with the ``inputs`` and ``targets`` (and ``attention_weights
    [examples, out, in]`` when the model returns them). With ``decode``: the
    ``decoded_scores`` of ``decode(params, inputs)["tokens"]`` (``pad_id``: the targets'
    padding), with every other output of ``decode`` beside them."""

    def decoded_test(params, key):
        inputs, targets = draw(key)
        decoded = dict(decode(params, inputs))
        scores = decoded_scores(decoded.pop("tokens"), targets, pad_id)
        return decoded | scores | {"inputs": inputs, "targets": targets}

    def test(params, key):
        inputs, targets = draw(key)
        logits, weights = model.apply(params, inputs, return_weights=True)
        out = sequence_scores(logits, targets) | {"inputs": inputs, "targets": targets}
        return out if weights is None else out | {"attention_weights": weights}

    return devices.compile_per_seed(
        test if decode is None else decoded_test,
        model.init,
        num_seeds,
        mesh,
        compiler_options=compiler_options,
    )


def sampled_test(program, params, keys: np.ndarray, mesh: Mesh) -> dict[str, np.ndarray]:
    """``program`` (``compile_sampled_test``) run on the seeds' stacked ``params`` and test
    ``keys``: ``exact_match`` and ``token_accuracy`` as rates ``<float>[seeds]``, ``loss``
    as float64 (none when decoded), and the drawn pairs and predictions as they came."""
    keys = meshes.put(keys, meshes.per_seed(mesh))
    out = {k: np.asarray(v) for k, v in meshes.fetch(program(params, keys)).items()}
    examples, length = out["targets"].shape[1:]
    out["exact_match"] = out["exact_match"] / examples
    if "tokens" in out:  # decoded: over the targets' real positions
        out["token_accuracy"] = out["token_accuracy"] / out.pop("tokens")
    else:
        out["token_accuracy"] = out["token_accuracy"] / (examples * length)
        out["loss"] = out["loss"].astype(np.float64)
    return out


def compile_in_background(build: Callable[..., Any], items: Mapping[str, Any]) -> dict:
    """``{name: Future of build(name, item)}``, built one after another on a thread of
    their own: a run's test programs need only shapes, so they compile while its models
    train (``.result()`` waits for one)."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    futures = {name: pool.submit(build, name, item) for name, item in items.items()}
    pool.shutdown(wait=False)
    return futures
