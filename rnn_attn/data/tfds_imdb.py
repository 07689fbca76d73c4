"""IMDB through tensorflow-datasets, prepared offline from local files.

The stock ``imdb_reviews`` builder downloads its archive (and opens archives through
TensorFlow). ``prepare_imdb_reviews`` instead runs a subclass of it that keeps its name,
config, version and features but reads the reviews from a local ``manual_dir`` (the
``aclImdb/`` tree, or the ``aclImdb_v1_labeled.tar.xz`` / ``aclImdb_v1_unsup.tar.xz``
archives), writes the ``array_record`` format, and needs no TensorFlow. The prepared data
are then read with the stock ``tfds.data_source('imdb_reviews', data_dir=...)``.
"""

from __future__ import annotations

import functools
import glob
import os
import tarfile
from collections.abc import Iterator

import numpy as np

from rnn_attn.data.paths import decode_text, open_binary


def _stock_builder():
    from tensorflow_datasets.datasets.imdb_reviews import imdb_reviews_dataset_builder

    return imdb_reviews_dataset_builder


def _iter_manual(manual_dir: str) -> Iterator[tuple[str, object]]:
    """``(path inside aclImdb/..., file object)`` for every file, like ``iter_archive``;
    each must be a regular file after following links (checked before it is opened)."""
    tree = os.path.join(manual_dir, "aclImdb")
    if os.path.isdir(tree):
        for root, _, files in os.walk(tree):
            for name in sorted(files):
                full = os.path.join(root, name)
                with open_binary(full, "aclImdb file") as f:
                    yield os.path.relpath(full, manual_dir).replace(os.sep, "/"), f
        return
    archives = sorted(glob.glob(os.path.join(manual_dir, "aclImdb*.tar*")))
    if not archives:
        raise FileNotFoundError(f"no aclImdb/ tree or aclImdb*.tar.* archive in {manual_dir!r}")
    for path in archives:
        with (
            open_binary(path, "IMDB archive") as raw,
            tarfile.open(fileobj=raw, mode="r:*") as archive,
        ):
            for member in archive:
                if member.isfile():
                    yield member.name, archive.extractfile(member)


@functools.cache
def _local_builder_class():
    from etils import epath

    stock = _stock_builder()

    class LocalIMDBReviews(stock.Builder, skip_registration=True):
        """The stock builder, fed from ``manual_dir`` instead of the network."""

        name = "imdb_reviews"
        pkg_dir_path = epath.Path(os.path.dirname(stock.__file__))  # its metadata live there
        MANUAL_DOWNLOAD_INSTRUCTIONS = (
            "Put the aclImdb/ tree, or aclImdb_v1_labeled.tar.xz (and optionally "
            "aclImdb_v1_unsup.tar.xz), in the manual dir."
        )

        def _split_generators(self, dl_manager):
            manual = os.fspath(dl_manager.manual_dir)

            def examples(directory, labeled=True):
                return self._generate_examples(_iter_manual(manual), directory, labeled)

            splits = {"train": examples("aclImdb/train"), "test": examples("aclImdb/test")}
            has_unsup = os.path.isdir(
                os.path.join(manual, "aclImdb", "train", "unsup")
            ) or glob.glob(os.path.join(manual, "aclImdb*unsup*.tar*"))
            if has_unsup:
                splits["unsupervised"] = examples("aclImdb/train", labeled=False)
            return splits

    return LocalIMDBReviews


def prepare_imdb_reviews(manual_dir: str, data_dir: str) -> str:
    """Prepares ``imdb_reviews/plain_text`` under ``data_dir`` (once); returns ``data_dir``."""
    import tensorflow_datasets as tfds

    builder = _local_builder_class()(data_dir=data_dir, file_format="array_record")
    if not builder.is_prepared():
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=manual_dir)
        )
    return data_dir


def load_imdb_reviews(data_dir: str, split: str) -> tuple[list[str], np.ndarray]:
    """Texts and labels (1 = positive) of a prepared split, through ``tfds.data_source``."""
    import tensorflow_datasets as tfds

    source = tfds.data_source("imdb_reviews", data_dir=data_dir, split=split)
    texts, labels = [], []
    for k, record in enumerate(source):
        text = record["text"]
        if isinstance(text, bytes):  # by its byte-order mark, which is dropped
            text = decode_text(text, f"review {k} of the prepared imdb_reviews {split!r} split")
        texts.append(str(text))
        labels.append(int(np.asarray(record["label"])))
    return texts, np.asarray(labels, np.int32)
