"""Data-parallel scaling of the IMDB BiLSTM train step: examples/s on 1, 2, 4, 8 devices.

    python benchmarks/imdb_scaling.py [--steps 10] [--devices 1,2,4,8]

The model is document 000's BiLSTM (Embedding(10,000, 128) -> BiLSTM(64) -> Dense), one
Adam step on a global batch of 128 reviews of 200 tokens, jitted with the batch split over
a ``data`` mesh (the engine's train step with the batch sharded over ``data``, parameters
replicated: what ``--data-parallel N`` runs for each seed).
Each device count runs in a fresh process with
``XLA_FLAGS=--xla_force_host_platform_device_count=N`` (the flag must be set before JAX
starts). Compilation is excluded (two warm-up steps); the figure is the median over
``--repeats`` timings of ``--steps`` steps.

On a CPU host the N devices are virtual: they share the same cores, so this measures the
cost of splitting the batch (smaller per-device matmuls, the gradient all-reduce, more
dispatch), not a speed-up. When a GPU is present the same step is also timed on it against
PyTorch's cuDNN bidirectional LSTM on the same shapes; otherwise that part is skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import _flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATCH, MAXLEN, VOCAB, EMBED, UNITS = 128, 200, 10_000, 128, 64


def _batch(rng):
    import numpy as np

    return {
        "inputs": rng.integers(1, VOCAB, size=(BATCH, MAXLEN)).astype(np.int32),
        "targets": rng.integers(0, 2, size=BATCH).astype(np.int32),
        "weight": np.ones(BATCH, np.float32),
    }


def time_jax(num_devices: int, steps: int, repeats: int, platform: str) -> dict:
    """Examples/s of the jitted, data-parallel train step on ``num_devices`` devices."""
    import jax
    import numpy as np

    from rnn_attn.models.text_classifiers import BiLSTMClassifier
    from rnn_attn.parallel import mesh as meshes
    from rnn_attn.train import objectives, optimizers, steps

    devices = jax.devices(platform)
    mesh = meshes.make_mesh(1, data_parallel=num_devices, devices=devices)
    model = BiLSTMClassifier(vocab_size=VOCAB, embed_dim=EMBED, units=UNITS, maxlen=MAXLEN)
    optimizer = optimizers.keras_adam(1e-3)
    rep, split = meshes.replicated(mesh), meshes.sharding(mesh, meshes.DATA)
    train_step = jax.jit(
        steps.make_train_step(model, objectives.binary_classification(), optimizer),
        in_shardings=(rep, split),
        out_shardings=(rep, rep),
        donate_argnums=0,
    )
    with jax.default_device(devices[0]):
        state = meshes.put(steps.init_state(model, optimizer, *steps.default_seed_keys(0)), rep)
    batch = meshes.put(_batch(np.random.default_rng(0)), split)
    start = time.perf_counter()
    for _ in range(2):  # compile + one warm step
        state, sums = train_step(state, batch)
    jax.block_until_ready(sums)
    compile_s = time.perf_counter() - start
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            state, sums = train_step(state, batch)
        jax.block_until_ready((state, sums))
        rates.append(steps * BATCH / (time.perf_counter() - start))
    return {
        "devices": num_devices,
        "platform": devices[0].platform,
        "device_kind": devices[0].device_kind,
        "examples_per_s": statistics.median(rates),
        "compile_s": compile_s,
    }


def time_torch(steps: int, repeats: int) -> dict | None:
    """PyTorch's cuDNN bidirectional LSTM, same shapes and optimizer step; None without CUDA."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(VOCAB, EMBED)
            self.lstm = torch.nn.LSTM(EMBED, UNITS, batch_first=True, bidirectional=True)
            self.out = torch.nn.Linear(2 * UNITS, 1)

        def forward(self, tokens):
            _, (h, _) = self.lstm(self.embedding(tokens))
            return self.out(torch.cat([h[0], h[1]], dim=-1))[:, 0]

    device = torch.device("cuda")
    torch.backends.cudnn.benchmark = True
    model = Model().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    tokens = torch.randint(1, VOCAB, (BATCH, MAXLEN), device=device)
    labels = torch.randint(0, 2, (BATCH,), device=device).float()
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(tokens), labels)
        loss.backward()
        optimizer.step()

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        torch.cuda.synchronize()
        rates.append(steps * BATCH / (time.perf_counter() - start))
    return {
        "examples_per_s": statistics.median(rates),
        "device_kind": torch.cuda.get_device_name(0),
    }


def _worker(args) -> None:
    result = time_jax(args.worker, args.steps, args.repeats, args.platform)
    if args.platform == "gpu":
        result["torch"] = time_torch(args.steps, args.repeats)
    print("RESULT " + json.dumps(result), flush=True)


def _spawn(num_devices: int, args, platform: str, timeout: int = 900) -> dict:
    env = dict(os.environ, PYTHONPATH=ROOT)
    if platform == "cpu":
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={num_devices}"
        env["JAX_PLATFORMS"] = "cpu"
    out = subprocess.run(
        [
            sys.executable,
            os.path.abspath(__file__),
            "--worker",
            str(num_devices),
            "--steps",
            str(args.steps),
            "--repeats",
            str(args.repeats),
            "--platform",
            platform,
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
    )
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(f"{num_devices} {platform} device(s) failed:\n{out.stderr[-2000:]}")


def _gpu_count() -> int:
    """GPUs JAX can see, asked in a subprocess (this process never starts a backend)."""
    code = "import jax\ntry:\n print(len(jax.devices('gpu')))\nexcept RuntimeError:\n print(0)"
    env = {k: v for k, v in os.environ.items() if k != "JAX_PLATFORMS"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    try:
        return int(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return 0


def main(argv=None) -> int:
    parser = _flags.parser(__doc__)
    parser.add_argument(
        "--devices", type=_flags.counts(1), default="1,2,4,8", help="virtual CPU device counts"
    )
    parser.add_argument("--steps", type=_flags.count(1), default=10, help="timed steps per repeat")
    parser.add_argument(
        "--repeats", type=_flags.count(1), default=3, help="timings (median reported)"
    )
    parser.add_argument("--worker", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--platform", default="cpu", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args)
        return 0
    counts = args.devices
    print(
        f"IMDB BiLSTM train step (Embedding({VOCAB:,}, {EMBED}) -> BiLSTM({UNITS}) -> "
        f"Dense; Adam), global batch {BATCH}, maxlen {MAXLEN}; data-parallel over N "
        f"virtual CPU devices on {os.cpu_count()} real core(s); median of {args.repeats} x "
        f"{args.steps} steps, compilation excluded"
    )
    rows = [_spawn(n, args, "cpu") for n in counts]
    base = rows[0]["examples_per_s"]
    print(f"\n{'devices':>7}  {'examples/s':>10}  {'vs 1 device':>11}  {'compile s':>9}")
    for r in rows:
        print(
            f"{r['devices']:>7}  {r['examples_per_s']:>10.1f}  "
            f"{r['examples_per_s'] / base:>10.2f}x  {r['compile_s']:>9.1f}"
        )
    print(
        f"\nThese {counts[-1]} CPU 'devices' are virtual: they share the machine's "
        f"{os.cpu_count()} core(s), so the table shows the overhead of splitting the batch "
        f"(smaller per-device work, the gradient all-reduce, more dispatch), not a speed-up. "
        f"Real scaling needs real devices (GPUs, TPU cores)."
    )
    gpus = _gpu_count()
    if gpus == 0:
        print("\nGPU comparison (JAX vs PyTorch cuDNN LSTM): skipped, no GPU on this machine.")
        return 0
    gpu = _spawn(1, args, "gpu")
    print(
        f"\nGPU ({gpu['device_kind']}): JAX {gpu['examples_per_s']:.1f} examples/s "
        f"(compile {gpu['compile_s']:.1f} s)"
    )
    if gpu.get("torch"):
        t = gpu["torch"]
        print(
            f"PyTorch cuDNN bidirectional LSTM, same shapes: {t['examples_per_s']:.1f} "
            f"examples/s ({t['device_kind']})"
        )
    else:
        print("PyTorch with CUDA not available: cuDNN comparison skipped.")
    return 0


if __name__ == "__main__":
    sys.exit(_flags.run(main))
