"""Kernel Inception Distance (Bińkowski et al., 2018, "Demystifying MMD GANs").

KID is the squared maximum mean discrepancy between real and fake features with the cubic
polynomial kernel k(x, y) = (x . y / d + 1)^3, estimated without bias (the U-statistic for the
within-set terms, the full mean for the cross term), on ``subsets`` random subsets of
``subset_size`` rows drawn without replacement from each side; the result is the mean and the
(population) standard deviation over subsets, as in clean-fid and torch-fidelity
(defaults 100 subsets of 1000).  For one subset pair X, Y of m rows:

    MMD^2 = [sum_{i!=j} k(x_i, x_j) + sum_{i!=j} k(y_i, y_j)] / (m (m - 1)) - 2 sum_{i,j} k(x_i, y_j) / m^2
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from vislang.errors import InputError
from vislang.metrics.base import Metric
from vislang.metrics.image.samples import RowStore


def polynomial_kernel(x: Any, y: Any, degree: int = 3, coef0: float = 1.0) -> Any:
    """k(x, y) = (x . y / d + coef0)^degree, the KID kernel (NumPy arrays or tensors)."""
    return (x @ y.T / x.shape[1] + coef0) ** degree


def mmd2_unbiased(x: Any, y: Any) -> float:
    """Unbiased MMD^2 estimate between two equally sized subsets with the cubic kernel (float64)."""
    x = torch.as_tensor(x, dtype=torch.float64)
    y = torch.as_tensor(y, dtype=torch.float64)
    m = x.shape[0]
    kxx = polynomial_kernel(x, x)
    kyy = polynomial_kernel(y, y)
    kxy = polynomial_kernel(x, y)
    within = (kxx.sum() - kxx.trace() + kyy.sum() - kyy.trace()) / (m * (m - 1))
    return float(within - 2.0 * kxy.sum() / (m * m))


def kid_subset_indices(n_real: int, n_fake: int, subset_size: int, subsets: int, seed: int
                       ) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (real, fake) row indices of each subset: a pure function of the sizes and the seed."""
    rng = np.random.default_rng(seed)
    return [(rng.choice(n_real, subset_size, replace=False), rng.choice(n_fake, subset_size, replace=False))
            for _ in range(subsets)]


def kid_from_features(real: np.ndarray, fake: np.ndarray, subset_size: int = 1000, subsets: int = 100,
                      seed: int = 0, indices: Sequence[tuple[np.ndarray, np.ndarray]] | None = None
                      ) -> dict[str, Any]:
    """KID mean and std over subsets; ``indices`` overrides the seeded subsets (list of (real_idx, fake_idx))."""
    real = np.asarray(real, dtype=np.float64)
    fake = np.asarray(fake, dtype=np.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise InputError(f"KID: real {real.shape} and fake {fake.shape} features must be N x d with the same d")
    n = min(len(real), len(fake))
    if n < 2:
        raise InputError(f"KID needs at least 2 images on each side, got {len(real)} real and {len(fake)} fake")
    m = min(subset_size, n)  # as clean-fid: shrink the subset to the smaller set
    if indices is None:
        indices = kid_subset_indices(len(real), len(fake), m, subsets, seed)
    values = np.array([mmd2_unbiased(real[ri], fake[fi]) for ri, fi in indices], dtype=np.float64)
    return {"kid_mean": float(values.mean()), "kid_std": float(values.std()), "kid_subset_size": int(m),
            "kid_subsets": int(len(values))}


class KID(Metric):
    """KID as a metric object: ``update(features, real=True|False, index=None)``; keeps the rows."""

    name = "kid"

    def __init__(self, subset_size: int = 1000, subsets: int = 100, seed: int = 0):
        self.subset_size, self.subsets, self.seed = subset_size, subsets, seed
        self.reset()

    def reset(self) -> None:
        self.real, self.fake = RowStore(), RowStore()

    def update(self, features: Any, real: bool = False, index: Any = None) -> None:
        (self.real if real else self.fake).add(features, index)

    def merge(self, other: "KID") -> "KID":
        self._check_mergeable(other)
        self.real.merge(other.real)
        self.fake.merge(other.fake)
        return self

    def compute(self) -> dict[str, Any]:
        return kid_from_features(self.real.rows(), self.fake.rows(), self.subset_size, self.subsets, self.seed)
