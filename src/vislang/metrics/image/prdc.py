"""Improved precision and recall (Kynkäänniemi et al., 2019, "Improved Precision and Recall Metric
for Assessing Generative Models", k = 3) and density and coverage (Naeem et al., 2020, "Reliable
Fidelity and Diversity Metrics for Generative Models", k = 5).

With r_k(x) the distance from x to its k-th nearest neighbour in its own set (the point itself
not counted), real rows R and fake rows F:

* precision = mean over f in F of [ exists r in R: |f - r| < r_k(r) ]
* recall    = mean over r in R of [ exists f in F: |r - f| < r_k(f) ]
* density   = (1 / k) mean over f in F of #{ r in R: |f - r| < r_k(r) }
* coverage  = mean over r in R of [ min_f |r - f| < r_k(r) ]

Strict inequalities, as in the reference ``prdc`` package (Naeem et al.'s code).  Distances are
computed in blocks (``torch.cdist`` on row chunks, float64 by default), so neither the
N_real x N_real nor the N_real x N_fake matrix is ever held whole: 50k x 50k fits in memory,
the block size is set by ``max_block_bytes``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from vislang.errors import InputError
from vislang.metrics.base import Metric
from vislang.metrics.image.samples import RowStore

DEFAULT_BLOCK_BYTES = 64 * 2**20


def _chunk(n_other: int, itemsize: int, max_block_bytes: int) -> int:
    return max(1, int(max_block_bytes // max(1, n_other * itemsize)))


def knn_radii(x: torch.Tensor, k: int, max_block_bytes: int = DEFAULT_BLOCK_BYTES) -> torch.Tensor:
    """Distance from each row to its k-th nearest other row (the (k+1)-th smallest, self included)."""
    n = x.shape[0]
    if n < k + 1:
        raise InputError(f"k-NN radius with k={k} needs at least {k + 1} rows, got {n}")
    step = _chunk(n, x.element_size(), max_block_bytes)
    out = torch.empty(n, dtype=x.dtype, device=x.device)
    for lo in range(0, n, step):
        d = torch.cdist(x[lo:lo + step], x)
        out[lo:lo + step] = torch.kthvalue(d, k + 1, dim=1).values
    return out


def prdc_from_features(real: Any, fake: Any, k_pr: int = 3, k_dc: int = 5, device: str | None = None,
                       dtype: torch.dtype = torch.float64, max_block_bytes: int = DEFAULT_BLOCK_BYTES
                       ) -> dict[str, float]:
    """Precision/recall with ``k_pr`` neighbours and density/coverage with ``k_dc`` neighbours."""
    r = torch.as_tensor(np.asarray(real) if not isinstance(real, torch.Tensor) else real)
    f = torch.as_tensor(np.asarray(fake) if not isinstance(fake, torch.Tensor) else fake)
    if r.ndim != 2 or f.ndim != 2 or r.shape[1] != f.shape[1]:
        raise InputError(f"PRDC: real {tuple(r.shape)} and fake {tuple(f.shape)} features must be N x d with the same d")
    r = r.to(device=device or "cpu", dtype=dtype)
    f = f.to(device=device or "cpu", dtype=dtype)
    for name, t in (("real", r), ("fake", f)):
        if not bool(torch.isfinite(t).all()):
            raise InputError(f"PRDC: {name} features contain NaN or infinite values")
    kmax = max(k_pr, k_dc)
    if min(len(r), len(f)) < kmax + 1:
        raise InputError(f"precision/recall/density/coverage need more than {kmax} images on each side, "
                         f"got {len(r)} real and {len(f)} fake")
    rr_pr, rr_dc = knn_radii(r, k_pr, max_block_bytes), knn_radii(r, k_dc, max_block_bytes)
    rf_pr = knn_radii(f, k_pr, max_block_bytes)

    n_r, n_f = len(r), len(f)
    precise = torch.zeros(n_f, dtype=torch.bool, device=r.device)
    density_count = torch.zeros(n_f, dtype=torch.float64, device=r.device)
    recalled = torch.zeros(n_r, dtype=torch.bool, device=r.device)
    nearest_fake = torch.full((n_r,), float("inf"), dtype=dtype, device=r.device)
    step = _chunk(n_r, r.element_size(), max_block_bytes)
    for lo in range(0, n_f, step):
        d = torch.cdist(r, f[lo:lo + step])                 # n_r x chunk
        precise[lo:lo + step] = (d < rr_pr[:, None]).any(0)
        density_count[lo:lo + step] = (d < rr_dc[:, None]).sum(0).to(torch.float64)
        recalled |= (d < rf_pr[None, lo:lo + step]).any(1)
        nearest_fake = torch.minimum(nearest_fake, d.min(1).values)
    return {
        "precision": float(precise.double().mean()),
        "recall": float(recalled.double().mean()),
        "density": float(density_count.mean() / k_dc),
        "coverage": float((nearest_fake < rr_dc).double().mean()),
    }


class PRDC(Metric):
    """Precision/recall/density/coverage as a metric object: ``update(features, real=True|False, index=None)``."""

    name = "prdc"

    def __init__(self, k_pr: int = 3, k_dc: int = 5, device: str | None = None):
        self.k_pr, self.k_dc, self.device = k_pr, k_dc, device
        self.reset()

    def reset(self) -> None:
        self.real, self.fake = RowStore(), RowStore()

    def update(self, features: Any, real: bool = False, index: Any = None) -> None:
        (self.real if real else self.fake).add(features, index)

    def merge(self, other: "PRDC") -> "PRDC":
        self._check_mergeable(other)
        self.real.merge(other.real)
        self.fake.merge(other.fake)
        return self

    def compute(self) -> dict[str, Any]:
        return prdc_from_features(self.real.rows(), self.fake.rows(), self.k_pr, self.k_dc, self.device)
