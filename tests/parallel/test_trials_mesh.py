"""A trial's figures do not depend on the mesh: 8 trials (4 settings x 2 seeds) on one
device and on the (seed, data) meshes of 8 virtual CPU devices, each equal to its
setting's plain run, up to float rounding (tests/_trials_mesh_worker.py, in subprocesses:
the XLA flag must be set before JAX starts)."""

import numpy as np
import pytest

from tests._subprocesses import run_workers

pytestmark = pytest.mark.slow


def test_each_trial_matches_its_plain_run_on_every_mesh(tmp_path):
    histories = run_workers("_trials_mesh_worker.py", ("a", "b"), tmp_path)
    assert sorted(histories) == ["classifier", "copy_task"]
    for case, runs in histories.items():
        alone = runs["alone"]
        assert len(alone) == 8
        for label in ("one", "8x1", "4x2", "2x4"):
            assert len(runs[label]) == 8
            for slot, (got, want) in enumerate(zip(runs[label], alone, strict=True)):
                assert set(got) == set(want) and len(want["loss"]) == 2
                for key in want:
                    np.testing.assert_allclose(
                        got[key],
                        want[key],
                        rtol=1e-5,
                        atol=1e-6,
                        err_msg=f"{case} trial {slot} {key} on {label}",
                    )
        # The settings trained differently.
        assert len({round(h["val_loss"][-1], 6) for h in alone}) == 8
