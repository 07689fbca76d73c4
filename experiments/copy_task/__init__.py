"""Encoder-decoder with and without Bahdanau attention on the copy task (document 001).

    python -m experiments.copy_task --workdir runs/copy_task

Modules: ``config`` (settings, the expected result and runtime), ``train`` (models, the
data stream, training on the engine, the test), ``report`` (plots, printed report),
``run`` (config -> results.json), ``__main__`` (the command).

Writes to --workdir: results.json (config, per-seed metrics under
models.<name>.per_seed.<metric>, statistics), accuracy_by_seed.png,
attention_weights.png, train_loss.png, and Orbax checkpoints (checkpoints/<model>/).
"""
