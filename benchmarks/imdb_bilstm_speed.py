"""Training-step speed of document 000's BiLSTM classifier (IMDB), steady state.

    python benchmarks/imdb_bilstm_speed.py [--batch-size 128 --maxlen 200 --steps 10
        --repeats 5 --generic --pooling last|attention|masked_attention --no-flax
        --no-torch --no-keras --xla-option KEY=VALUE --seeds 1 3 8 ...]

Builds ``rnn_attn.models.text_classifiers.BiLSTMClassifier`` (Embedding(10000, 128) ->
Bidirectional LSTM(64) -> Dropout(0.5) -> Dense(1)), jits the whole train step (forward,
backward, Keras Adam; binary cross-entropy on the logit), warms up, and times ``--steps``
steps ``--repeats`` times (compilation excluded). Prints examples/s (median and range),
ms/step, the FLOPs of a step counted from the shapes (cross-checked with XLA's
cost_analysis when it reports them), the achieved GFLOP/s and its share of the matmul peak
measured in the same run (a 2048^3 float32 matmul). With torch importable (the optional
extra ``compare``), the same model in PyTorch (2 threads) is timed the same way; likewise
Keras 3 and Keras 2 (``tf_keras``) on the TensorFlow backend (``train_on_batch``) when
importable, and the model written with Flax linen over Flax's own
``nn.OptimizedLSTMCell`` and over our ``KerasLSTMCell`` (``--no-torch`` / ``--no-keras``
/ ``--no-flax`` skip them).

``--seeds N ...`` also times the training engine (``rnn_attn.train``) with N seeds in one
program, examples/s summed over the seeds, each N in a fresh process on the mesh an
experiment with N seeds builds (on 2 cores: 1 seed on 1 device, 3 seeds on 3, 8 on 2).

Why it re-executes itself with huge-page malloc, and every measured run:
docs/performance.md ("The BiLSTM benchmark: allocator and measured runs").
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import _flags
import _harness
import _peers
import _workloads
from _harness import HUGETLB, time_steps
from _workloads import word_ids

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _ensure_hugetlb(argv: list[str]) -> None:
    """Re-executes this script with glibc's THP tunable unless it is set or refused."""
    if "--no-hugetlb" in argv or HUGETLB in os.environ.get("GLIBC_TUNABLES", ""):
        return
    env = _harness.hugetlb_env()
    os.execve(sys.executable, [sys.executable, os.path.abspath(__file__), *argv], env)


def kernels(args):
    """The context that traces our model with the fused BiLSTM kernel, or with the generic
    scan for ``--generic`` (``rnn_attn.nn.recurrent.kernel_choice``)."""
    from rnn_attn.nn.recurrent import kernel_choice

    return kernel_choice("generic" if args.generic else "default")


def step_flops(batch: int, maxlen: int, embed: int, units: int) -> dict[str, float]:
    """Matmul FLOPs of one train step (2 per multiply-add), by part, as a per-token
    implementation (PyTorch's, Keras's) does them; ours projects each distinct word once
    instead of each token, so its "achieved" rate below counts work it skips."""
    tokens = batch * maxlen
    gates = 4 * units
    proj = 2 * (2 * tokens * embed * gates)  # x @ W, both directions
    rec = 2 * (2 * tokens * units * gates)  # h @ U per step, both directions
    return {
        "forward input projection (2 dirs)": proj,
        "forward recurrent h@U (2 dirs)": rec,
        "backward d x = dz W^T (embedding grad)": proj,
        "backward d W = x^T dz": proj,
        "backward d h = dz U^T (in the loop)": rec,
        "backward d U = h^T dz (in the loop)": rec,
        "dense head (fwd+bwd)": 3 * 2 * batch * 2 * units,
    }


def matmul_peak(repeats: int = 5) -> float:
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.PRNGKey(0), (2048, 2048), jnp.float32)
    f = jax.jit(lambda a: a @ a)
    f(a).block_until_ready()
    best = min(time_steps(lambda: f(a).block_until_ready(), 3, repeats))
    return 2 * 2048**3 / best / 1e9


def jax_step(args):
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    from rnn_attn.models.text_classifiers import BiLSTMClassifier
    from rnn_attn.train.optimizers import keras_adam

    model = BiLSTMClassifier(maxlen=args.maxlen, pooling=args.pooling)
    params = model.init(jax.random.PRNGKey(0))  # eagerly: QR inside jit has deadlocked
    optimizer = keras_adam()
    opt_state = optimizer.init(params)

    def loss_fn(params, tokens, labels, key):
        logits = model.apply(params, tokens, train=True, key=key)
        return optax.sigmoid_binary_cross_entropy(logits, labels).mean()

    def train_step(params, opt_state, batch, key):
        tokens, labels = batch
        loss, grads = jax.value_and_grad(loss_fn)(params, tokens, labels, key)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    rng = np.random.default_rng(0)
    tokens = word_ids(rng, (args.batch_size, args.maxlen), model.vocab_size)
    lengths = rng.integers(args.maxlen // 4, args.maxlen + 1, size=args.batch_size)
    tokens[np.arange(args.maxlen)[None, :] < (args.maxlen - lengths)[:, None]] = 0  # 'pre'
    batch = (
        jnp.asarray(tokens, jnp.int32),
        jnp.asarray(rng.integers(0, 2, size=args.batch_size), jnp.float32),
    )
    key = jax.random.PRNGKey(1)
    options = {k: _option_value(v) for k, v in (kv.split("=", 1) for kv in args.xla_option)}
    with kernels(args):  # the kernels are chosen when the step is traced
        lowered = jax.jit(train_step, donate_argnums=(0, 1)).lower(params, opt_state, batch, key)
    t0 = time.perf_counter()
    compiled = lowered.compile(options or None)
    compile_s = time.perf_counter() - t0
    xla_flops = None
    try:
        cost = compiled.cost_analysis()
        cost = cost[0] if isinstance(cost, list) else cost
        xla_flops = float(cost.get("flops", 0.0)) or None
    except Exception:  # cost analysis is optional and backend-dependent
        pass
    state = {"params": params, "opt": opt_state}

    def run():
        state["params"], state["opt"], loss = compiled(state["params"], state["opt"], batch, key)
        loss.block_until_ready()

    for _ in range(args.warmup):
        run()
    return run, compile_s, xla_flops


def bilstm_workload(args) -> _workloads.Workload:
    """Document 000's BiLSTM at this run's batch size and maxlen (``_workloads``)."""
    import dataclasses

    return dataclasses.replace(
        _workloads.WORKLOADS["bilstm"], batch=args.batch_size, length=args.maxlen
    )


def engine_seeds(args, num_seeds: int):
    """The training engine's compiled segment (``_ours.engine_segment``: ``steps`` train
    steps per call, every seed in one program, batches gathered on the device) for
    ``num_seeds`` seeds on the run's default mesh, each device's seeds run as the IMDB
    experiments run them (--seed-loop auto); returns ``(run, compile_s, mesh_shape)``
    where ``run()`` trains one segment and blocks."""
    import _ours

    from rnn_attn.models.text_classifiers import BiLSTMClassifier
    from rnn_attn.train import objectives
    from rnn_attn.train.optimizers import keras_adam

    model = BiLSTMClassifier(maxlen=args.maxlen, pooling=args.pooling)
    data = _workloads.arrays(bilstm_workload(args), args.batch_size * args.steps)
    run, compile_s, info = _ours.engine_segment(
        model,
        objectives.binary_classification(),
        keras_adam(),
        data,
        args.batch_size,
        num_seeds,
        seed_parallel=args.seed_parallel,
        data_parallel=args.data_parallel,
        kernels=lambda: kernels(args),
    )
    run()
    return run, compile_s, tuple(info["mesh"])


ENGINE_RATE = "engine rate:"  # the line a --engine-only child ends with


def engine_child(args) -> None:
    """``--engine-only N``: the engine's rate for N seeds on the mesh an experiment with N
    seeds would build (3 seeds on 2 cores: 3 devices; 8 seeds: 2), printed for the parent.
    The device count is fixed when JAX starts, hence one process per N."""
    import _ours

    n = args.engine_only
    _ours.request_devices(n, args.seed_parallel, args.data_parallel, args.cpu_devices)
    run_n, compile_n, shape = engine_seeds(args, n)
    # One call trains `steps` batches of every seed: seconds per batch of examples.
    per_batch = [t / (n * args.steps) for t in time_steps(run_n, 1, args.repeats)]
    rate = summary(
        f"engine, {n} seed(s) on a {shape[0]}x{shape[1]} mesh "
        f"(compiled in {compile_n:.1f} s; summed over seeds)",
        per_batch,
        args.batch_size,
    )
    print(f"{ENGINE_RATE} {rate}")


def engine_in_child(argv: list[str], num_seeds: int) -> float:
    """Runs ``--engine-only num_seeds`` in a fresh process (same options); its rate."""
    import subprocess

    keep, skip = [], False
    for a in argv:  # drop --seeds and its values: the child times one N
        if a.startswith("--seeds"):
            skip = a == "--seeds"
            continue
        if skip and not a.startswith("-"):
            continue
        skip = False
        keep.append(a)
    done = subprocess.run(
        [sys.executable, os.path.abspath(__file__), *keep, "--engine-only", str(num_seeds)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:  # show why: the child's output is captured
        sys.exit(f"the engine run with {num_seeds} seed(s) failed:\n{done.stderr[-3000:]}")
    lines = done.stdout.splitlines()
    print(next(line for line in lines if line.startswith("engine, ")))
    return float(next(line for line in lines if line.startswith(ENGINE_RATE)).split()[-1])


def flax_step(args, keras_cells: bool = False):
    """The same model written with Flax linen (``_peers.flax_step``): ``nn.Bidirectional``
    over ``nn.RNN(nn.OptimizedLSTMCell(64))`` (or over our ``KerasLSTMCell``), the last
    step of each direction, Dropout(0.5), Dense(1); Keras Adam. No masking (Flax's
    ``seq_lengths`` assumes right padding), so it does the same work as ours on pre-padded
    tokens."""
    from rnn_attn.interop.flax_linen import KerasLSTMCell

    return _peer(args, _peers.flax_step, lstm_cell=KerasLSTMCell if keras_cells else None)


def torch_step(args):
    """The same model in PyTorch (``_peers.torch_step``, 2 threads)."""
    return _peer(args, _peers.torch_step)


def keras_step(args, legacy: bool = False):
    """Keras on the TensorFlow backend (``_peers.keras_step``): Keras 3 (``keras``), or
    with ``legacy`` Keras 2 (the ``tf_keras`` package, what ``tf.keras`` was before TF
    2.16)."""
    return _peer(args, _peers.keras_step, legacy=legacy)


def _peer(args, builder, **options):
    """``builder``'s step on one batch of the BiLSTM workload, warmed up."""
    w = bilstm_workload(args)
    run = builder(w, _workloads.arrays(w, w.batch), **options)
    for _ in range(args.warmup):
        run()
    return run


def _option_value(text: str):
    """An XLA compile option's value from the command line: bools and ints as such."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return int(text)
    except ValueError:
        return text


def summary(name: str, seconds: list[float], batch: int) -> float:
    rates = [batch / s for s in seconds]
    med = statistics.median(rates)
    print(
        f"{name}: {med:,.0f} examples/s (median of {len(rates)}; range "
        f"{min(rates):,.0f}-{max(rates):,.0f}), {1e3 * batch / med:.1f} ms/step"
    )
    return med


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _flags.parser(__doc__)
    parser.add_argument("--batch-size", type=_flags.count(1), default=128)
    parser.add_argument("--maxlen", type=_flags.count(1), default=200)
    parser.add_argument("--steps", type=_flags.count(1), default=10, help="steps per timed repeat")
    parser.add_argument("--repeats", type=_flags.count(1), default=5)
    parser.add_argument("--warmup", type=_flags.count(0), default=3)
    parser.add_argument(
        "--pooling", default="last", choices=["last", "attention", "masked_attention"]
    )
    parser.add_argument(
        "--generic",
        "--no-fast",
        action="store_true",
        help="our model on the generic two-scan autodiff path instead of "
        "the fused kernel (recurrent.kernel_choice('generic'))",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="*",
        default=[1, 3, 8],
        metavar="N",
        help="also time the training engine with N seeds in one program "
        "(examples/s summed over the seeds); none: skip",
    )
    parser.add_argument(
        "--seed-parallel",
        type=int,
        default=0,
        metavar="K",
        help="the engine's mesh: devices on the seed axis (as the experiments' flag)",
    )
    parser.add_argument(
        "--data-parallel",
        type=int,
        default=0,
        metavar="M",
        help="the engine's mesh: devices on the data axis",
    )
    parser.add_argument(
        "--cpu-devices",
        type=int,
        default=0,
        metavar="N",
        help="split the host into N CPU devices (0: as the experiments do)",
    )
    parser.add_argument(
        "--engine-only",
        type=int,
        default=None,
        metavar="N",
        help="time only the engine with N seeds and print its rate (what "
        "the main run starts once per --seeds value, in a fresh "
        "process: each N gets the CPU devices an experiment with N "
        "seeds would ask for)",
    )
    parser.add_argument(
        "--no-flax", action="store_true", help="skip the Flax linen BiLSTMs (Flax's cell and ours)"
    )
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--no-keras", action="store_true")
    parser.add_argument(
        "--no-hugetlb",
        action="store_true",
        help="do not re-run with GLIBC_TUNABLES=glibc.malloc.hugetlb=1",
    )
    parser.add_argument(
        "--xla-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="XLA compile option for the train step (repeatable)",
    )
    args = parser.parse_args(argv)
    counts = [*args.seeds] + ([] if args.engine_only is None else [args.engine_only])
    if any(n < 1 for n in counts):
        parser.error("--seeds and --engine-only take seed counts >= 1")
    return args


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    _ensure_hugetlb(argv)
    sys.path.insert(0, ROOT)
    if args.engine_only is not None:
        engine_child(args)
        return
    print(
        f"load average: {os.getloadavg()}  GLIBC_TUNABLES="
        f"{os.environ.get('GLIBC_TUNABLES', '')!r}  cores: {os.cpu_count()}"
    )

    peak = matmul_peak()
    print(f"matmul peak (2048^3 float32, jnp): {peak:.0f} GFLOP/s")
    parts = step_flops(args.batch_size, args.maxlen, 128, 64)
    total = sum(parts.values())
    for name, flops in parts.items():
        print(f"  {name:42s} {flops / 1e9:6.2f} GFLOP")
    print(f"  {'total per train step':42s} {total / 1e9:6.2f} GFLOP")

    run, compile_s, xla_flops = jax_step(args)
    label = f"jax ({'generic' if args.generic else 'fused'}, pooling={args.pooling})"
    print(
        f"{label}: compiled in {compile_s:.1f} s; XLA cost_analysis flops: "
        f"{'n/a' if xla_flops is None else f'{xla_flops / 1e9:.2f} GFLOP'}"
        " (it counts a loop body once, so it undercounts scans)"
    )
    ours = summary(label, time_steps(run, args.steps, args.repeats), args.batch_size)
    achieved = total * ours / args.batch_size / 1e9
    print(
        f"  per-token-equivalent {achieved:.0f} GFLOP/s = {100 * achieved / peak:.0f}% of the "
        f"matmul peak (the FLOPs above per second; ours skips some of them)"
    )

    engine_rates = {n: engine_in_child(argv, n) for n in args.seeds}
    for name, builder, skip in (
        ("flax nn.RNN(OptimizedLSTMCell)", flax_step, args.no_flax),
        ("flax nn.RNN(rnn_attn KerasLSTMCell)", lambda a: flax_step(a, True), args.no_flax),
        ("torch", torch_step, args.no_torch),
        ("keras", keras_step, args.no_keras),
        ("tf_keras", lambda a: keras_step(a, legacy=True), args.no_keras),
    ):
        if skip:
            continue
        try:
            other_run = builder(args)
        except ImportError as e:
            print(f"{name}: not importable ({e.name}); skipped")
            continue
        other = summary(name, time_steps(other_run, args.steps, args.repeats), args.batch_size)
        print(f"  ratio ours/{name}: {ours / other:.2f}")
        for n, rate in engine_rates.items():
            print(f"  ratio engine with {n} seed(s)/{name}: {rate / other:.2f}")


if __name__ == "__main__":
    sys.exit(_flags.run(main))
