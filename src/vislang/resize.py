"""Named resizes that feature extractors own.

FID values move by several points with the resize filter (Parmar et al., "On Aliased Resizing and
Surprising Subtleties in GAN Evaluation", CVPR 2022), so every extractor names the resize it applies
and the name is part of every result's provenance and of the feature-cache key.

All functions take a ``uint8`` (or float, values in [0, 255]) N x 3 x H x W tensor, or a list of
3 x H x W tensors of differing sizes, and return ``float32`` N x 3 x h x w values in [0, 255]:

``clean``
    clean-fid's resize: each channel as a 32-bit float PIL image (mode ``F``), resized with PIL's
    bicubic filter (which widens its support when downsampling, i.e. antialiases), then clipped to
    [0, 255]; no quantisation back to 8 bits.  Runs on the CPU through Pillow.
``tf1-bilinear``
    TensorFlow 1.x ``tf.image.resize_bilinear(align_corners=False)``, as the TTUR FID code feeds
    images into the 2015 Inception graph and as torch-fidelity reproduces it: output pixel ``i`` reads
    input coordinate ``src = i * in / out`` (no half-pixel offset), ``lo = floor(src)``,
    ``hi = min(lo + 1, in - 1)``, and interpolates rows then columns in float32 exactly in TF's order
    (``top = tl + (tr - tl) * dx``; ``bottom`` alike; ``out = top + (bottom - top) * dy``).
    No antialiasing: downsampling aliases, as in TF1.
``bilinear-224``
    Antialiased bilinear to 224 x 224 (``torch.nn.functional.interpolate(..., antialias=True)``), the
    filter of torchvision's ImageNet presets; used by ``mobilenet-v2``.

An image that already has the target size passes through unchanged by every resize.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from vislang.errors import ConfigError, InputError

Images = torch.Tensor | Sequence[torch.Tensor]


def _as_float(x: torch.Tensor) -> torch.Tensor:
    if x.dtype == torch.uint8:
        return x.float()
    if torch.is_floating_point(x):
        return x.float()
    raise InputError(f"images must be uint8 (or float in [0, 255]) tensors, got {x.dtype}")


def resize_clean(images: torch.Tensor, size: tuple[int, int] = (299, 299)) -> torch.Tensor:
    """clean-fid's PIL bicubic resize on float32 channels (``size`` = (height, width))."""
    from PIL import Image

    x = _as_float(images)
    n, c, h, w = x.shape
    oh, ow = size
    if (h, w) == (oh, ow):
        return x.clone()
    arr = x.cpu().numpy()
    out = np.empty((n, c, oh, ow), dtype=np.float32)
    bicubic = Image.Resampling.BICUBIC
    for i in range(n):
        for j in range(c):
            # A 2-D float32 array becomes a mode "F" image; PIL's size argument is (width, height).
            img = Image.fromarray(np.ascontiguousarray(arr[i, j], dtype=np.float32))
            out[i, j] = np.asarray(img.resize((ow, oh), resample=bicubic), dtype=np.float32)
    np.clip(out, 0, 255, out=out)
    return torch.from_numpy(out).to(images.device)


def _tf1_axis(in_size: int, out_size: int, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    # TF1 (align_corners=False, half_pixel_centers=False): scale = in / out in float, src = dst * scale.
    scale = torch.tensor(in_size / out_size, dtype=torch.float32)
    src = torch.arange(out_size, dtype=torch.float32) * scale
    lo = src.floor().long()
    hi = (lo + 1).clamp_max(in_size - 1)
    frac = src - lo.float()
    return lo.to(device), hi.to(device), frac.to(device)


def resize_tf1_bilinear(images: torch.Tensor, size: tuple[int, int] = (299, 299)) -> torch.Tensor:
    """TensorFlow-1 bilinear resize, ``align_corners=False`` (``size`` = (height, width))."""
    x = _as_float(images)
    _, _, h, w = x.shape
    oh, ow = size
    if (h, w) == (oh, ow):
        return x.clone()
    ylo, yhi, dy = _tf1_axis(h, oh, x.device)
    xlo, xhi, dx = _tf1_axis(w, ow, x.device)
    top_rows = x.index_select(2, ylo)
    bottom_rows = x.index_select(2, yhi)
    dx = dx.view(1, 1, 1, ow)
    tl, tr = top_rows.index_select(3, xlo), top_rows.index_select(3, xhi)
    top = tl + (tr - tl) * dx
    bl, br = bottom_rows.index_select(3, xlo), bottom_rows.index_select(3, xhi)
    bottom = bl + (br - bl) * dx
    return top + (bottom - top) * dy.view(1, 1, oh, 1)


def resize_bilinear_aa(images: torch.Tensor, size: tuple[int, int] = (224, 224)) -> torch.Tensor:
    """Antialiased bilinear resize (half-pixel centres), float32 output clipped to [0, 255]."""
    x = _as_float(images)
    if tuple(x.shape[-2:]) == tuple(size):
        return x.clone()
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True).clamp_(0, 255)


@dataclass(frozen=True)
class Resize:
    """A named resize to a fixed size; calling it maps images to float32 [0, 255] at ``size``."""

    name: str
    size: tuple[int, int]
    fn: Callable[[torch.Tensor, tuple[int, int]], torch.Tensor]
    cpu_only: bool = False

    def __call__(self, images: Images) -> torch.Tensor:
        if isinstance(images, torch.Tensor):
            _check(images)
            return self.fn(images, self.size)
        parts = []
        for img in images:  # a list of single images of differing sizes
            img = img if img.dim() == 4 else img.unsqueeze(0)
            _check(img)
            parts.append(self.fn(img, self.size))
        if not parts:
            raise InputError("no images to resize")
        return torch.cat(parts, 0)


def _check(x: torch.Tensor) -> None:
    if x.dim() != 4 or x.shape[1] != 3:
        raise InputError(f"images must be N x 3 x H x W (RGB), got shape {tuple(x.shape)}")


RESIZES: dict[str, Resize] = {
    "clean": Resize("clean", (299, 299), resize_clean, cpu_only=True),
    "tf1-bilinear": Resize("tf1-bilinear", (299, 299), resize_tf1_bilinear),
    "bilinear-224": Resize("bilinear-224", (224, 224), resize_bilinear_aa),
}


def get(name: str, allowed: Sequence[str] | None = None) -> Resize:
    """The resize called ``name`` (one of ``allowed`` when given), else a :class:`ConfigError`."""
    choices = list(allowed) if allowed is not None else list(RESIZES)
    if name not in choices or name not in RESIZES:
        raise ConfigError(f"unknown resize {name!r}; choose one of: {', '.join(choices)}")
    return RESIZES[name]
