"""BiLSTM vs BiLSTM + attention pooling on IMDB sentiment (reference document 000).

    python -m experiments.imdb_attention --workdir runs/imdb_attention [--seeds 3] [--epochs 12]

Defaults follow the document: the 10,000 most frequent words, reviews padded/truncated to
200 tokens ('pre'), Embedding(10,000, 128) -> Bidirectional LSTM(64) -> Dropout(0.5) ->
Dense(1, sigmoid), with and without attention pooling (e = tanh(h W + b), one bias per
step, softmax over time, weighted sum of the BiLSTM's outputs); Adam; batch 128; 12
epochs; validation on the 25,000 test reviews, as the document does. Document 000
reports validation accuracy 0.8627 after epoch 1 (BiLSTM) and 0.8695 (attention), and
its "99%" for attention is TRAINING accuracy; this report keeps the two apart and
compares the models' validation accuracy over seeds (best epoch and last epoch).
``--models`` adds issue 32's self-attention models under the same seeds and protocol:
``bilstm_mha`` (multi-head attention pooling over the BiLSTM) and ``transformer_encoder``
(a small Transformer encoder classifier); ``config.py`` has their sizes and figures.

Writes to --workdir: results.json (config, models.<name>.per_seed.<metric>, per-epoch
histories, statistics), history.png, accuracy_by_seed.png, and Orbax checkpoints
(checkpoints/<model>/, every seed in one, after each epoch; --resume continues from them).

Modules: ``config`` (the command, the expected result and its runtime), ``train`` (the
experiment: the IMDB protocol of ``experiments.imdb`` with document 000's defaults).
"""
