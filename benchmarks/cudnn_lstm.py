"""Our LSTM (``rnn_attn.nn.recurrent``'s scan) beside ``jax.experimental.rnn``'s cuDNN
LSTM on the same Keras-layout weights (``rnn_attn.interop.cudnn``): values and gradients
against the bounds, and the median time of one forward + backward pass.

    python benchmarks/cudnn_lstm.py [--shapes 128,500,32,32 512,500,128,256]
        [--repeats 20] [--budget-s 150] [--out FILE.json] [--dry-run]

A shape is ``batch,maxlen,features,units``; the first is document 002's IMDB LSTM
(batch 128, 500 steps, 32-wide embeddings, 32 units), the lengths right-padded, drawn
from ``maxlen/2`` to ``maxlen``. The check (values 1e-5, gradients 1e-4 relative, float32)
runs at ``Precision.HIGHEST`` on both sides (cuDNN: no TF32), plus a stacked
bidirectional layer; the timing at JAX's default precision, each side jitted:
``ours`` (the generic scan a feature-input layer takes), ``ours_fused``
(``kernel_choice("fused")``: ``rnn_attn.nn.fast_lstm``) and ``cudnn`` (its time
includes packing our params into its weight vector, ``to_cudnn``). Off a CUDA GPU
cuDNN cannot run: the check then runs jax's ``lstm_ref`` on the same packed weights and
says so, and no cuDNN time is reported. ``--dry-run``: tiny shapes, 2 repeats.
Prints one ``RESULT {json}`` line.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import _flags

BOUNDS = {"values": 1e-5, "gradients": 1e-4}
SHAPES = ((128, 500, 32, 32), (512, 500, 128, 256))
STACKED = (16, 60, 8, 16)  # the 2-layer bidirectional check's shape
DRY_SHAPES = ((4, 12, 3, 5),)
DRY_STACKED = (3, 6, 2, 4)
RESULT = "RESULT "


def parse_args(argv: list[str]):
    parser = _flags.parser(__doc__)
    parser.add_argument("--shapes", type=_flags.counts(1), nargs="+", default=None)
    parser.add_argument("--repeats", type=_flags.count(1), default=20)
    parser.add_argument("--budget-s", type=_flags.positive, default=150.0)
    parser.add_argument("--out", default="", help="also write the result as JSON here")
    parser.add_argument("--dry-run", action="store_true", help="tiny shapes, 2 repeats")
    args = parser.parse_args(argv)
    if args.shapes and any(len(s) != 4 for s in args.shapes):
        parser.error("a shape is batch,maxlen,features,units")
    return args


def problem(shape, num_layers: int = 1, bidirectional: bool = False, seed: int = 0):
    """``(cell, layers, inputs [b, t, f], lengths [b])`` of a shape; the biases random."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from rnn_attn.nn import cells

    batch, time_, features, units = shape
    cell = cells.LSTMCell(units)
    keys = iter(jax.random.split(jax.random.key(seed), 4 * num_layers))
    d = 2 if bidirectional else 1

    def params(i):
        p = cell.init(next(keys), features if i == 0 else d * units)
        return p | {"bias": p["bias"] + 0.5 * jax.random.normal(next(keys), p["bias"].shape)}

    layers = [
        {"forward": params(i), "backward": params(i)} if bidirectional else params(i)
        for i in range(num_layers)
    ]
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.normal(size=(batch, time_, features)), jnp.float32)
    lengths = rng.integers(max(1, time_ // 2), time_ + 1, size=batch).astype(np.int32)
    lengths[0] = time_
    return cell, layers, x, jnp.asarray(lengths)


def check(shape, num_layers: int = 1, bidirectional: bool = False) -> dict:
    """``cudnn.compare`` at ``Precision.HIGHEST``: the differences and whether each is
    within its bound; ``implementation`` says whether cuDNN or ``lstm_ref`` ran."""
    import jax

    from rnn_attn.interop import cudnn

    implementation = "cudnn" if cudnn.on_cuda() else "reference"
    highest = implementation == "cudnn" and cudnn.takes_precision()
    precision = "HIGHEST" if highest else None
    if implementation == "cudnn" and not highest:
        precision = "not settable in this JAX: cuDNN may use TF32"
    cell, layers, x, lengths = problem(shape, num_layers, bidirectional)
    t0 = time.perf_counter()
    with jax.default_matmul_precision("highest"):
        diffs = cudnn.compare(
            cell,
            layers,
            x,
            lengths,
            bidirectional=bidirectional,
            implementation=implementation,
            precision=jax.lax.Precision.HIGHEST if highest else None,
        )
    within = {
        name: value <= BOUNDS["gradients" if name.startswith("grad") else "values"]
        for name, value in diffs.items()
    }
    return {
        "shape": list(shape),
        "num_layers": num_layers,
        "bidirectional": bidirectional,
        "implementation": implementation,
        "cudnn_precision": precision,
        "max_relative_difference": diffs,
        "within_bounds": within,
        "ok": all(within.values()),
        "seconds": time.perf_counter() - t0,
    }


def fwd_bwd(run, cell, layers, x, lengths, kernels=None):
    """``(step, compile_s)``: the jitted gradient of a loss of ``run``'s outputs and final
    states w.r.t. the inputs and the params; ``step()`` runs it and blocks."""
    import contextlib

    import jax

    def loss(x, params):
        y, (h, c) = run(cell, params, x, lengths)
        return y.sum() + h.sum() + c.sum()

    t0 = time.perf_counter()
    with kernels() if kernels else contextlib.nullcontext():
        compiled = jax.jit(jax.grad(loss, argnums=(0, 1))).lower(x, layers).compile()
    compile_s = time.perf_counter() - t0

    def step():
        jax.block_until_ready(compiled(x, layers))

    return step, compile_s


def runners() -> dict:
    """The timed implementations on this device: name -> ``(run, kernel context)``."""
    from rnn_attn.interop import cudnn
    from rnn_attn.nn import recurrent

    out = {
        "ours": (cudnn.ours_lstm, None),
        "ours_fused": (cudnn.ours_lstm, lambda: recurrent.kernel_choice("fused")),
    }
    if cudnn.on_cuda():
        out["cudnn"] = (lambda *a: cudnn.cudnn_lstm(*a, implementation="cudnn"), None)
    else:  # the reference runs anywhere; timed so the dry run covers this code
        out["lstm_ref"] = (lambda *a: cudnn.cudnn_lstm(*a, implementation="reference"), None)
    return out


def timing(shape, repeats: int) -> dict:
    """Median seconds of one forward + backward pass per implementation (and its
    compile seconds); an implementation that fails says why."""
    cell, layers, x, lengths = problem(shape)
    out = {}
    for name, (run, kernels) in runners().items():
        try:
            step, compile_s = fwd_bwd(run, cell, layers, x, lengths, kernels)
            step()  # warm-up
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                step()
                times.append(time.perf_counter() - t0)
            out[name] = {"median_s": statistics.median(times), "compile_s": compile_s}
        except Exception as e:  # another JAX may lack an API: report, go on
            out[name] = {"error": f"{type(e).__name__}: {str(e)[:300]}"}
    fastest_ours = min(
        (v["median_s"] for k, v in out.items() if k.startswith("ours") and "median_s" in v),
        default=None,
    )
    if fastest_ours and "median_s" in out.get("cudnn", {}):
        out["ours_fastest_over_cudnn"] = fastest_ours / out["cudnn"]["median_s"]
    return {"shape": list(shape), "repeats": repeats, "implementations": out}


def _guarded(fn, *args) -> dict:
    try:
        return fn(*args)
    except Exception as e:  # report and go on: the other shapes still run
        return {"error": f"{type(e).__name__}: {str(e)[:300]}"}


def _per_shape(repeats: int) -> tuple:
    return (("check", check, ()), ("timing", timing, (repeats,)))


def measure(args) -> dict:
    """Every check and timing that fits ``--budget-s`` (the rest: ``not_run``), in the
    order: the first shape's check and timing, the stacked check, the other shapes'."""
    import jax

    from rnn_attn.interop import cudnn

    shapes = args.shapes or (DRY_SHAPES if args.dry_run else SHAPES)
    repeats = 2 if args.dry_run else args.repeats
    stacked = DRY_STACKED if args.dry_run else STACKED
    deadline = time.perf_counter() + args.budget_s
    jobs = [(kind, fn, (tuple(s), *more)) for s in shapes for kind, fn, more in _per_shape(repeats)]
    jobs.insert(2, ("check", check, (stacked, 2, True)))  # after the first shape's
    out = {"jax": jax.__version__, "device": str(jax.devices()[0]), "cuda": cudnn.on_cuda()}
    out |= {"bounds": BOUNDS, "check": [], "timing": [], "not_run": []}
    if not out["cuda"]:
        out["note"] = (
            "no CUDA GPU: cuDNN's LSTM cannot run here; the mapping is checked against "
            "jax.experimental.rnn.lstm_ref on the same packed weights, and no cuDNN time "
            "is reported"
        )
    for kind, fn, fn_args in jobs:
        if time.perf_counter() > deadline:
            out["not_run"].append({"kind": kind, "args": repr(fn_args), "why": "budget spent"})
            continue
        out[kind].append(_guarded(fn, *fn_args))
    out["ok"] = bool(out["check"]) and all(c.get("ok") for c in out["check"])
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    result = measure(args)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    print(RESULT + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_flags.run(main))
