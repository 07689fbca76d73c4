"""Data and seed parallelism on 8 virtual CPU devices give the single-device numbers.

The 8 devices exist only if the XLA flag is set before JAX starts, so the training runs
in one subprocess (tests/_sharding_worker.py) and the tests here check what it wrote.
"""

import numpy as np
import pytest

from rnn_attn import distributed
from rnn_attn.config import ConfigError
from tests._subprocesses import run_workers

RTOL = 1e-5


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Runs the worker's two parts side by side (bounded; killed on a timeout)."""
    return run_workers("_sharding_worker.py", ("data", "seed"),
                       tmp_path_factory.mktemp("sharding"), timeout_s=300)


def _max_relative(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b) / np.abs(b)))


@pytest.mark.parametrize("model", ["copy_baseline", "copy_attention"])
def test_data_parallel_loss_curve_matches_one_device(runs, model):
    one, eight = runs[model]["one"], runs[model]["eight"]
    assert len(one) == len(eight) == 20
    assert _max_relative(eight, one) < RTOL, (one, eight)
    assert one[-1] < one[0]  # it trains


def test_seed_parallel_accuracies_match_one_device(runs):
    one, eight = runs["seed_parallel"]["one"], runs["seed_parallel"]["eight"]
    assert set(one) == {"baseline", "attention"}
    for name in one:
        assert len(one[name]["exact_match"]) == 8
        assert eight[name]["exact_match"] == one[name]["exact_match"]
        assert eight[name]["token_accuracy"] == one[name]["token_accuracy"]
        # the continuous figures too: each seed ran the same program on another device
        np.testing.assert_allclose(eight[name]["loss"], one[name]["loss"], rtol=1e-6)
        np.testing.assert_allclose(eight[name]["train_loss"], one[name]["train_loss"],
                                   rtol=1e-6)


# -- one clear error each ---------------------------------------------------------------------

def test_batch_that_cannot_be_sharded():
    with pytest.raises(ConfigError, match=r"--batch-size 10 cannot be split over 8 devices "
                                          r".*expected a multiple of 8 \(e.g. 8 or 16\)"):
        distributed.check_batch_size(10, 8)
    distributed.check_batch_size(16, 8)


def test_mis_sized_meshes():
    import jax

    n = jax.device_count()
    with pytest.raises(ConfigError, match=f"--data-parallel {n + 1} needs {n + 1} devices, but "
                                          f"only {n}"):
        distributed.data_mesh(n + 1)
    with pytest.raises(ConfigError, match="cannot split 8 seeds evenly; expected a divisor of 8"):
        distributed.exact_seed_mesh(8, 3, devices=["d"] * 3)
    with pytest.raises(ConfigError, match="--data-parallel must be -1"):
        distributed.DeviceSettings(data_parallel=-2).validate()


def test_missing_or_bad_coordinator(monkeypatch):
    for name in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="--distributed needs a coordinator address"):
        distributed.DeviceSettings(distributed=True).validate()
    with pytest.raises(ConfigError, match="'localhost' is not HOST:PORT"):
        distributed.DeviceSettings(distributed=True, coordinator_address="localhost").validate()
    with pytest.raises(ConfigError, match="--process-id must be in \\[0, 2\\)"):
        distributed.DeviceSettings(distributed=True, coordinator_address="127.0.0.1:1234",
                                   num_processes=2, process_id=2).validate()
    monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "10.0.0.2:8476")
    monkeypatch.setenv("JAX_NUM_PROCESSES", "4")
    monkeypatch.setenv("JAX_PROCESS_ID", "3")
    assert distributed.resolve_coordinator(distributed.DeviceSettings(distributed=True)) == (
        "10.0.0.2:8476", 4, 3)
