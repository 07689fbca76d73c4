"""Pretrained GloVe embeddings vs a learned embedding with 200 training reviews
(reference document 002, after Chollet's "Deep Learning with R", 6.1.3).

    python -m experiments.imdb_glove --workdir runs/imdb_glove [--seeds 3]

As the lecture: the raw labelled training reviews (aclImdb/train), a Tokenizer of the
10,000 most frequent words fitted on them, sequences padded / truncated to 100 words;
for each seed a shuffle picks 200 training and the next 10,000 validation reviews (the
same ones for both models of that seed). Embedding(10,000, 50) -> Flatten -> Dense(32,
relu) -> Dense(1, sigmoid); RMSprop; batch 32; 20 epochs. `glove_frozen` starts its
embedding from GloVe 6B vectors and freezes it, `learned` trains it from Keras's uniform
init. The lecture uses 100-dimensional GloVe; ../shared/data has the 50-dimensional
vectors (the 20,000 most frequent IMDB words), so the embedding is 50 wide. The lecture
prints no accuracy for these models; Chollet's book, which it follows, reports that with
so few samples the pretrained model validates better (around 0.56 vs 0.52 accuracy, both
heavily overfit, on its own 200 reviews); here both are measured over seeds and compared.

Writes to --workdir: results.json (config, models.<name>.per_seed.<metric>, histories,
statistics), history.png, accuracy_by_seed.png, Orbax checkpoints per epoch.

Modules: ``config`` (settings, the expected result and its runtime), ``train`` (the
reviews, the tokenizer, GloVe, each seed's rows, the two models); training, figures and
the report are the IMDB protocol's (``experiments.imdb``).
"""
