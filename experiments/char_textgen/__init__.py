"""Character-level text generation on "Alice in Wonderland" (reference document 003).

    python -m experiments.char_textgen --workdir runs/char_textgen [--seeds 1]

Defaults follow the document: the book's body (CHAPTER I to THE END), lines stripped,
lower-cased and joined with spaces; windows of 10 characters, stride 1, one-hot;
LSTM(128, dropout 0.1, L1L2(0.01, 0.01) bias penalty) -> Dense -> softmax; RMSprop; batch
128; 25 iterations of one epoch, each followed by 100 greedily generated characters from
a random window. Beyond the document, the book's last 10% is held out: each iteration
reports the held-out per-character cross-entropy and perplexity, and the end scores the
share of generated words that are words of the book (unigram and bigram perplexities of
the training text are printed for scale). Generation is one compiled lax.scan.

Writes to --workdir: results.json (config, models.char_<cell>.per_seed.<metric>, the
samples, the reference perplexities), history.png, TensorBoard curves (tensorboard/), and
Orbax checkpoints per iteration (checkpoints/char_<cell>/; --resume continues).

Modules: ``config`` (settings, the expected result and its runtime), ``train`` (the
corpus, the model, text sampled after each iteration and each seed's figures, for the
shared runner ``rnn_attn.experiment``), ``report`` (the reference perplexities, the
history plot, the printed report), ``__main__`` (the command).
"""
