"""Device settings and meshes: one clear error each. (That every experiment gives each seed
the same numbers on any (seed, data) mesh is tests/parallel/test_mesh.py.)"""

import pytest

from rnn_attn.config import ConfigError
from rnn_attn.experiment.cli import DeviceSettings
from rnn_attn.parallel import distributed


def test_batch_that_cannot_be_sharded():
    with pytest.raises(
        ConfigError,
        match=r"--batch-size 10 cannot be split over 8 devices "
        r".*expected a multiple of 8 \(e.g. 8 or 16\)",
    ):
        distributed.check_batch_size(10, 8)
    distributed.check_batch_size(16, 8)


def test_mis_sized_settings():
    with pytest.raises(
        ConfigError,
        match=r"--data-parallel must be an integer >= -1 \(-1: every device, 0: off, N: N "
        r"devices\), got -2",
    ):
        DeviceSettings(data_parallel=-2).validate()


def test_missing_or_bad_coordinator(monkeypatch):
    for name in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="--distributed needs a coordinator address"):
        DeviceSettings(distributed=True).validate()
    with pytest.raises(ConfigError, match="'localhost' is not HOST:PORT"):
        DeviceSettings(distributed=True, coordinator_address="localhost").validate()
    with pytest.raises(ConfigError, match="--process-id must be in \\[0, 2\\)"):
        DeviceSettings(
            distributed=True, coordinator_address="127.0.0.1:1234", num_processes=2, process_id=2
        ).validate()
    monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "10.0.0.2:8476")
    monkeypatch.setenv("JAX_NUM_PROCESSES", "4")
    monkeypatch.setenv("JAX_PROCESS_ID", "3")
    assert distributed.resolve_coordinator(DeviceSettings(distributed=True)) == (
        "10.0.0.2:8476",
        4,
        3,
    )
