"""Every experiment's model and objective on the (seed, data) meshes of 8 virtual CPU
devices gives each seed the numbers of a one-device run.

The 8 devices exist only if the XLA flag is set before JAX starts, so the runs happen in
two subprocesses (tests/_mesh_worker.py, side by side) and the tests check what they wrote.
"""

import numpy as np
import pytest

from tests._subprocesses import run_workers

# Whole runs repeated many times: `pytest -m slow` (.ci/run runs them after the suite).
pytestmark = pytest.mark.slow

EXPERIMENTS = (
    "char_textgen",
    "copy_task",
    "imdb",
    "imdb_attention",
    "imdb_glove",
    "vanishing_gradients",
    "weather",
)
MESHES = ("8x1", "4x2", "2x4", "1x8")


def test_each_seed_matches_one_device_after_20_steps(tmp_path):
    # One test, not one per (experiment, mesh): pytest-xdist would run a shared fixture
    # once per worker, and these runs are most of this module's time.
    histories = run_workers("_mesh_worker.py", ("a", "b"), tmp_path)
    assert sorted(histories) == sorted(EXPERIMENTS)
    for experiment in EXPERIMENTS:
        for mesh in MESHES:
            one, other = histories[experiment]["one"], histories[experiment][mesh]
            assert len(one) == len(other) == 8
            for seed, (a, b) in enumerate(zip(one, other, strict=True)):
                assert set(a) == set(b) and len(a["loss"]) == 2  # 2 epochs of 10 steps
                for key in a:
                    np.testing.assert_allclose(
                        b[key],
                        a[key],
                        rtol=1e-5,
                        atol=1e-6,
                        err_msg=f"{experiment} seed {seed} {key} on {mesh}",
                    )
        assert histories[experiment]["one"][0]["loss"] != histories[experiment]["one"][1]["loss"]
