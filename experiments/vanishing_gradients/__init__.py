"""Vanishing gradients in recurrent networks, and remedies (reference document 003).

    python -m experiments.vanishing_gradients --workdir runs/vanishing_gradients

Modules: ``config`` (settings, the expected result and runtime), ``study`` (the task,
the configurations, the gradient measurements), ``train`` (the jobs for the shared
runner, ``rnn_attn.experiment``, and each one's per-seed figures), ``report`` (the table
and plots), ``__main__`` (the command).

Writes to --workdir: results.json (config, models.<config>_T<length>.per_seed.<metric>,
the gradient norms), Orbax checkpoints (checkpoints/<config>_T<length>/, every seed in
one; --resume goes on from them), TensorBoard curves (tensorboard/),
gradient_by_step.png (gradient norm vs t, one line per configuration, at the longest
length), gradient_by_step_cells.png (the same for the three cells alone, at Keras's
defaults and with keep-gate bias 5), accuracy_by_length.png.
"""
