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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HUGETLB = "glibc.malloc.hugetlb=1"


def _ensure_hugetlb(argv: list[str]) -> None:
    """Re-executes this script with glibc's THP tunable unless it is set or refused."""
    if "--no-hugetlb" in argv or HUGETLB in os.environ.get("GLIBC_TUNABLES", ""):
        return
    env = dict(os.environ)
    env["GLIBC_TUNABLES"] = ":".join(filter(None, [env.get("GLIBC_TUNABLES"), HUGETLB]))
    os.execve(sys.executable, [sys.executable, os.path.abspath(__file__), *argv], env)


# IMDB's word ids are frequency ranks, drawn about as Zipf's law has it; with this exponent
# a batch of 128 reviews x 200 tokens holds ~3,400 distinct words, as IMDB's batches do
# (3,150-3,560). Uniform ids would hold ~9,200, which no text does, and would hide what
# projecting only a batch's words saves (rnn_attn/nn/fast_lstm.py).
ZIPF_EXPONENT = 1.15


def word_ids(rng, shape: tuple[int, ...], vocab: int = 10_000):
    """``<int64>shape`` token ids in ``[1, vocab)``, id ``r`` with probability
    proportional to ``r ** -ZIPF_EXPONENT``."""
    import numpy as np

    ranks = np.arange(1, vocab)
    p = ranks.astype(np.float64) ** -ZIPF_EXPONENT
    return rng.choice(ranks, size=shape, p=p / p.sum())


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


def time_steps(run_step, steps: int, repeats: int) -> list[float]:
    """Seconds per step for each repeat; ``run_step()`` must block until done."""
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            run_step()
        out.append((time.perf_counter() - t0) / steps)
    return out


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


def engine_seeds(args, num_seeds: int):
    """The training engine's compiled segment (``rnn_attn.train``: ``steps`` train steps per
    call, every seed vmapped in one program, batches gathered on the device) for
    ``num_seeds`` seeds on the run's default mesh; returns ``(run, compile_s, mesh_shape)``
    where ``run()`` trains one segment and blocks."""
    import jax
    import numpy as np

    from rnn_attn.models.text_classifiers import BiLSTMClassifier
    from rnn_attn.parallel.mesh import make_mesh
    from rnn_attn.train import engine, feed, objectives
    from rnn_attn.train.optimizers import keras_adam

    model = BiLSTMClassifier(maxlen=args.maxlen, pooling=args.pooling)
    rng = np.random.default_rng(0)
    n = args.batch_size * args.steps
    tokens = word_ids(rng, (n, args.maxlen), model.vocab_size).astype(np.int32)
    lengths = rng.integers(args.maxlen // 4, args.maxlen + 1, size=n)
    tokens[np.arange(args.maxlen)[None, :] < (args.maxlen - lengths)[:, None]] = 0  # 'pre'
    data = engine.FitData(
        feed.Split({"inputs": tokens, "targets": rng.integers(0, 2, n).astype(np.int32)})
    )
    mesh = make_mesh(num_seeds, seed_parallel=args.seed_parallel, data_parallel=args.data_parallel)
    # Each device's seeds run as the IMDB experiments run them (--seed-loop auto).
    config = engine.FitConfig(
        seeds=tuple(range(num_seeds)),
        epochs=1,
        batch_size=args.batch_size,
        monitor="loss",
        seed_loop=engine.resolve_seed_loop("auto", mesh),
    )
    t0 = time.perf_counter()
    with kernels(args):  # the kernels are chosen when the segment is traced
        prepared = engine.prepare(
            objectives.binary_classification(),
            model,
            data,
            config,
            optimizer=keras_adam(),
            mesh=mesh,
            compile_ahead=True,
        )
    compile_s = time.perf_counter() - t0  # initialization included
    run_state, feeder = prepared.run, prepared.feeder
    plan = feeder.segment(run_state, run_state.num_batches, run_state.num_batches)

    def run():
        run_state.state, run_state.carry, _ = run_state.programs.segment(
            run_state.state, run_state.carry, plan, feeder.train_arrays, feeder.hyper
        )
        jax.block_until_ready(run_state.carry)

    run()
    return run, compile_s, tuple(mesh.shape.values())


ENGINE_RATE = "engine rate:"  # the line a --engine-only child ends with


def engine_child(args) -> None:
    """``--engine-only N``: the engine's rate for N seeds on the mesh an experiment with N
    seeds would build (3 seeds on 2 cores: 3 devices; 8 seeds: 2), printed for the parent.
    The device count is fixed when JAX starts, hence one process per N."""
    from rnn_attn.experiment.cli import DeviceSettings
    from rnn_attn.parallel import devices, distributed

    n = args.engine_only
    devices.request_cpu_devices(
        args.cpu_devices
        or distributed.local_device_request(
            DeviceSettings(seed_parallel=args.seed_parallel, data_parallel=args.data_parallel), n
        )
    )
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
    """The same model written with Flax linen: ``nn.Bidirectional`` over
    ``nn.RNN(nn.OptimizedLSTMCell(64))`` (or over our ``KerasLSTMCell``), the last step of
    each direction, Dropout(0.5), Dense(1); Keras Adam. No masking (Flax's ``seq_lengths``
    assumes right padding), so it does the same work as ours on pre-padded tokens."""
    import flax.linen as nn
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    from rnn_attn.interop.flax_linen import KerasLSTMCell
    from rnn_attn.train.optimizers import keras_adam

    def cell():
        return KerasLSTMCell(64) if keras_cells else nn.OptimizedLSTMCell(64)

    class BiLSTM(nn.Module):
        @nn.compact
        def __call__(self, tokens, train: bool):
            x = nn.Embed(10_000, 128)(tokens)
            x = nn.Bidirectional(nn.RNN(cell()), nn.RNN(cell()))(x)[:, -1]
            x = nn.Dropout(0.5, deterministic=not train)(x)
            return nn.Dense(1)(x)[:, 0]

    model = BiLSTM()
    rng = np.random.default_rng(0)
    tokens = jnp.asarray(word_ids(rng, (args.batch_size, args.maxlen)), jnp.int32)
    labels = jnp.asarray(rng.integers(0, 2, size=args.batch_size), jnp.float32)
    params = model.init(jax.random.PRNGKey(0), tokens, False)["params"]
    optimizer = keras_adam()
    state = {"params": params, "opt": optimizer.init(params)}

    def train_step(params, opt_state, key):
        def loss_fn(p):
            logits = model.apply({"params": p}, tokens, True, rngs={"dropout": key})
            return optax.sigmoid_binary_cross_entropy(logits, labels).mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    step = jax.jit(train_step, donate_argnums=(0, 1))
    key = jax.random.PRNGKey(1)

    def run():
        state["params"], state["opt"], loss = step(state["params"], state["opt"], key)
        loss.block_until_ready()

    for _ in range(args.warmup):
        run()
    return run


def torch_step(args):
    import numpy as np
    import torch
    from torch import nn

    torch.set_num_threads(2)
    torch.manual_seed(0)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(10_000, 128)
            self.lstm = nn.LSTM(128, 64, batch_first=True, bidirectional=True)
            self.dropout = nn.Dropout(0.5)
            self.out = nn.Linear(128, 1)

        def forward(self, tokens):
            _, (h, _) = self.lstm(self.embedding(tokens))
            return self.out(self.dropout(torch.cat([h[0], h[1]], dim=-1)))[:, 0]

    model = Model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.BCEWithLogitsLoss()
    tokens = torch.from_numpy(word_ids(np.random.default_rng(0), (args.batch_size, args.maxlen)))
    labels = torch.randint(0, 2, (args.batch_size,)).float()

    def run():
        optimizer.zero_grad()
        loss = loss_fn(model(tokens), labels)
        loss.backward()
        optimizer.step()

    for _ in range(args.warmup):
        run()
    return run


def keras_step(args, legacy: bool = False):
    """Keras on the TensorFlow backend: Keras 3 (``keras``), or with ``legacy`` Keras 2
    (the ``tf_keras`` package, what ``tf.keras`` was before TF 2.16)."""
    # Keras 3 would otherwise follow ~/.keras/keras.json or $KERAS_BACKEND.
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if legacy:
        import tf_keras as keras
    else:
        import keras
    import numpy as np

    backend = "tensorflow" if legacy else keras.backend.backend()
    print(f"{'tf_keras' if legacy else 'keras'} {keras.__version__}, backend {backend}")

    model = keras.Sequential(
        [
            keras.layers.Input((args.maxlen,), dtype="int32"),
            keras.layers.Embedding(10_000, 128),
            keras.layers.Bidirectional(keras.layers.LSTM(64)),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(1),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3, epsilon=1e-7),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    x = word_ids(np.random.default_rng(0), (args.batch_size, args.maxlen))
    y = np.random.default_rng(1).integers(0, 2, args.batch_size).astype("float32")

    def run():
        model.train_on_batch(x, y)

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
