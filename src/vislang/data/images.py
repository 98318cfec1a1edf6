"""Image sets: read a folder, zip, ``.npz``/``.npy`` file or array as canonical uint8 RGB batches; write them out.

>>> src = open_images("photos/", resize="bicubic", size=64)      # doctest: +SKIP
>>> for batch in src.iter_batches(256):                            # uint8 B x 3 x 64 x 64, RGB  # doctest: +SKIP
...     ...

Order is deterministic: files sorted by relative path (``/``-separated, by code point), arrays by index.
Folders and zips are streamed: :meth:`ImageSource.iter_batches` decodes one batch at a time, so memory
does not grow with the number of images.  Conversion rules (grayscale, 16-bit, alpha on white, ...)
are in :mod:`vislang.data.image_formats`; errors are :class:`~vislang.errors.InputError` with one line
naming the file.  See ``docs/data.md``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from vislang.data.image_formats import RESIZE_METHODS, BadImage, check_float_range, resize_rgb
from vislang.data.image_io import (DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES, ArrayBackend, FileBackend, is_image_name,
                                   load_array_file)
from vislang.errors import InputError
from vislang.data.image_write import png_names, save_pngs, write_npz, write_png_folder  # noqa: F401 (re-exported)

__all__ = ["open_images", "check_images", "ImageSource", "write_png_folder", "write_npz", "DEFAULT_MAX_PIXELS",
           "IMAGE_SUFFIXES", "RESIZE_METHODS", "parse_size"]

#: Bumped when a conversion rule changes, so content hashes (feature-cache keys) change with it.
_RULES_VERSION = "vislang-images-v1"
_SKIP_HINT = "fix or remove it, or pass --skip-bad (skip_bad=True) to skip unreadable images"


def parse_size(size) -> tuple[int, int] | None:
    """``None``, an int, ``(H, W)`` or a string ``"64"`` / ``"64x48"`` (H x W) as ``(H, W)``."""
    if size is None:
        return None
    if isinstance(size, str):
        parts = size.lower().replace("×", "x").split("x")
        try:
            vals = [int(p) for p in parts]
        except ValueError:
            raise InputError(f"size {size!r}: give N or HxW, e.g. 64 or 64x48") from None
    elif isinstance(size, (int, np.integer)):
        vals = [int(size)]
    else:
        vals = [int(v) for v in size]
    if len(vals) == 1:
        vals = vals * 2
    if len(vals) != 2 or min(vals) < 1:
        raise InputError(f"size {size!r}: give a positive N or HxW, e.g. 64 or 64x48")
    return vals[0], vals[1]


def _hw(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def _how_converted(mode: str) -> str:
    """The conversion rule applied to a PIL mode (or an array's mode label), for describe() notes."""
    if mode.startswith(("RGBA", "LA", "PA", "RGBa", "La")):
        return "alpha composited on white"
    if mode.startswith("I") or "uint16" in mode:
        return "16-bit, v >> 8"
    if mode == "F" or "float" in mode:
        return "float, scaled from float_range"
    if mode == "P":
        return "palette lookup; transparent colour on white"
    if mode == "1":
        return "bilevel, 0 or 255"
    return "Pillow's conversion"


class ImageSource:
    """A read-only, ordered set of images; build it with :func:`open_images`.

    ``len(src)``, ``src.names``, ``src.iter_batches(b)``, ``src.load()``, ``src[i]``, ``src.content_hash()``,
    ``src.skipped``, ``src.describe()``, ``src.size`` (the common (H, W) of the batches).
    """

    def __init__(self, backend, label: str, *, float_range, skip_bad: bool, size, resize: str | None,
                 strict: bool = True):
        self._backend = backend
        self.label = label
        self.kind = backend.kind
        self.float_range = float_range
        self.skip_bad = skip_bad
        self.resize = resize
        self._requested_size = size
        self.skipped: list[tuple[str, str]] = []
        self._problems: list[str] = []
        self._hash: str | None = None
        all_names = backend.names
        if not all_names:
            where = "recursively in the folder" if self.kind == "folder" else "in the zip"
            raise InputError(f"{label}: no images found (looked for {', '.join(IMAGE_SUFFIXES)} {where})"
                             if self.kind in ("folder", "zip") else f"{label}: contains no images")
        if isinstance(backend, ArrayBackend):
            self.names = list(all_names)
            self._sizes = None
            self._modes = Counter({backend.mode: len(all_names)})
            natural = backend.size
            if size is not None and natural != size and resize is None:
                self._fail(f"{label}: images are {_hw(natural)} but size {_hw(size)} was asked for; "
                           f"pass --resize METHOD (resize=) to resize them", strict)
            self.size = size or natural
            return
        self._scan_headers(all_names, strict)
        if skip_bad:
            self._validate_by_decoding()
        if not self.names:
            if self.skipped:
                first = self.skipped[0]
                self._fail(f"{label}: all {len(all_names)} images are unreadable (first: {first[0]}: {first[1]})",
                           strict)
            self.size = self._requested_size or (0, 0)  # lenient: describe() reports the problems
            return
        self.size = self._settle_size(strict)

    # -- construction helpers -------------------------------------------------------------------------------------
    def _fail(self, message: str, strict: bool = True) -> None:
        if strict:
            raise InputError(message)
        self._problems.append(message)

    def _scan_headers(self, all_names: list[str], strict: bool) -> None:
        from vislang.progress import progress

        names, sizes, modes = [], [], []
        for name in progress(all_names, total=len(all_names), desc="reading headers", unit="img"):
            try:
                hw, mode = self._backend.header(name)
            except BadImage as exc:
                if self.skip_bad:
                    self.skipped.append((name, str(exc)))
                    continue
                if strict:
                    raise InputError(f"{self._where(name)}: {exc}; {_SKIP_HINT}") from None
                self._problems.append(f"{self._where(name)}: {exc}")
                continue
            names.append(name)
            sizes.append(hw)
            modes.append(mode)
        self.names, self._sizes, self._mode_list = names, sizes, modes
        self._modes = Counter(modes)

    def _validate_by_decoding(self) -> None:
        from vislang.progress import progress

        keep = []
        for i, name in enumerate(progress(self.names, total=len(self.names), desc="checking images", unit="img")):
            try:
                self._backend.decode(name)
            except BadImage as exc:
                self.skipped.append((name, str(exc)))
                continue
            keep.append(i)
        if len(keep) != len(self.names):
            self.names = [self.names[i] for i in keep]
            self._sizes = [self._sizes[i] for i in keep]
            self._mode_list = [self._mode_list[i] for i in keep]
            self._modes = Counter(self._mode_list)
        self.skipped.sort()

    def _settle_size(self, strict: bool) -> tuple[int, int]:
        sizes = self._sizes
        target = self._requested_size
        if self.resize is not None:
            return target or sizes[0]
        if target is not None:
            for name, hw in zip(self.names, sizes):
                if hw != target:
                    self._fail(f"{self._where(name)}: image is {_hw(hw)} but size {_hw(target)} was asked for; "
                               f"pass --resize METHOD (resize=) to resize images of other sizes", strict)
                    break
            return target
        first = sizes[0]
        for name, hw in zip(self.names, sizes):
            if hw != first:
                self._fail(f"{self.label}: mixed image sizes: {self.names[0]} is {_hw(first)} but {name} is "
                           f"{_hw(hw)}; pass --resize METHOD (e.g. bicubic) with --size HxW to resize them, "
                           f"or keep only one size", strict)
                break
        return first

    def _where(self, name: str) -> str:
        if self.kind == "folder":
            return str(Path(self.label) / name)
        if self.kind == "zip":
            return f"{self.label}:{name}"
        return self.label

    # -- reading ---------------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        return f"ImageSource({self.label!r}, kind={self.kind}, n={len(self)}, size={_hw(self.size)})"

    def _decode(self, name: str) -> np.ndarray:
        try:
            arr, _ = self._backend.decode(name)
        except BadImage as exc:
            raise InputError(f"{self._where(name)}: {exc}; {_SKIP_HINT}") from None
        hw = arr.shape[:2]
        if hw != self.size:
            if self.resize is None:
                raise InputError(f"{self._where(name)}: image is {_hw(hw)}, not {_hw(self.size)} like the others; "
                                 f"pass --resize METHOD (resize=) to resize it")
            arr = resize_rgb(arr, self.size, self.resize)
        return arr

    def iter_batches(self, batch_size: int, start: int = 0, stop: int | None = None,
                     workers: int = 0) -> Iterator[torch.Tensor]:
        """uint8 B x 3 x H x W RGB tensors for images ``start`` to ``stop`` (default: all), in order.

        Folders and zips are decoded one batch at a time; memory does not grow with the number of images.
        ``workers > 1`` decodes each batch's files on that many threads (Pillow releases the GIL while
        decoding); the batches, and which bad file is reported first, are the same as with one thread.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        n = len(self)
        stop = n if stop is None else min(int(stop), n)
        start = max(0, int(start))
        h, w = self.size
        backend = self._backend
        pool = None
        if workers > 1 and not isinstance(backend, ArrayBackend) and stop - start > 1:
            from concurrent.futures import ThreadPoolExecutor

            pool = ThreadPoolExecutor(max_workers=int(workers), thread_name_prefix="vislang-decode")
        try:
            for lo in range(start, stop, batch_size):
                hi = min(lo + batch_size, stop)
                if isinstance(backend, ArrayBackend):
                    block = backend.batch(lo, hi)
                    if block.shape[1:3] != (h, w):
                        block = np.stack([resize_rgb(img, (h, w), self.resize) for img in block])
                    yield torch.from_numpy(np.ascontiguousarray(block.transpose(0, 3, 1, 2)))
                    continue
                out = np.empty((hi - lo, 3, h, w), dtype=np.uint8)
                names = self.names[lo:hi]
                decoded = pool.map(self._decode, names) if pool is not None else map(self._decode, names)
                for j, arr in enumerate(decoded):
                    out[j] = arr.transpose(2, 0, 1)
                yield torch.from_numpy(out)
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    def __getitem__(self, index: int) -> torch.Tensor:
        """Image ``index`` as a uint8 3 x H x W tensor."""
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"image index {index} out of range for {n} images")
        index %= n
        return next(self.iter_batches(1, index, index + 1))[0]

    def load(self, workers: int = 0) -> torch.Tensor:
        """The whole set as one uint8 N x 3 x H x W tensor (``workers``: as in :meth:`iter_batches`)."""
        h, w = self.size
        out = torch.empty((len(self), 3, h, w), dtype=torch.uint8)
        i = 0
        for batch in self.iter_batches(256, workers=workers):
            out[i:i + len(batch)] = batch
            i += len(batch)
        return out

    def content_hash(self) -> str:
        """sha256 hex of the images and the decoding recipe; stable across runs and machines.

        Files: (relative name, file bytes) in order; arrays: dtype, layout, shape and bytes.  The recipe
        (rules version, ``size``, ``resize``, ``float_range``) is hashed too, since it changes the pixels.
        """
        if self._hash is None:
            h = hashlib.sha256()
            recipe = {"rules": _RULES_VERSION, "resize": self.resize,
                      "size": list(self.size) if self.resize else None,
                      "float_range": list(self.float_range) if self.float_range else None}
            h.update(json.dumps(recipe, sort_keys=True).encode() + b"\0")
            if isinstance(self._backend, ArrayBackend):
                self._backend.hash_into(h)
            else:
                self._backend.hash_into(h, self.names)
            self._hash = h.hexdigest()
        return self._hash

    def provenance(self, with_hash: bool = True) -> dict[str, Any]:
        """How these images were read, for result stamps."""
        info: dict[str, Any] = {"source": self.label, "kind": self.kind, "count": len(self),
                                "size": list(self.size), "resize": f"pil-{self.resize}" if self.resize else None,
                                "float_range": list(self.float_range) if self.float_range else None,
                                "skipped": len(self.skipped)}
        if with_hash:
            info["content_sha256"] = self.content_hash()
        return info

    def describe(self) -> dict[str, Any]:
        """Decode every image and report: count, sizes (``"HxW"`` counts), modes, skipped, problems, notes.

        Unlike reading, this collects every problem instead of stopping at the first; ``ok`` is true
        when there is none.  Sizes are before any resize.
        """
        from vislang.progress import progress

        problems = list(self._problems)
        sizes: Counter = Counter()
        notes = []
        if isinstance(self._backend, ArrayBackend):
            sizes[_hw(self._backend.size)] = len(self)
            count = len(self)
        else:
            count = 0
            for name in progress(self.names, total=len(self.names), desc="checking images", unit="img"):
                try:
                    arr, _ = self._backend.decode(name)
                except BadImage as exc:
                    problems.append(f"{self._where(name)}: {exc}")
                    continue
                count += 1
                sizes[_hw(arr.shape[:2])] += 1
        if len(sizes) > 1 and self.resize is None and not any("mixed image sizes" in p for p in problems):
            problems.append(f"{self.label}: mixed image sizes ({', '.join(sizes)}); pass --resize METHOD")
        if self.resize:
            notes.append(f"images are resized to {_hw(self.size)} with Pillow's {self.resize} filter")
        if self._backend.ignored:
            notes.append(f"{self._backend.ignored} file(s) without an image suffix were ignored")
        converted = sorted(m for m in self._modes if m not in ("RGB", "L"))
        if converted:
            notes.append("converted to 8-bit RGB: " + ", ".join(f"{m} ({_how_converted(m)})" for m in converted))
        return {"source": self.label, "kind": self.kind, "count": count, "sizes": sizes,
                "modes": Counter(dict(self._modes)), "skipped": list(self.skipped), "problems": problems,
                "notes": notes, "ok": not problems}


def _prepare(source, float_range, size, resize, max_pixels):
    float_range = check_float_range(float_range)
    size = parse_size(size)
    if resize is not None:
        resize = str(resize).lower()
        if resize not in RESIZE_METHODS:
            raise InputError(f"resize method {resize!r}: choose one of {', '.join(RESIZE_METHODS)}")
    if max_pixels is not None and int(max_pixels) < 1:
        raise InputError(f"max_pixels {max_pixels!r}: must be a positive number of pixels")
    max_pixels = None if max_pixels is None else int(max_pixels)
    if isinstance(source, torch.Tensor):
        t = source.detach().cpu()
        if t.dtype == torch.bfloat16 or t.dtype == torch.float16:
            t = t.float()
        return ArrayBackend(t.numpy(), "array", f"<tensor {tuple(t.shape)}>", True, float_range), \
            float_range, size, resize
    if isinstance(source, np.ndarray):
        return ArrayBackend(source, "array", f"<array {source.shape}>", False, float_range), float_range, size, resize
    if not isinstance(source, (str, os.PathLike)):
        raise InputError(f"image source of type {type(source).__name__}: give a folder, .zip, .npz, .npy, "
                         f"image file, tensor or array")
    path = Path(source)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if path.is_dir():
        backend = FileBackend(path, "folder", max_pixels, float_range)
    elif suffix == ".zip":
        backend = FileBackend(path, "zip", max_pixels, float_range)
    elif suffix in (".npz", ".npy"):
        arr, kind = load_array_file(path)
        backend = ArrayBackend(arr, kind, str(path), False, float_range)
    elif is_image_name(path.name):
        backend = FileBackend(path, "file", max_pixels, float_range)
    else:
        raise InputError(f"{path}: unsupported image source; give a folder, .zip, .npz, .npy or an image file "
                         f"({', '.join(IMAGE_SUFFIXES)})")
    return backend, float_range, size, resize


def open_images(source, *, float_range: Sequence[float] | None = None, skip_bad: bool = False, size=None,
                resize: str | None = None, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> ImageSource:
    """Open an image set; see the module docstring and ``docs/data.md``.

    ``source``: a folder (recursive), a ``.zip``, a ``.npz``/``.npy`` file, an image file, or a tensor/array
    (N x H x W x C, N x C x H x W or N x H x W; C in 1, 3, 4).  ``float_range=(lo, hi)`` is required for
    float data.  ``size`` (int or (H, W)) requires one size; ``resize`` (one of :data:`RESIZE_METHODS`)
    resizes every image to ``size`` (or to the first image's size).  ``skip_bad`` skips unreadable files
    (listed in ``src.skipped``; this decodes every file once up front).  ``max_pixels`` (``None``: no limit)
    refuses larger images as possible decompression bombs.
    """
    backend, float_range, size, resize = _prepare(source, float_range, size, resize, max_pixels)
    label = getattr(backend, "path", None)
    label = str(label) if label is not None else (str(source) if isinstance(source, (str, os.PathLike))
                                                   else f"<{type(source).__name__} {tuple(source.shape)}>")
    return ImageSource(backend, label, float_range=float_range, skip_bad=skip_bad, size=size, resize=resize)


def check_images(source, *, float_range=None, skip_bad: bool = False, size=None, resize=None,
                 max_pixels: int | None = DEFAULT_MAX_PIXELS) -> dict[str, Any]:
    """Validate a source without stopping at the first problem: :meth:`ImageSource.describe` of a lenient open.

    Raises :class:`InputError` only when the source itself is unusable (missing, empty, not an image set).
    """
    backend, float_range, size, resize = _prepare(source, float_range, size, resize, max_pixels)
    label = str(getattr(backend, "path", source if isinstance(source, (str, os.PathLike)) else "<array>"))
    src = ImageSource(backend, label, float_range=float_range, skip_bad=skip_bad, size=size, resize=resize,
                      strict=False)
    return src.describe()
