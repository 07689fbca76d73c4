import io
import tarfile

import pytest

pytest.importorskip("tensorflow_datasets")

from rnn_attn.data import tfds_imdb  # noqa: E402


def _archive(path, reviews):
    with tarfile.open(path, "w:xz") as tar:
        for name, text in reviews.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_prepare_and_read_offline_through_tfds(tmp_path):
    manual = tmp_path / "manual"
    manual.mkdir()
    _archive(
        manual / "aclImdb_v1_labeled.tar.xz",
        {
            "aclImdb/train/pos/0_9.txt": "A fine film.",
            "aclImdb/train/neg/1_2.txt": "Dull.",
            "aclImdb/train/neg/5_3.txt": "Worse.",
            "aclImdb/test/pos/2_8.txt": "Great fun",
            "aclImdb/test/neg/3_1.txt": "Awful",
        },
    )
    _archive(manual / "aclImdb_v1_unsup.tar.xz", {"aclImdb/train/unsup/9_0.txt": "Hmm."})
    data_dir = tfds_imdb.prepare_imdb_reviews(str(manual), str(tmp_path / "tfds"))
    texts, labels = tfds_imdb.load_imdb_reviews(data_dir, "train")
    assert sorted(zip(texts, labels.tolist(), strict=True)) == [
        ("A fine film.", 1),
        ("Dull.", 0),
        ("Worse.", 0),
    ]
    texts, labels = tfds_imdb.load_imdb_reviews(data_dir, "test")
    assert sorted(texts) == ["Awful", "Great fun"]
    texts, _ = tfds_imdb.load_imdb_reviews(data_dir, "unsupervised")
    assert texts == ["Hmm."]
    # Prepared once: a second call reuses the data.
    assert tfds_imdb.prepare_imdb_reviews(str(manual), data_dir) == data_dir


def test_missing_manual_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no aclImdb/ tree or aclImdb"):
        tfds_imdb.prepare_imdb_reviews(str(tmp_path), str(tmp_path / "tfds"))
