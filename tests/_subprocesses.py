"""Running test workers in subprocesses side by side, bounded in time, none outliving the
test (tests that need 8 virtual CPU devices set the XLA flag before JAX starts, which
the pytest process cannot)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Both sides of every comparison compile with the same options; the cheap optimization
# level only shortens compilation (most of these tests' time).
FAST_COMPILE = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
EIGHT_DEVICES = f"--xla_force_host_platform_device_count=8 {FAST_COMPILE}"


def run_workers(
    worker: str,
    parts: tuple[str, ...],
    out_dir,
    *,
    timeout_s: float = 400,
    xla_flags: str = EIGHT_DEVICES,
) -> dict:
    """Runs ``python tests/<worker> PART OUT.json`` for every part side by side and returns
    their JSON outputs merged (a failing part fails with its stderr's tail)."""
    env = dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS="cpu", XLA_FLAGS=xla_flags)
    path = os.path.join(ROOT, "tests", worker)
    procs = {
        part: subprocess.Popen(
            [sys.executable, path, part, str(out_dir / f"{part}.json")],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for part in parts
    }
    try:
        for part, p in procs.items():
            _, err = p.communicate(timeout=timeout_s)
            assert p.returncode == 0, f"{part}: {err[-3000:]}"
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
    out: dict = {}
    for part in parts:
        out |= json.loads((out_dir / f"{part}.json").read_text())
    return out
