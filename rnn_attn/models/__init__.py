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
"""
