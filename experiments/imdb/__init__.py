"""One IMDB sentiment model of the reference documents, trained over seeds.

    python -m experiments.imdb --model lstm --workdir runs/imdb_lstm [--seeds 3]

Models (``--model``) and the document recipe each starts from (any flag overrides it):
  embedding_flatten   002: Embedding(10,000, 8) -> Flatten -> Dense; maxlen 20, RMSprop,
                      batch 32, 10 epochs, validation_split 0.2 (lecture: ~0.75 val acc)
  simple_rnn          002: Embedding(10,000, 32) -> SimpleRNN(32) -> Dense; maxlen 500,
                      RMSprop, batch 128, 10 epochs, validation_split 0.2 (lecture: ~0.85)
  lstm, gru           002: the same with LSTM(32) / GRU(32) (lecture: LSTM ~0.89)
  lstm_reversed       002: the LSTM reading each review backwards
  bidirectional_lstm  002: Embedding(10,000, 32) -> Bidirectional(LSTM(32)) -> Dense
  lstm_regularized    003: Embedding(20,000, 128) -> LSTM(64, dropout 0.2, L1L2(0.01, 0.01)
                      bias regularizer) -> Dense; maxlen 80, Adam, batch 16, 1 epoch,
                      validation on the test reviews; 003's ablations: the same with
                      ``--optimizer sgd --learning-rate 0.01 --momentum 0.9`` (the SGD its
                      code tried), and ``lstm_unpenalized`` (no bias penalty)
  bilstm, bilstm_attention, bilstm_masked_attention   000 (see experiments.imdb_attention)

Writes to --workdir: results.json (config, models.<name>.per_seed.<metric>, histories),
history.png (loss and accuracy, training and validation), accuracy_by_seed.png, and Orbax
checkpoints per epoch (--resume continues from them).

Modules: ``config`` (the settings every IMDB experiment shares, the models' document
recipes, expected results, runtimes), ``train`` (the IMDB protocol: data, models, each
seed's figures; the recipe of --model fills the flags not given), ``report`` (plots and the
printed report). ``experiments.imdb_attention`` and ``experiments.imdb_glove`` run the
same protocol with their own config (and, for GloVe, their own data and models).
"""
