"""IMDB sentiment experiments: train text models over seeds and compare them honestly.

The protocol behind ``experiments.imdb_attention`` (document 000), ``experiments.imdb``
(documents 002 and 003) and ``experiments.imdb_glove`` (002): the reviews go through
Keras's pipeline (``load_data`` with ``num_words``, then ``pad_sequences`` to ``maxlen``),
each model trains over all its seeds at once with the engine (``rnn_attn.train.engine``:
one compiled program, Orbax checkpoints, resumable), and every figure a reader sees is
labelled as training or validation.

Repeat ``i`` uses seed ``first_seed + i`` for every model (initialization, dropout and
the shuffle), so the models are compared seed for seed.

Modules: ``config`` (settings, document recipes), ``train`` (data, fit, per-seed figures),
``report`` (reports, comparison, plots), ``run`` (config -> results.json).
"""
