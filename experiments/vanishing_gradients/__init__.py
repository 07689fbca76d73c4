"""Vanishing gradients in recurrent networks, and remedies (reference document 003).

    python -m experiments.vanishing_gradients --workdir runs/vanishing_gradients

Modules: ``config`` (settings, the expected result and runtime), ``study`` (the task,
the configurations, training on the engine, the gradient measurements), ``report`` (the
table and plots), ``run`` (config -> results.json), ``__main__`` (the command).

Writes to --workdir: results.json (config, models.<config>_T<length>.per_seed.<metric>,
the gradient norms), Orbax checkpoints (checkpoints/<config>_T<length>/, every seed in
one; --resume goes on from them), gradient_by_step.png (gradient norm vs t, one line per
configuration, at the longest length), gradient_by_step_cells.png (the same for the three
cells alone, at Keras's defaults and with keep-gate bias 5), accuracy_by_length.png.
"""
