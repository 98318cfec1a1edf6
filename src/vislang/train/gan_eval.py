"""What a GAN run writes besides checkpoints: sample grids (PNG), the loss curve (SVG), periodic FID/KID.

The grid and the plot are drawn here with Pillow and plain SVG text (no torchvision, no matplotlib),
and written atomically.  :class:`PeriodicEval` computes FID and KID of generated images against a
fixed set of real images with a named feature extractor from :mod:`vislang.features` and the metric
states of :mod:`vislang.metrics.image`; if those modules (or the extractor's weights) are missing it
says so once and the run goes on without evaluation.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from vislang.fileio import atomic_write


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Generator output in [-1, 1] -> uint8 [0, 255] (round half away from zero after scaling)."""
    return ((x.detach().float().cpu() + 1.0) * 127.5).round().clamp_(0, 255).to(torch.uint8)


def from_uint8(x: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float in [-1, 1] (the recipe's Normalize(0.5, 0.5))."""
    return x.float().div_(127.5).sub_(1.0)


def make_grid(images: torch.Tensor, nrow: int = 8, pad: int = 2, fill: int = 0) -> np.ndarray:
    """uint8 N x 3 x H x W -> one H' x W' x 3 uint8 array, ``nrow`` images a row, ``pad`` px between."""
    n, c, h, w = images.shape
    rows = math.ceil(n / nrow)
    cols = min(n, nrow)
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), fill, dtype=np.uint8)
    arr = images.permute(0, 2, 3, 1).numpy()
    if c == 1:
        arr = np.repeat(arr, 3, axis=3)
    for i in range(n):
        r, k = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + k * (w + pad)
        grid[y:y + h, x:x + w] = arr[i]
    return grid


def save_png(array: np.ndarray, path: str | Path) -> None:
    from PIL import Image

    with atomic_write(path, "wb") as fh:
        Image.fromarray(array).save(fh, format="PNG")


def loss_svg(records: Sequence[dict[str, Any]], keys: Sequence[str] = ("loss_d", "loss_g"),
             width: int = 640, height: int = 320) -> str:
    """A small line plot of ``keys`` against ``step`` as SVG text."""
    colours = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
    pts = {k: [(r["step"], r[k]) for r in records if k in r and isinstance(r[k], (int, float)) and math.isfinite(r[k])]
           for k in keys}
    allp = [p for v in pts.values() for p in v]
    m = 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
           f'font-size="11"><rect width="100%" height="100%" fill="white"/>']
    if allp:
        x0, x1 = min(p[0] for p in allp), max(p[0] for p in allp)
        y0, y1 = min(p[1] for p in allp), max(p[1] for p in allp)
        x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)

        def sx(v: float) -> float:
            return m + (v - x0) / (x1 - x0) * (width - 2 * m)

        def sy(v: float) -> float:
            return height - m - (v - y0) / (y1 - y0) * (height - 2 * m)

        out.append(f'<rect x="{m}" y="{m}" width="{width - 2 * m}" height="{height - 2 * m}" fill="none" stroke="#888"/>')
        out.append(f'<text x="{m}" y="{height - m + 15}">{x0:g}</text>'
                   f'<text x="{width - m}" y="{height - m + 15}" text-anchor="end">step {x1:g}</text>'
                   f'<text x="{m - 4}" y="{height - m}" text-anchor="end">{y0:.3g}</text>'
                   f'<text x="{m - 4}" y="{m + 4}" text-anchor="end">{y1:.3g}</text>')
        for i, (k, v) in enumerate(pts.items()):
            if not v:
                continue
            path = " ".join(f"{sx(a):.1f},{sy(b):.1f}" for a, b in v)
            col = colours[i % len(colours)]
            out.append(f'<polyline fill="none" stroke="{col}" stroke-width="1.2" points="{path}"/>')
            out.append(f'<text x="{m + 10 + 90 * i}" y="{m - 10}" fill="{col}">{k}</text>')
    out.append("</svg>\n")
    return "\n".join(out)


def save_loss_plot(records: Sequence[dict[str, Any]], path: str | Path) -> None:
    with atomic_write(path, "w") as fh:
        fh.write(loss_svg([r for r in records if "loss_d" in r]))


def default_extractor(device: torch.device) -> str:
    """inception-tf on a GPU; on a CPU (about 9 images/s for Inception) the cheap mobilenet-v2."""
    return "inception-tf" if device.type == "cuda" else "mobilenet-v2"


class PeriodicEval:
    """FID/KID of ``n`` generated images against ``real`` (uint8), reported as ``fid_<extractor>`` etc.

    ``available`` is false (and ``reason`` says why) when the feature or metric modules, or the
    extractor's weights, are missing; then :meth:`__call__` returns an empty dict.
    """

    def __init__(self, extractor: str, real: torch.Tensor, device: torch.device, batch_size: int = 100):
        self.name, self.device, self.batch_size = extractor, device, batch_size
        self.available, self.reason = False, ""
        self.real_feats: torch.Tensor | None = None
        try:
            from vislang import features

            self.extractor = features.create(extractor, device=device, batch_size=batch_size)
            from vislang.metrics.image import fid as _fid, kid as _kid  # noqa: F401

            self.real_feats = self._features(real)
            self.available = True
        except Exception as exc:  # a missing module or weight file: evaluation is optional
            self.reason = f"{type(exc).__name__}: {exc}".splitlines()[0]

    def _features(self, images: torch.Tensor) -> torch.Tensor:
        parts = [self.extractor(images[i:i + self.batch_size]).double().cpu()
                 for i in range(0, images.shape[0], self.batch_size)]
        return torch.cat(parts)

    def __call__(self, images: torch.Tensor) -> dict[str, float]:
        if not self.available:
            return {}
        from vislang.metrics.image import fid, kid

        fake = self._features(images).numpy()
        real = self.real_feats.numpy()
        return {f"fid_{self.name}": float(fid.fid_from_features(real, fake)),
                f"kid_{self.name}": float(kid.kid_from_features(real, fake)["kid_mean"])}


def generate_images(generate: Callable[[torch.Tensor], torch.Tensor], noise: torch.Tensor,
                    batch_size: int = 100) -> torch.Tensor:
    """Run ``generate`` on ``noise`` in batches under ``no_grad``; uint8 images."""
    out = []
    with torch.no_grad():
        for i in range(0, noise.shape[0], batch_size):
            out.append(to_uint8(generate(noise[i:i + batch_size])))
    return torch.cat(out)
