import io
import json
import os
import tarfile

import numpy as np
import pytest

from rnn_attn.data import imdb
from rnn_attn.data.batching import epoch_order, eval_batches, train_batches
from rnn_attn.data.text import text_to_word_sequence
from tests._paths import SHARED_DATA


def _write_npz(path, x_train, y_train, x_test, y_test):
    def objects(lists):
        out = np.empty(len(lists), dtype=object)
        out[:] = lists
        return out

    np.savez(
        path,
        x_train=objects(x_train),
        y_train=np.array(y_train),
        x_test=objects(x_test),
        y_test=np.array(y_test),
    )


def test_text_to_word_sequence_is_keras():
    assert text_to_word_sequence("Don't <br />STOP, it's great!!") == [
        "don't",
        "br",
        "stop",
        "it's",
        "great",
    ]


def test_load_data_semantics(tmp_path):
    path = str(tmp_path / "imdb.npz")
    # Word ranks as in Keras's file (1 = most frequent).
    _write_npz(path, [[1, 2, 3], [4, 5, 6, 7, 8]], [0, 1], [[9, 1], [2]], [1, 0])
    (x_tr, y_tr), (x_te, y_te) = imdb.load_data(path, seed=113)
    order = np.arange(2)
    np.random.RandomState(113).shuffle(order)
    expected_train = [
        [1] + [w + 3 for w in x] for x in ([[1, 2, 3], [4, 5, 6, 7, 8]][i] for i in order)
    ]
    assert [list(x) for x in x_tr] == expected_train
    np.testing.assert_array_equal(y_tr, np.array([0, 1])[order])
    # num_words=7: indices >= 7 become oov_char 2; skip_top=5 also maps 4 (rank 1) to 2.
    (x_tr, _), (x_te, _) = imdb.load_data(path, num_words=7, skip_top=5, seed=0)
    flat = [w for x in list(x_tr) + list(x_te) for w in x]
    assert set(flat) <= {1, 2, 5, 6}
    # start_char None and oov_char None drop instead.
    (x_tr, _), _ = imdb.load_data(path, num_words=7, start_char=None, oov_char=None, seed=0)
    assert all(all(3 < w < 7 for w in x) for x in x_tr)
    # maxlen keeps reviews with fewer than maxlen indices (start mark included).
    (x_tr, y_tr), (x_te, y_te) = imdb.load_data(path, maxlen=5)
    assert [len(x) for x in x_tr] == [4] and list(y_tr) == [0]
    assert sorted(len(x) for x in x_te) == [2, 3]


def test_load_data_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match="IMDB npz not found"):
        imdb.load_data(str(tmp_path / "none.npz"))
    np.savez(tmp_path / "bad.npz", x_train=np.zeros(3))
    with pytest.raises(ValueError, match=r"missing arrays \['x_test', 'y_test', 'y_train'\]"):
        imdb.load_data(str(tmp_path / "bad.npz"))
    with pytest.raises(ValueError, match="num_words must be None or an integer > 3"):
        imdb.load_data(str(tmp_path / "bad.npz"), num_words=0)
    with pytest.raises(ValueError, match="num_words must be None or an integer > 3"):
        imdb.load_data(str(tmp_path / "bad.npz"), num_words=3)
    with pytest.raises(ValueError, match="maxlen must be None or an integer >= 1, got 0"):
        imdb.load_data(str(tmp_path / "bad.npz"), maxlen=0)
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04 truncated zip")
    with pytest.raises(ValueError, match="cannot read IMDB npz .*expected Keras's imdb.npz"):
        imdb.load_data(str(tmp_path / "corrupt.npz"))
    _write_npz(tmp_path / "labels.npz", [[1, 2]], [3], [[4]], [0])
    with pytest.raises(ValueError, match=r"y_train holds labels \[3\]; expected 0 .* or 1"):
        imdb.load_data(str(tmp_path / "labels.npz"))
    _write_npz(tmp_path / "short.npz", [[1, 2], [3]], [1], [[4]], [0])
    with pytest.raises(ValueError, match="2 x_train reviews but 1 y_train labels"):
        imdb.load_data(str(tmp_path / "short.npz"))
    with pytest.raises(ValueError, match="maxlen must be an integer >= 1, got -5"):
        imdb.load_padded(str(tmp_path), maxlen=-5)
    with pytest.raises(FileNotFoundError, match="IMDB data dir not found"):
        imdb.load_padded(str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="unknown IMDB source 'web'"):
        imdb.resolve_npz(str(tmp_path), "web")
    (tmp_path / "wi.json").write_text("{not json")
    with pytest.raises(ValueError, match="malformed IMDB word index"):
        imdb.load_word_index(str(tmp_path / "wi.json"))


def _small_archive(tmp_path):
    reviews = {
        "aclImdb/train/pos/0_9.txt": "A great movie.<br /><br />Loved it!",
        "aclImdb/train/neg/1_2.txt": "Terrible film, zzyzx.",
        "aclImdb/test/pos/2_8.txt": "great great film",
        "aclImdb/test/neg/3_1.txt": "the worst",
    }
    path = tmp_path / "aclImdb_small.tar.xz"
    with tarfile.open(path, "w:xz") as tar:
        for name, text in reviews.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    index = {
        "the": 1,
        "a": 2,
        "great": 3,
        "movie": 4,
        "film": 5,
        "br": 6,
        "loved": 7,
        "it": 8,
        "terrible": 9,
        "worst": 10,
    }
    (tmp_path / "wi.json").write_text(json.dumps(index))
    return str(path), str(tmp_path / "wi.json"), index


def test_raw_archive_to_keras_format_and_back(tmp_path):
    archive, wi_path, index = _small_archive(tmp_path)
    reviews = imdb.read_aclimdb(archive)
    assert reviews["train"][0] == ["Terrible film, zzyzx.", "A great movie.<br /><br />Loved it!"]
    np.testing.assert_array_equal(reviews["train"][1], [0, 1])
    npz = imdb.build_npz(archive, wi_path, str(tmp_path / "out.npz"))
    (x_tr, y_tr), (x_te, y_te) = imdb.load_data(npz, seed=0)
    by_label = {int(y): list(x) for x, y in zip(x_tr, y_tr, strict=True)}
    # "zzyzx" is not in the index: it gets rank 11, i.e. index 14, the largest index; with
    # num_words=None Keras keeps indices < the largest one, so it becomes oov_char (2).
    assert by_label[0] == [1, 9 + 3, 5 + 3, 2]
    (x_raw, y_raw), _ = imdb.load_data(npz, seed=0, num_words=100)
    assert [list(x) for x, y in zip(x_raw, y_raw, strict=True) if y == 0] == [[1, 12, 8, 14]]
    assert imdb.decode_review(by_label[1], index) == "a great movie br br loved it"
    assert (
        imdb.decode_review(by_label[1], index, start_token="<START>")
        == "<START> a great movie br br loved it"
    )
    assert (
        imdb.decode_review([0, 0, 1, 6, 2], index, start_token="<S>", oov_token="<UNK>")
        == "<S> great <UNK>"
    )
    (x_tr, _), _ = imdb.load_data(npz, num_words=10, seed=0)
    assert any(2 in x for x in x_tr)  # out-of-vocabulary words became oov_char
    # The unpacked tree reads the same.
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "tree", filter="data")
    tree = imdb.read_aclimdb(str(tmp_path / "tree"))
    assert tree["test"][0] == reviews["test"][0]


def test_padded_arrays_from_a_data_dir_of_raw_reviews(tmp_path):
    archive, wi_path, index = _small_archive(tmp_path)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    os.replace(archive, data_dir / imdb.LABELED_ARCHIVE)
    with pytest.raises(FileNotFoundError, match="imdb_word_index.json"):
        imdb.resolve_npz(str(data_dir), "aclimdb", str(tmp_path / "cache"))
    os.replace(wi_path, data_dir / imdb.WORD_INDEX_FILE)
    data = imdb.load_padded(
        str(data_dir), num_words=20, maxlen=4, cache_dir=str(tmp_path / "cache")
    )
    assert data["train"]["inputs"].shape == (2, 4) and data["train"]["inputs"].dtype == np.int32
    # 'pre' padding and truncating, as Keras: "the worst" -> [0, 1, the, worst].
    rows = {tuple(r) for r in data["test"]["inputs"].tolist()}
    assert (0, 1, 1 + 3, 10 + 3) in rows  # "great great film" -> [1, great, great, film]
    assert (1, 3 + 3, 3 + 3, 5 + 3) in rows
    assert sorted(data["test"]["targets"].tolist()) == [0, 1]


def _plain_tar(path, first_review):
    """An uncompressed aclImdb tar: its size is set by 512-byte blocks, so a review
    changed for one of the same length leaves the size as it was."""
    reviews = {
        "aclImdb/train/pos/0_9.txt": first_review,
        "aclImdb/train/neg/1_2.txt": "Terrible film, zzyzx.",
        "aclImdb/test/pos/2_8.txt": "great great film",
        "aclImdb/test/neg/3_1.txt": "the worst",
    }
    with tarfile.open(path, "w") as tar:
        for name, text in reviews.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))


def test_the_cache_follows_the_files_not_their_size_and_time(tmp_path):
    _, wi_path, _ = _small_archive(tmp_path)
    archive, cache = str(tmp_path / "aclImdb.tar"), str(tmp_path / "cache")
    _plain_tar(archive, "A great movie. Loved it!")
    first = imdb.cached_npz(archive, wi_path, cache)
    assert imdb.cached_npz(archive, wi_path, cache) == first  # reused while unchanged
    stat = os.stat(archive)
    _plain_tar(archive, "A great movie. Hated it!")  # same size, time set back
    os.utime(archive, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert os.path.getsize(archive) == stat.st_size
    second = imdb.cached_npz(archive, wi_path, cache)
    assert second != first
    (x_first, _), _ = imdb.load_data(first, seed=0)
    (x_second, _), _ = imdb.load_data(second, seed=0)
    assert sorted(map(list, x_first)) != sorted(map(list, x_second))
    with open(wi_path, "a") as f:  # another word index: another npz
        f.write(" ")
    assert imdb.cached_npz(archive, wi_path, cache) not in (first, second)


def test_missing_or_bad_archive(tmp_path):
    with pytest.raises(FileNotFoundError, match="IMDB reviews not found"):
        imdb.read_aclimdb(str(tmp_path / "nope.tar.xz"))
    (tmp_path / "junk.tar.xz").write_bytes(b"not an archive")
    with pytest.raises(ValueError, match="cannot read IMDB archive"):
        imdb.read_aclimdb(str(tmp_path / "junk.tar.xz"))


def test_batches_cover_every_example_once():
    arrays = {"x": np.arange(10)[:, None], "y": np.arange(10)}
    batches = list(eval_batches(arrays, 4))
    assert [len(b["y"]) for b in batches] == [4, 4, 4]
    real = np.concatenate([b["y"][b["weight"] == 1] for b in batches])
    np.testing.assert_array_equal(real, np.arange(10))
    epoch0 = np.concatenate(
        [b["y"][b["weight"] == 1] for b in train_batches(arrays, 3, seed=1, epoch=0)]
    )
    assert sorted(epoch0) == list(range(10))
    np.testing.assert_array_equal(
        epoch_order(10, seed=1, epoch=0), epoch_order(10, seed=1, epoch=0)
    )
    assert not np.array_equal(epoch_order(10, seed=1, epoch=0), epoch_order(10, seed=1, epoch=1))
    assert len(list(train_batches(arrays, 3, seed=1, epoch=0, drop_remainder=True))) == 3


ARCHIVE = os.path.join(SHARED_DATA, "aclImdb_v1_labeled.tar.xz")
WORD_INDEX = os.path.join(SHARED_DATA, "imdb_word_index.json")


@pytest.mark.slow  # reads and encodes all 50,000 reviews (15-40 s)
@pytest.mark.skipif(
    not (os.path.isfile(ARCHIVE) and os.path.isfile(WORD_INDEX)),
    reason="../shared/data/aclImdb_v1_labeled.tar.xz or imdb_word_index.json absent",
)
def test_real_reviews_in_keras_format(tmp_path):
    npz = imdb.cached_npz(ARCHIVE, WORD_INDEX, str(tmp_path))
    (x_tr, y_tr), (x_te, y_te) = imdb.load_data(npz, num_words=10_000)
    assert len(x_tr) == len(x_te) == 25_000
    assert y_tr.sum() == y_te.sum() == 12_500
    assert all(x[0] == 1 for x in x_tr[:100])
    assert max(max(x) for x in x_tr) < 10_000
    lengths = np.array([len(x) for x in x_tr])
    assert 200 < lengths.mean() < 300  # IMDB reviews average ~230 words
    word_index = imdb.load_word_index(WORD_INDEX)
    assert len(word_index) == 88_584 and word_index["the"] == 1
    decoded = imdb.decode_review(x_tr[0], word_index).split()
    assert len(decoded) == len(x_tr[0]) - 1
    # The first training review reads as English, after the start token.
    text = imdb.decode_review(x_tr[0], word_index, start_token="<START>")
    words = text.split()
    assert words[0] == "<START>" and words.count("<START>") == 1
    common = {"the", "a", "and", "of", "to", "is", "in", "it", "this", "that"}
    assert len(common & set(words)) >= 3, text
    assert sum(w == "?" for w in words) < 0.2 * len(words), text
