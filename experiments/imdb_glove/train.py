"""The GloVe experiment's data and models (each seed's reviews, the pretrained matrix),
trained and reported by the IMDB protocol (``experiments.imdb``)."""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from experiments.imdb import train as imdb
from experiments.imdb_glove import config as glove_config
from experiments.imdb_glove.config import GloveConfig
from rnn_attn.config import ConfigError
from rnn_attn.data import glove
from rnn_attn.data import imdb as imdb_data
from rnn_attn.data.paths import default_data_dir, require_dir
from rnn_attn.data.sequences import pad_sequences
from rnn_attn.data.text import Tokenizer
from rnn_attn.experiment.spec import Setup
from rnn_attn.models.text_classifiers import EmbeddingFlattenClassifier, PretrainedEmbedding
from rnn_attn.train.engine import FitData
from rnn_attn.train.feed import Split

REFERENCE = (
    "document 002 (after Chollet 6.1.3): pretrained GloVe 100d frozen vs learned embedding, "
    "200 training samples, maxlen 100; the lecture prints no figure; Chollet's book: "
    "pretrained ~0.56 validation accuracy, learned ~0.52, both overfit"
)


def read_reviews(cfg: GloveConfig):
    """``(sequences, labels, pretrained, files)``: the labelled training reviews through
    a Tokenizer fitted on them, the GloVe matrix of its words, and the files read (the
    reviews' tree or archive, the GloVe file)."""
    data_dir = cfg.data_dir or default_data_dir()
    glove_path = cfg.glove if os.path.isabs(cfg.glove) else os.path.join(data_dir, cfg.glove)
    try:
        require_dir(
            data_dir,
            "IMDB data dir",
            "; expected a directory with the aclImdb/ tree or aclImdb_v1_labeled.tar.xz",
        )
        source = imdb_data.aclimdb_source(data_dir)
        if source is None:
            raise FileNotFoundError(
                f"no aclImdb/ tree or {imdb_data.LABELED_ARCHIVE} in {data_dir!r}"
            )
        texts, labels = imdb_data.read_aclimdb(source)["train"]
        tokenizer = Tokenizer(num_words=cfg.num_words).fit_on_texts(texts)
        sequences = pad_sequences(tokenizer.texts_to_sequences(texts), maxlen=cfg.maxlen)
        vectors = glove.read_glove(glove_path, words=set(tokenizer.word_index))
        if not vectors:
            raise ConfigError(
                f"GloVe file {glove_path!r} has none of the "
                f"{len(tokenizer.word_index):,} words of the reviews; expected "
                f"vectors of English words (e.g. glove.6B.50d.txt)"
            )
        pretrained = glove.embedding_matrix(vectors, tokenizer.word_index, cfg.num_words)
    except (FileNotFoundError, ValueError) as e:
        raise ConfigError(str(e)) from None
    return sequences, labels, pretrained, [source, glove_path]


def build(cfg: GloveConfig, ctx) -> Setup:
    """Both models, and each seed's training and validation rows of the shared arrays."""
    sequences, labels, pretrained, files = read_reviews(cfg)
    need = cfg.training_samples + cfg.validation_samples
    if need > len(labels):
        raise ConfigError(
            f"--training-samples + --validation-samples = {need} exceeds the "
            f"{len(labels)} labelled training reviews"
        )
    dim = pretrained.matrix.shape[1]
    base = EmbeddingFlattenClassifier(
        vocab_size=cfg.num_words, embed_dim=dim, maxlen=cfg.maxlen, hidden_units=cfg.hidden_units
    )
    frozen = dataclasses.replace(base, freeze_embedding=True)
    models = {"glove_frozen": PretrainedEmbedding(frozen, pretrained.matrix), "learned": base}
    pool = {"inputs": sequences.astype(np.int32), "targets": np.asarray(labels, np.int32)}
    # Each seed's own reviews: rows of the shared arrays (the same for both models), drawn
    # with its data seed.
    n = len(pool["targets"])
    orders = np.stack([np.random.default_rng(s).permutation(n) for s in cfg.seed_sources["data"]])
    data = FitData(
        Split(pool, orders[:, : cfg.training_samples]),
        Split(pool, orders[:, cfg.training_samples : need]),
    )
    description = (
        f"{cfg.training_samples} training and {cfg.validation_samples:,} "
        f"validation reviews drawn per seed from the {n:,} labelled "
        f"training reviews; GloVe {dim}d vectors for {pretrained.found:,} of the "
        f"{cfg.num_words - 1:,} words"
    )
    print(f"GloVe: {pretrained.found:,} of {cfg.num_words - 1:,} words found in {files[1]}")
    chosen = {name: models[name] for name in cfg.model_names}
    return imdb.setup(cfg, chosen, data, description, files)


EXPERIMENT = imdb.protocol(
    "imdb_glove",
    GloveConfig,
    build,
    doc=glove_config.__doc__,
    reference=REFERENCE,
    local=glove_config.LOCAL,
)
