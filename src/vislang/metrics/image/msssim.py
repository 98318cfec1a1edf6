"""Multi-scale SSIM (Wang, Simoncelli & Bovik, 2003, "Multiscale structural similarity for image
quality assessment") and the mean pairwise MS-SSIM of a generated set as a diversity measure
(as used by Odena et al., 2017).

SSIM components on 8-bit images (dynamic range L = 255, C1 = (0.01 L)^2, C2 = (0.03 L)^2), with
local statistics from an 11 x 11 Gaussian window of sigma 1.5 and no padding ("valid"):

    l  = (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1)
    cs = (2 sigma_xy + C2) / (sigma_x^2 + sigma_y^2 + C2)

each averaged over the image.  Between scales the image is low-pass filtered and halved by 2 x 2
averaging.  MS-SSIM = SSIM_M^{w_M} prod_{j=1..M-1} cs_j^{w_j}, where SSIM_M is the mean of the
l * cs map at the coarsest scale (as in the authors' reference code; the paper writes it as
l_M^{w_M} prod_j cs_j^{w_j}), with the five published weights (0.0448, 0.2856, 0.3001, 0.2363,
0.1333).  Values below 0 are clamped to 0 before the power (as TensorFlow's ``ssim_multiscale``
does), so the result is never NaN.  With one scale it is plain mean SSIM.

Small images: five scales need the smallest side to reach 11 px at the fifth scale, i.e. > 160 px.
Smaller images use the largest M < 5 scales that fit (side after M - 1 halvings >= 11) and the
first M weights renormalised to sum to 1 (a 64 px image gets 3 scales, a 28 px image 2).  Images
under 11 px are refused.  Colour images: MS-SSIM per channel, then the mean over channels.

``msssim_diversity`` is the mean MS-SSIM over random distinct pairs of generated images: 1 means
all images identical; LOWER means MORE diverse.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as Fn

from vislang.errors import InputError
from vislang.metrics.base import Metric

WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WIN, SIGMA = 11, 1.5
L = 255.0
C1, C2 = (0.01 * L) ** 2, (0.03 * L) ** 2


def _window(dtype: torch.dtype, device: Any) -> torch.Tensor:
    x = torch.arange(WIN, dtype=torch.float64) - (WIN - 1) / 2
    g = torch.exp(-(x ** 2) / (2 * SIGMA ** 2))
    g = g / g.sum()
    return g.to(dtype=dtype, device=device)


def _blur(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Separable valid Gaussian filter of B x 1 x H x W."""
    x = Fn.conv2d(x, g.view(1, 1, 1, -1))
    return Fn.conv2d(x, g.view(1, 1, -1, 1))


def _ssim_components(x: torch.Tensor, y: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean SSIM (l * cs map) and mean contrast-structure term per image (B x 1 x H x W inputs)."""
    mx, my = _blur(x, g), _blur(y, g)
    sxx = _blur(x * x, g) - mx * mx
    syy = _blur(y * y, g) - my * my
    sxy = _blur(x * y, g) - mx * my
    lum = (2 * mx * my + C1) / (mx * mx + my * my + C1)
    cs = (2 * sxy + C2) / (sxx + syy + C2)
    return (lum * cs).mean((1, 2, 3)), cs.mean((1, 2, 3))


def n_scales(height: int, width: int) -> int:
    """How many of the 5 scales fit an image of this size (see the module docstring)."""
    side = min(height, width)
    if side < WIN:
        raise InputError(f"MS-SSIM needs images of at least {WIN} x {WIN} pixels, got {height} x {width}")
    m = 1
    while m < len(WEIGHTS) and -(-side // 2 ** m) >= WIN:  # ceil(side / 2^m)
        m += 1
    return m


def ms_ssim(a: Any, b: Any, scales: int | None = None) -> torch.Tensor:
    """MS-SSIM of image pairs: ``a``, ``b`` are uint8 (or 0..255 float) N x C x H x W; returns N values."""
    x = torch.as_tensor(a).to(torch.float64)
    y = torch.as_tensor(b).to(torch.float64)
    if x.shape != y.shape or x.ndim != 4:
        raise InputError(f"MS-SSIM needs two N x C x H x W batches of the same shape, got {tuple(x.shape)} "
                         f"and {tuple(y.shape)}")
    n, c, h, w = x.shape
    m = scales or n_scales(h, w)
    weights = torch.tensor(WEIGHTS[:m], dtype=torch.float64)
    weights = weights / weights.sum()
    g = _window(torch.float64, x.device)
    x = x.reshape(n * c, 1, h, w)
    y = y.reshape(n * c, 1, h, w)
    cs_all = []
    ssim_last = None
    for j in range(m):
        ssim_last, cs = _ssim_components(x, y, g)
        cs_all.append(cs.clamp_min(0.0))
        if j < m - 1:
            x = Fn.avg_pool2d(x, 2, ceil_mode=True)
            y = Fn.avg_pool2d(y, 2, ceil_mode=True)
    cs_stack = torch.stack(cs_all, 1)                      # (n c) x m
    val = torch.prod(cs_stack[:, :-1] ** weights[:-1], 1) * ssim_last.clamp_min(0.0) ** weights[-1]
    return val.view(n, c).mean(1)


def sample_pairs(n: int, pairs: int, seed: int) -> np.ndarray:
    """``min(pairs, n (n - 1) / 2)`` distinct unordered pairs (i < j) of 0..n-1, a pure function of the seed."""
    if n < 2:
        raise InputError(f"MS-SSIM diversity needs at least 2 images, got {n}")
    total = n * (n - 1) // 2
    rng = np.random.default_rng(seed)
    if total <= pairs:
        i, j = np.triu_indices(n, 1)
        return np.stack([i, j], 1)
    chosen: set[tuple[int, int]] = set()
    while len(chosen) < pairs:
        i, j = rng.integers(0, n, size=(2, 2 * (pairs - len(chosen))))
        for a, b in zip(i.tolist(), j.tolist()):
            if a != b and len(chosen) < pairs:
                chosen.add((min(a, b), max(a, b)))
    return np.array(sorted(chosen), dtype=np.int64)


class MSSSIMDiversity(Metric):
    """Mean MS-SSIM over seeded random pairs of a set of ``n`` images fed in any order and any shards.

    ``update(images, index=None)`` keeps only the images that some pair needs, so memory is bounded by
    2 x ``pairs`` images whatever ``n``.
    """

    name = "msssim"

    def __init__(self, n: int, pairs: int = 1000, seed: int = 0, batch_size: int = 64):
        self.n, self.pairs, self.seed, self.batch_size = int(n), int(pairs), int(seed), int(batch_size)
        self.pair_index = sample_pairs(self.n, self.pairs, self.seed)
        self._needed = set(self.pair_index.reshape(-1).tolist())
        self.reset()

    def reset(self) -> None:
        self.images: dict[int, torch.Tensor] = {}
        self._next = 0

    def update(self, images: Any, index: Any = None) -> None:
        imgs = torch.as_tensor(images)
        idx = (np.arange(self._next, self._next + len(imgs)) if index is None
               else np.asarray(index, dtype=np.int64).reshape(-1))
        self._next = max(self._next, int(idx.max()) + 1) if len(idx) else self._next
        for k, i in enumerate(idx.tolist()):
            if i in self._needed:
                self.images[i] = imgs[k].clone()

    def merge(self, other: "MSSSIMDiversity") -> "MSSSIMDiversity":
        self._check_mergeable(other)
        self.images.update(other.images)
        self._next = max(self._next, other._next)
        return self

    def compute(self) -> dict[str, Any]:
        missing = self._needed - set(self.images)
        if missing:
            raise InputError(f"MS-SSIM diversity: {len(missing)} of the sampled images never arrived "
                             f"(expected {self.n} images)")
        vals = []
        for lo in range(0, len(self.pair_index), self.batch_size):
            p = self.pair_index[lo:lo + self.batch_size]
            a = torch.stack([self.images[i] for i in p[:, 0].tolist()])
            b = torch.stack([self.images[j] for j in p[:, 1].tolist()])
            vals.append(ms_ssim(a, b))
        v = torch.cat(vals)
        self.values = v.numpy()  # per-pair MS-SSIM, in pair order (for bootstrap intervals)
        return {"msssim_diversity": float(v.mean()), "msssim_pairs": int(len(v)),
                "msssim_scales": n_scales(*next(iter(self.images.values())).shape[-2:])}


def msssim_diversity(images: Any, pairs: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Mean MS-SSIM over seeded random pairs of ``images`` (uint8 N x C x H x W); lower = more diverse."""
    imgs = torch.as_tensor(images)
    m = MSSSIMDiversity(len(imgs), pairs, seed)
    m.update(imgs)
    return m.compute()
