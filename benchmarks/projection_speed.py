"""Where the generic scan projects its inputs: every step's before the loop, or each
step's inside it. Forward and backward (``jax.value_and_grad`` of a loss on the last
valid output), one jitted call, median of ``--repeats`` after the compile.

    python benchmarks/projection_speed.py [--repeats 5]

``inside``: ``recurrent.rnn`` on the generic scan (it projects each step in its loop).
``before``: ``recurrent.scan_projected`` of ``cell.project`` over every step (one matmul
``[B*T, F] x [F, G*u]`` before the loop; what ``rnn`` did before 2026-12-07). The shapes
are the documents' (002's IMDB models and weather GRU, 003's character LSTM, the copy
task's encoder), right-padded lengths, float32. Prints the milliseconds of each, their
ratio (above 1: inside is faster) and the largest relative differences of the value and
the gradients (rounding: the matmuls are blocked differently).
"""

from __future__ import annotations

import os
import sys
import time

import _flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# (name, cell kind, units, batch, time steps, features)
SHAPES = (
    ("002 imdb_simple_rnn", "simple_rnn", 32, 128, 500, 32),
    ("002 imdb_lstm", "lstm", 32, 128, 500, 32),
    ("002 imdb_gru", "gru", 32, 128, 500, 32),
    ("002 weather_gru", "gru", 32, 128, 120, 14),
    ("003 char_lstm", "lstm", 128, 128, 10, 60),
    ("001 copy encoder", "lstm", 150, 1, 5, 50),
)


def losses(cell, x, lengths):
    """The two ways, each ``params -> scalar``."""
    import jax.numpy as jnp

    from rnn_attn.nn.layers import zero_masked
    from rnn_attn.nn.recurrent import length_mask, rnn, scan_projected

    mask = length_mask(lengths, x.shape[1])

    def inside(params):
        return jnp.sum(rnn(cell, params, x, lengths=lengths, return_sequences=False)[0] ** 2)

    def before(params):
        projected = cell.project(params, zero_masked(x, mask))
        return jnp.sum(scan_projected(cell, params, projected, mask=mask)[1][0] ** 2)

    return {"before": before, "inside": inside}


def timed(fn, params, repeats: int) -> tuple[float, object]:
    """Median seconds of ``repeats`` calls after one (the compile), and the result."""
    import jax
    import numpy as np

    result = jax.block_until_ready(fn(params))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(params))
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def largest_relative(a, b) -> float:
    import jax
    import numpy as np

    return max(
        float(np.max(np.abs(x - y)) / (np.max(np.abs(x)) + 1e-30))
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


def measure(name, kind, units, batch, steps, features, repeats) -> str:
    import jax
    import jax.numpy as jnp

    from rnn_attn.nn.cells import make_cell

    cell = make_cell(kind, units)
    params = cell.init(jax.random.PRNGKey(0), features)
    x = jax.random.normal(jax.random.PRNGKey(1), (batch, steps, features), jnp.float32)
    lengths = jnp.full((batch,), steps) - (jnp.arange(batch) % min(7, steps))
    runs = {
        way: timed(jax.jit(jax.value_and_grad(f)), params, repeats)
        for way, f in losses(cell, x, lengths).items()
    }
    (t_before, (v_before, g_before)), (t_inside, (v_inside, g_inside)) = (
        runs["before"],
        runs["inside"],
    )
    return (
        f"| {name} | {kind}({units}) | {batch} x {steps} x {features} | {t_before * 1e3:.1f} | "
        f"{t_inside * 1e3:.1f} | {t_before / t_inside:.2f} | "
        f"{largest_relative(v_before, v_inside):.1e} | {largest_relative(g_before, g_inside):.1e} |"
    )


def main() -> int:
    parser = _flags.parser(__doc__)
    parser.add_argument("--repeats", type=_flags.count(1), default=5)
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()[0]:.2f}")
    columns = ["shape", "cell", "batch x steps x features", "before (ms)", "inside (ms)"]
    columns += ["before / inside", "value rel. diff", "gradient rel. diff"]
    print("| " + " | ".join(columns) + " |")
    print("|---|---|---|---|---|---|---|---|")
    for shape in SHAPES:
        print(measure(*shape, args.repeats), flush=True)
    print(f"load after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
