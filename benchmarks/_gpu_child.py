"""``benchmarks/gpu.py``'s steps that import JAX, each in a process of its own (so the
parent never holds the GPU, and a step that hangs can be stopped):

    python benchmarks/_gpu_child.py environment
    python benchmarks/_gpu_child.py experiments PLAN.json

``environment``: Python, JAX and jaxlib versions, the devices, whether the default device
is a CUDA GPU, what ``jax.experimental.rnn`` offers, whether PyTorch imports (and sees
CUDA), Flax's version, where ``rnn_attn`` was imported from, and the lock file's JAX.
``experiments``: each planned experiment's command line parsed by the experiment's own
parser (``rnn_attn.experiment.cli.parse``, nothing run), ``--seed-loop vmap`` added where
the experiment has that flag; one entry per experiment: ``argv``, ``seed_loop_flag``,
the parsed ``seeds`` and ``seed_loop``, or ``error``.
Each prints one ``RESULT {json}`` line.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import platform
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)  # the project from source, nothing installed
RESULT = "RESULT "


def _lock_jax() -> str | None:
    """The ``jax==X`` pin of ``requirements.lock``, if any."""
    try:
        with open(os.path.join(ROOT, "requirements.lock")) as f:
            found = re.search(r"^jax==(\S+)", f.read(), re.MULTILINE)
    except OSError:
        return None
    return found.group(1) if found else None


def _torch() -> dict:
    try:
        import torch
    except Exception as e:  # absent, or a broken install: not a peer then
        return {"importable": False, "why": f"{type(e).__name__}: {str(e)[:200]}"}
    return {
        "importable": True,
        "version": torch.__version__,
        "cuda": bool(torch.cuda.is_available()),
    }


def _experimental_rnn() -> dict:
    try:
        from jax.experimental import rnn
    except Exception as e:
        return {"importable": False, "why": f"{type(e).__name__}: {str(e)[:200]}"}
    names = ("lstm", "lstm_ref", "unpack_lstm_weights", "get_num_params_in_lstm")
    out = {"importable": True, "has": {n: hasattr(rnn, n) for n in names}}
    if hasattr(rnn, "lstm"):
        out["lstm_takes_precision"] = "precision" in inspect.signature(rnn.lstm).parameters
    out["gpu_lowering"] = getattr(rnn, "gpu_rnn", None) is not None
    return out


def environment() -> dict:
    """What this machine runs the project on (module docstring)."""
    import jax

    import rnn_attn
    from rnn_attn.interop import cudnn

    devices = jax.devices()
    try:
        import flax

        flax_version = flax.__version__
    except ImportError:
        flax_version = None
    return {
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "machine": platform.platform(),
        "cpu_count": os.cpu_count(),
        "jax": jax.__version__,
        "jaxlib": getattr(importlib.import_module("jaxlib"), "__version__", None),
        "lock_jax": _lock_jax(),
        "backend": jax.default_backend(),
        "devices": [str(d) for d in devices],
        "device_kind": devices[0].device_kind,
        "cuda": cudnn.on_cuda(),
        "experimental_rnn": _experimental_rnn(),
        "torch": _torch(),
        "flax": flax_version,
        "rnn_attn_from": os.path.dirname(os.path.abspath(rnn_attn.__file__)),
    }


def _option_strings(parser) -> set[str]:
    return {s for action in parser._actions for s in action.option_strings}


def check_experiment(name: str, argv: list[str], seed_loop: str) -> dict:
    """``argv`` for ``python -m experiments.NAME``, with ``--seed-loop`` where the
    experiment has it, parsed by its parser (nothing run)."""
    from rnn_attn.experiment import cli

    spec = importlib.import_module(f"experiments.{name}.train").EXPERIMENT
    has_flag = "--seed-loop" in _option_strings(cli.build_parser(spec))
    argv = list(argv) + (["--seed-loop", seed_loop] if has_flag else [])
    cfg, options = cli.parse(spec, argv)
    return {
        "argv": argv,
        "seed_loop_flag": has_flag,
        "seeds": getattr(cfg, "seeds", None),
        "seed_loop": getattr(cfg, "seed_loop", "vmap (the runner's default: no flag)"),
        "workdir": options.workdir,
    }


def experiments(plan_path: str) -> dict:
    """Every experiment of the plan (``{name: argv}`` and ``seed_loop``) checked."""
    with open(plan_path) as f:
        plan = json.load(f)
    out = {}
    for name, argv in plan["experiments"].items():
        try:
            out[name] = check_experiment(name, argv, plan["seed_loop"])
        except (Exception, SystemExit) as e:  # argparse exits; an import may fail elsewhere
            out[name] = {"argv": argv, "error": f"{type(e).__name__}: {str(e)[:300]}"}
    return out


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("environment", "experiments"):
        print("usage: _gpu_child.py environment | experiments PLAN.json", file=sys.stderr)
        return 2
    result = environment() if argv[0] == "environment" else experiments(argv[1])
    print(RESULT + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
