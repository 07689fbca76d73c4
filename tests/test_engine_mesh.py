"""Every experiment's model and objective on the (seed, data) meshes of 8 virtual CPU
devices gives each seed the numbers of a one-device run.

The 8 devices exist only if the XLA flag is set before JAX starts, so the runs happen in
two subprocesses (tests/_mesh_worker.py, side by side) and the tests check what they wrote.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Both sides of every comparison compile with the same options; the cheap optimization
# level only shortens compilation (most of this test's time).
XLA_FLAGS = ("--xla_force_host_platform_device_count=8 --xla_backend_optimization_level=0 "
             "--xla_llvm_disable_expensive_passes=true")
EXPERIMENTS = ("char_textgen", "imdb", "imdb_attention", "imdb_glove", "weather")


@pytest.fixture(scope="module")
def histories(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mesh")
    env = dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS="cpu", XLA_FLAGS=XLA_FLAGS)
    worker = os.path.join(ROOT, "tests", "_mesh_worker.py")
    procs = {part: subprocess.Popen([sys.executable, worker, part, str(tmp / f"{part}.json")],
                                    cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, text=True)
             for part in ("a", "b")}
    try:
        for part, p in procs.items():
            _, err = p.communicate(timeout=400)
            assert p.returncode == 0, f"{part}: {err[-3000:]}"
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
    out = {}
    for part in procs:
        out |= json.loads((tmp / f"{part}.json").read_text())
    return out


@pytest.mark.parametrize("experiment", EXPERIMENTS)
@pytest.mark.parametrize("mesh", ["8x1", "4x2", "2x4", "1x8"])
def test_each_seed_matches_one_device_after_20_steps(histories, experiment, mesh):
    one, other = histories[experiment]["one"], histories[experiment][mesh]
    assert len(one) == len(other) == 8
    for seed, (a, b) in enumerate(zip(one, other, strict=True)):
        assert set(a) == set(b) and len(a["loss"]) == 2  # 2 epochs of 10 steps
        for key in a:
            np.testing.assert_allclose(b[key], a[key], rtol=1e-5, atol=1e-6,
                                       err_msg=f"{experiment} seed {seed} {key} on {mesh}")
    assert one[0]["loss"] != one[1]["loss"]  # the seeds are different runs
