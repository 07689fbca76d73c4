"""Models composed of cells, the scan layer and attention, as pure init/apply pairs.

Every model, whatever its task, follows one convention (the training engine,
``rnn_attn.train``, relies on it):

    params = model.init(key)
    outputs = model.apply(params, inputs, *, train=False, key=None)

``train=True`` switches dropout on and then needs ``key``; ``params`` is a pytree of
arrays. A model with attention also takes ``return_weights=True`` and then returns
``(outputs, weights)``: the seq2seq models' ``[batch, out_steps, in_steps]``, the
attention-pooled classifiers' ``[batch, time]`` (``None`` for a model in the same family
without attention). ``regularization(params)`` gives the penalty the loss adds (0 when
none). Shapes and units are in each module's docstring.

``init`` (``rnn_attn.memory.checked_init``) refuses, with one ValueError naming the model,
its parameter count and largest parameter, parameters that would take more than half the
default device's free memory: their shapes come from ``jax.eval_shape`` first, so nothing
is allocated. Under ``jit`` or ``eval_shape`` (a traced key) it checks nothing; the
engine's ``check_memory`` holds a run's states against the memory.
"""
