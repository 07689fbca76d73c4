"""One of the processes of tests/test_distributed.py's two-process run (CPU, loopback).

    python tests/_two_process_worker.py PORT PROCESS_ID NUM_PROCESSES WORKDIR

Joins ``jax.distributed`` through a coordinator on 127.0.0.1:PORT, builds a data mesh over
every process's devices (2 CPU devices per process), trains a tiny BiLSTM with
``trainer.fit`` (each process feeding its rows of each global batch, Orbax checkpoints
after each epoch, coordinated across the processes) and writes its view of the metrics to
``WORKDIR/metrics_<PROCESS_ID>.json``. With NUM_PROCESSES 1 it is the single-process
reference (same global batch and seed, 4 local devices).
"""

from __future__ import annotations

import json
import os
import sys


def main(port: int, process_id: int, num_processes: int, workdir: str) -> None:
    import jax

    from rnn_attn import devices, distributed

    devices.request_cpu_devices(4 // num_processes)
    settings = distributed.DeviceSettings(
        data_parallel=-1, distributed=num_processes > 1,
        coordinator_address=f"127.0.0.1:{port}", num_processes=num_processes,
        process_id=process_id).validate()
    distributed.initialize(settings, timeout_s=60)

    from rnn_attn import trainer, training
    from rnn_attn.checkpoints import Checkpointer
    from rnn_attn.models.text_classifiers import BiLSTMClassifier
    from tests._sharding_worker import imdb_like

    mesh = distributed.data_mesh(-1)
    model = BiLSTMClassifier(vocab_size=50, embed_dim=8, units=8, maxlen=12, dropout=0.5)
    optimizer = training.keras_adam(1e-2)
    state = trainer.init_state(model, optimizer, jax.random.PRNGKey(0))
    options = trainer.FitOptions(epochs=2, batch_size=16, seed=5, eval_batch_size=20)
    checkpoint_dir = os.path.join(workdir, f"checkpoints_{num_processes}")
    with Checkpointer(checkpoint_dir, asynchronous=True) as checkpointer:
        result = trainer.fit(model, trainer.binary_classification(), optimizer, state,
                             imdb_like(96, 2), imdb_like(50, 3), options,
                             checkpointer=checkpointer, config_record={"test": 1},
                             progress=False, mesh=mesh)
        # Every process restores the checkpoint the processes wrote together.
        restored, record = checkpointer.restore(checkpointer.latest_step(),
                                                {"state": result.state,
                                                 "best_params": result.best_params})
    same = all(bool((a == b).all()) for a, b in zip(
        jax.tree.leaves(jax.device_get(restored["state"].params)),
        jax.tree.leaves(jax.device_get(result.state.params)), strict=True))
    out = {"process_index": jax.process_index(), "process_count": jax.process_count(),
           "global_devices": jax.device_count(), "local_devices": jax.local_device_count(),
           "mesh_size": int(mesh.size), "history": result.history,
           "restored_epoch": int(record["epoch"]), "restored_equals_final": same}
    with open(os.path.join(workdir, f"metrics_{num_processes}_{process_id}.json"), "w") as f:
        json.dump(out, f)
    if num_processes > 1:
        jax.distributed.shutdown()


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
