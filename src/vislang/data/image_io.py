"""Where images come from: files in a folder or a zip (decoded with Pillow) and arrays.

:mod:`vislang.data.images` builds an :class:`~vislang.data.images.ImageSource` on one of the two
backends here.  A backend knows its candidate images by name and can read the header (size, mode)
or decode one of them; it raises :class:`~vislang.data.image_formats.BadImage` with a reason for a
file it cannot read, and the source decides whether that is an error or a skip.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import threading
import zipfile
from pathlib import Path
from typing import Any, BinaryIO, Iterator

import numpy as np

from vislang.data.image_formats import BadImage, array_batch_to_rgb, array_layout, float_range_problem, pil_to_rgb
from vislang.errors import InputError

#: File name suffixes read from folders and zips (case-insensitive).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
#: Default pixel limit per image (width x height), the same as Pillow's ``Image.MAX_IMAGE_PIXELS``.
DEFAULT_MAX_PIXELS = 89_478_485
_ORIENTATION_TAG = 0x0112
_pil_limit_lock = threading.Lock()


def is_image_name(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return not base.startswith(".") and base.lower().endswith(IMAGE_SUFFIXES)


@contextlib.contextmanager
def _pil_open_guard():
    """Let our own pixel limit rule alone: lift Pillow's global limit while opening.

    Pillow would otherwise refuse images over twice its limit with its own message, before ours names
    the size (and warn above it); with the limit lifted it does neither.  The lock keeps concurrent
    opens from restoring the limit early.
    """
    from PIL import Image

    with _pil_limit_lock:
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _bomb_reason(w: int, h: int, max_pixels: int | None) -> str | None:
    if max_pixels is not None and w * h > max_pixels:
        return (f"{w}x{h} = {w * h} pixels exceeds the limit of {max_pixels} (a decompression bomb?); "
                f"raise it with --max-pixels (max_pixels=) if the image is genuine")
    return None


def _open_pil(fh: BinaryIO, max_pixels: int | None):
    from PIL import Image

    try:
        with _pil_open_guard():
            im = Image.open(fh)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is an unreadable file
        raise BadImage(_reason(exc)) from None
    w, h = im.size
    reason = _bomb_reason(w, h, max_pixels)
    if reason:
        raise BadImage(reason)
    return im


def _reason(exc: BaseException) -> str:
    from PIL import UnidentifiedImageError

    if isinstance(exc, UnidentifiedImageError):
        return "not a readable image (unknown format or corrupt header)"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"unreadable ({text})"


def _header_orientation(im) -> int:
    """EXIF orientation known without decoding (Pillow applies TIFF orientation itself)."""
    if im.format == "TIFF":
        return 1
    if im.format == "PNG" and "exif" not in im.info:
        return 1  # an eXIf chunk after the pixel data is seen at decode time
    try:
        return int(im.getexif().get(_ORIENTATION_TAG, 1) or 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block is ignored, as Pillow does when decoding
        return 1


def _oriented_size(im, orientation: int) -> tuple[int, int]:
    w, h = im.size
    return (w, h) if orientation not in (5, 6, 7, 8) else (h, w)


def decode_pil(fh: BinaryIO, max_pixels: int | None, float_range) -> tuple[np.ndarray, str]:
    """Decode one image file object: EXIF orientation applied, converted by :func:`pil_to_rgb`.

    Returns (uint8 H x W x 3 or H x W x 1 array, original PIL mode).
    """
    im = _open_pil(fh, max_pixels)
    mode = im.mode
    try:
        im.load()
        try:
            orientation = int(im.getexif().get(_ORIENTATION_TAG, 1) or 1)
        except Exception:  # noqa: BLE001
            orientation = 1
        if orientation != 1:
            from PIL import ImageOps

            im = ImageOps.exif_transpose(im)
        return pil_to_rgb(im, float_range), mode
    except BadImage:
        raise
    except Exception as exc:  # noqa: BLE001 - truncated data, broken streams, codec errors
        raise BadImage(_reason(exc)) from None


class FileBackend:
    """Image files in a folder (recursive), a zip, or a single file; names are sorted relative paths."""

    def __init__(self, path: Path, kind: str, max_pixels: int | None, float_range):
        self.path = path
        self.kind = kind  # "folder", "zip" or "file"
        self.max_pixels = max_pixels
        self.float_range = float_range
        self._zip: zipfile.ZipFile | None = None
        self._zip_pid: int | None = None
        self.ignored = 0  # files that are not images by their suffix
        if kind == "folder":
            names = []
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                rel = os.path.relpath(dirpath, path)
                for f in filenames:
                    name = f if rel == "." else f"{Path(rel).as_posix()}/{f}"
                    if is_image_name(name):
                        names.append(name)
                    elif not f.startswith("."):
                        self.ignored += 1
        elif kind == "zip":
            names = []
            for info in self._zipfile().infolist():
                if info.is_dir():
                    continue
                if info.filename.startswith("__MACOSX/") or any(p.startswith(".") for p in info.filename.split("/")):
                    continue
                if is_image_name(info.filename):
                    names.append(info.filename)
                else:
                    self.ignored += 1
        else:
            names = [path.name]
        self.names = sorted(names)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_zip"] = state["_zip_pid"] = None
        return state

    def _zipfile(self) -> zipfile.ZipFile:
        if self._zip is None or self._zip_pid != os.getpid():
            try:
                self._zip = zipfile.ZipFile(self.path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise InputError(f"{self.path}: not a readable zip file ({exc})") from None
            self._zip_pid = os.getpid()
        return self._zip

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        try:
            if self.kind == "zip":
                info = self._zipfile().getinfo(name)
                limit = 8 * (self.max_pixels or 0) + (64 << 20)
                if self.max_pixels is not None and info.file_size > limit:
                    raise BadImage(f"zip member of {info.file_size} bytes is too large for the pixel limit")
                with self._zipfile().open(info) as zfh:
                    fh: BinaryIO = io.BytesIO(zfh.read())
            else:
                fh = open(self.path if self.kind == "file" else self.path / name, "rb")
        except BadImage:
            raise
        except Exception as exc:  # noqa: BLE001 - OSError, a bad zip member (CRC, zlib), ...
            raise BadImage(f"cannot read the file ({' '.join(str(exc).split())})") from None
        with fh:
            yield fh

    def header(self, name: str) -> tuple[tuple[int, int], str]:
        """((H, W) after EXIF orientation, PIL mode) from the header only."""
        with self.open(name) as fh:
            im = _open_pil(fh, self.max_pixels)
            w, h = _oriented_size(im, _header_orientation(im))
            return (h, w), im.mode

    def decode(self, name: str) -> tuple[np.ndarray, str]:
        with self.open(name) as fh:
            return decode_pil(fh, self.max_pixels, self.float_range)

    def hash_into(self, h: "hashlib._Hash", names: list[str]) -> None:
        for name in names:
            with self.open(name) as fh:
                data = fh.read()
            encoded = name.encode("utf-8", "surrogateescape")  # undecodable file names hash as their bytes
            h.update(len(encoded).to_bytes(8, "big") + encoded + len(data).to_bytes(8, "big"))
            h.update(data)


class ArrayBackend:
    """An in-memory (or memory-mapped) image array: N x H x W x C, N x C x H x W or N x H x W."""

    def __init__(self, arr: np.ndarray, kind: str, label: str, prefer_channels_first: bool, float_range):
        self.kind = kind  # "array", "npy" or "npz"
        self.arr = arr
        self.float_range = float_range
        self.layout = array_layout(arr.shape, prefer_channels_first)
        n = arr.shape[0]
        if self.layout == "NCHW":
            c, h, w = arr.shape[1:]
        elif self.layout == "NHWC":
            h, w, c = arr.shape[1:]
        else:
            (h, w), c = arr.shape[1:], 1
        self.size = (int(h), int(w))
        self.channels = int(c)
        self.names = [str(i) for i in range(n)]
        self.ignored = 0
        dt = arr.dtype
        if dt == np.uint8 or dt == np.uint16 or dt == np.bool_:
            pass
        elif np.issubdtype(dt, np.floating):
            vmin, vmax = _min_max(arr)
            problem = float_range_problem(vmin, vmax, float_range) if n else None
            if problem:
                raise InputError(f"{label}: {problem}")
        else:
            raise InputError(f"{label}: image arrays of dtype {dt} are not supported; use uint8 (0..255), "
                             f"uint16, or float with float_range=(lo, hi)")
        if h * w == 0:
            raise InputError(f"{label}: images of size {h}x{w} hold no pixels")

    @property
    def mode(self) -> str:
        base = {1: "L", 3: "RGB", 4: "RGBA"}[self.channels]
        dt = self.arr.dtype
        return base if dt == np.uint8 else f"{base} ({dt})"

    def batch(self, start: int, stop: int) -> np.ndarray:
        return array_batch_to_rgb(np.asarray(self.arr[start:stop]), self.layout, self.float_range)

    def hash_into(self, h: "hashlib._Hash", chunk: int = 256) -> None:
        h.update(f"{self.arr.dtype.str}|{self.layout}|{tuple(self.arr.shape)}".encode())
        for i in range(0, self.arr.shape[0], chunk):
            h.update(np.ascontiguousarray(self.arr[i:i + chunk]).tobytes())


def _min_max(arr: np.ndarray, chunk: int = 1024) -> tuple[float, float]:
    vmin, vmax = np.inf, -np.inf
    for i in range(0, arr.shape[0], chunk):
        block = np.asarray(arr[i:i + chunk])
        if not np.all(np.isfinite(block)):
            return float("nan"), float("nan")
        if block.size:
            vmin, vmax = min(vmin, float(block.min())), max(vmax, float(block.max()))
    return vmin, vmax


def load_array_file(path: Path) -> tuple[np.ndarray, str]:
    """The image array in a .npy (memory-mapped) or .npz file (key 'images', else 'arr_0', else the first)."""
    suffix = path.suffix.lower()
    magic = b"\x93NUMPY" if suffix == ".npy" else b"PK"
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(magic))
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if head != magic:
        raise InputError(f"{path}: not a readable {suffix} file (wrong magic bytes {head!r})")
    try:
        if suffix == ".npy":
            return np.load(path, mmap_mode="r", allow_pickle=False), "npy"
        with np.load(path, allow_pickle=False) as npz:
            keys = list(npz.files)
            if not keys:
                raise InputError(f"{path}: the .npz file holds no arrays")
            key = "images" if "images" in keys else "arr_0" if "arr_0" in keys else keys[0]
            return npz[key], "npz"
    except InputError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "python objects" in str(exc).lower():
            raise InputError(f"{path}: holds Python objects (pickled), not a numeric image array") from None
        raise InputError(f"{path}: not a readable {suffix} file ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(f"{path}: not a readable {suffix} file ({' '.join(str(exc).split())})") from None
