"""Writing image sets: a folder of PNGs or an ``.npz`` file, atomically (temp + rename)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from vislang.data.image_io import IMAGE_SUFFIXES
from vislang.errors import InputError
from vislang.fileio import atomic_dir, atomic_write


def _is_source(images) -> bool:
    return hasattr(images, "iter_batches") and hasattr(images, "names")


def _as_nchw_uint8(images):
    """A uint8 N x 3 x H x W CPU tensor, or an ImageSource (streamed) unchanged."""
    if _is_source(images):
        return images
    t = torch.as_tensor(images) if not isinstance(images, torch.Tensor) else images
    if t.dtype != torch.uint8 or t.ndim != 4 or t.shape[1] != 3:
        raise InputError(f"images to write must be uint8 N x 3 x H x W, got {t.dtype} {tuple(t.shape)}; "
                         f"convert them with open_images(...).load()")
    return t.detach().cpu()


def png_names(names: Sequence[str] | None, n: int) -> list[str]:
    """Output file names: ``names`` with an image suffix replaced by ``.png``, or ``00000.png``, ``00001.png``, ..."""
    if names is None:
        width = max(5, len(str(max(n - 1, 0))))
        return [f"{i:0{width}d}.png" for i in range(n)]
    names = [str(x) for x in names]
    if len(names) != n:
        raise InputError(f"{len(names)} names given for {n} images")
    out = []
    for name in names:
        p = Path(name)
        if p.is_absolute() or ".." in p.parts or not name.strip():
            raise InputError(f"image name {name!r}: must be a relative path inside the output folder")
        out.append((p.with_suffix(".png") if p.suffix.lower() in IMAGE_SUFFIXES else Path(name + ".png")).as_posix())
    dup = [k for k, c in Counter(out).items() if c > 1]
    if dup:
        raise InputError(f"image names collide as PNG files: {', '.join(dup[:3])}")
    return out


def save_pngs(images, folder: Path, names: Sequence[str] | None = None, batch_size: int = 256) -> list[str]:
    """Write images as PNG files into an existing folder (not atomic by itself); returns the relative names."""
    from PIL import Image

    from vislang.progress import progress

    images = _as_nchw_uint8(images)
    if names is None and _is_source(images):
        names = images.names
    out_names = png_names(names, len(images))
    batches = images.iter_batches(batch_size) if _is_source(images) else \
        (images[i:i + batch_size] for i in range(0, len(images), batch_size))
    bar = progress(total=len(out_names), desc="writing PNGs", unit="img")
    i = 0
    for batch in batches:
        arr = batch.permute(0, 2, 3, 1).contiguous().numpy()
        for img in arr:
            target = folder / out_names[i]
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img, "RGB").save(target, format="PNG", compress_level=6)
            i += 1
            bar.update(1)
    bar.close()
    return out_names


def write_png_folder(images, out_dir, names: Sequence[str] | None = None, overwrite: bool = False) -> list[str]:
    """Write uint8 N x 3 x H x W images (or an :class:`~vislang.data.images.ImageSource`, streamed) as a folder of PNGs, atomically.

    File names: ``names`` with their suffix replaced by ``.png`` (sub-folders kept), else ``00000.png``...
    Returns the relative file names in order.
    """
    images = _as_nchw_uint8(images)
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        return save_pngs(images, Path(tmp), names)


def write_npz(images, path, *, compress: bool = False, **extra_arrays) -> None:
    """Write uint8 images as ``path`` (.npz) atomically: N x H x W x 3 under ``'images'``, plus ``extra_arrays``."""
    images = _as_nchw_uint8(images)
    if _is_source(images):
        images = images.load()
    if "images" in extra_arrays:
        raise InputError("write_npz: 'images' is reserved for the images")
    arrays = {"images": images.permute(0, 2, 3, 1).contiguous().numpy()}
    for key, val in extra_arrays.items():
        arrays[key] = val.numpy() if isinstance(val, torch.Tensor) else np.asarray(val)
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise InputError(f"{path}: write_npz writes .npz files; name the output *.npz")
    with atomic_write(path, "wb") as fh:
        (np.savez_compressed if compress else np.savez)(fh, **arrays)
