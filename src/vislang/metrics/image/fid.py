"""Fréchet Inception Distance (Heusel et al., 2017, "GANs Trained by a Two Time-Scale Update Rule
Converge to a Local Nash Equilibrium").

FID is the Fréchet (2-Wasserstein) distance between two Gaussians fitted to feature rows:

    FID = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr( (S1 S2)^(1/2) )

The state is streaming float64 sums (sum x, sum x x^T, n), so memory is O(d^2) whatever the
number of images, and shards merge exactly by addition.

``tr((S1 S2)^(1/2))`` is computed without ``scipy.linalg.sqrtm``.  For any factor F with
S1 = F F^T, the matrix F^T S2 F is symmetric positive semi-definite and has the same eigenvalues
as S1 S2 (they are similar: S1 S2 = F (F^T S2 F) F^{-1} when F is invertible, and the non-zero
eigenvalues of AB and BA agree in general), so

    tr((S1 S2)^(1/2)) = sum_i sqrt(lambda_i(F^T S2 F)).

F is the Cholesky factor of S1 when S1 is positive definite (fast path: ``torch.linalg.cholesky_ex``,
then F^T S2 F from blocked matrix products that skip the zero blocks of the triangular F and compute
only the lower triangle of the symmetric result, then one ``torch.linalg.eigvalsh``; every step is a
call into the BLAS/LAPACK that torch links, MKL on x86 Linux, on torch's thread pool), otherwise the
symmetric square root V diag(sqrt(max(w, 0))) V^T from the eigendecomposition S1 = V diag(w) V^T
(the guard for near-singular covariances, e.g. fewer samples than dimensions).  No step inverts
anything, so a Cholesky factor that exists is usable however small its pivots.  Eigenvalues of
F^T S2 F that come out slightly negative through rounding are clamped to 0 before the square root,
and the final distance is clamped to >= 0, so the result is always a finite real number.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from vislang.errors import InputError
from vislang.metrics.base import Metric

#: Below this many samples a 2048-d covariance is rank deficient and FID is strongly biased.
MIN_SAMPLES_2048 = 2048


def _as_f64(x: Any) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach().to(device="cpu", dtype=torch.float64)
    return torch.from_numpy(np.ascontiguousarray(np.asarray(x, dtype=np.float64)))


def _eigh_sqrt(sigma: torch.Tensor) -> torch.Tensor:
    """The symmetric square root V diag(sqrt(max(w, 0))) V^T of a symmetric PSD matrix (the guard)."""
    w, V = torch.linalg.eigh(sigma)
    return (V * w.clamp_min(0.0).sqrt()) @ V.T


#: Block size of the triangular products in :func:`_sandwich` (256 measured faster than 128 or 512).
_BLOCK = 256


def _sandwich(L: torch.Tensor, S: torch.Tensor, block: int = _BLOCK) -> torch.Tensor:
    """L^T S L for lower-triangular L and symmetric S, returned *transposed*: a tensor whose upper
    triangle holds the result (its lower triangle is left unset), laid out column-major so that
    ``eigvalsh(..., UPLO="U")`` reads it without a transposing copy.

    Only the lower triangle of C = L^T S L is formed, by row blocks I:  C[I, :i+b] = L[i:, I]^T M[i:, :i+b]
    with M = S L; of M only the rows j: of column block J are needed (row block I >= J reads them), and
    those are S[j:, j:] L[j:, J] because L[:, J] is zero above row j.  M is kept as M^T (row-major
    rows).  About d^3 flops in all (2/3 d^3 for M, 1/3 d^3 for C), the count of LAPACK's ``dsygst``,
    all in GEMM.
    """
    d = L.shape[0]
    LT = L.T
    MT = torch.empty_like(S)
    for j in range(0, d, block):
        torch.mm(LT[j:j + block, j:], S[j:, j:], out=MT[j:j + block, j:])
    C = torch.empty_like(S)
    for i in range(0, d, block):
        torch.mm(LT[i:i + block, i:], MT[:i + block, i:].T, out=C[i:i + block, :i + block])
    return C.T


def trace_sqrt_product(sigma1: Any, sigma2: Any) -> float:
    """``tr((sigma1 sigma2)^(1/2))`` for symmetric PSD matrices, through a symmetric eigenproblem.

    Fast path: S1 = L L^T (``torch.linalg.cholesky_ex``, its lower triangle), C = L^T S2 L
    (:func:`_sandwich`, one triangle), eigenvalues of C (``torch.linalg.eigvalsh`` on that
    triangle).  Guard, when S1 is not numerically positive definite or C's eigenvalues are not
    finite: F = the eigen-square-root of S1 and C = F^T S2 F.  Negative eigenvalues of C (rounding)
    are clamped to 0.
    """
    s1, s2 = _as_f64(sigma1), _as_f64(sigma2)
    lam = None
    L, info = torch.linalg.cholesky_ex(s1)
    if int(info) == 0:
        lam = torch.linalg.eigvalsh(_sandwich(L, s2), UPLO="U")
        if not bool(torch.isfinite(lam).all()):
            lam = None
    if lam is None:  # not numerically positive definite: the eigendecomposition guard
        F = _eigh_sqrt((s1 + s1.T) / 2)
        lam = torch.linalg.eigvalsh(F.T @ (s2 @ F))
    return float(lam.clamp_min(0.0).sqrt().sum())


def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2); see the module docstring.

    Accepts NumPy arrays or tensors; computes in float64; never returns NaN or a complex number.
    """
    m1, m2 = _as_f64(mu1).reshape(-1), _as_f64(mu2).reshape(-1)
    s1, s2 = _as_f64(sigma1), _as_f64(sigma2)
    d = m1.shape[0]
    if m2.shape[0] != d or s1.shape != (d, d) or s2.shape != (d, d):
        raise InputError(f"Fréchet distance: shapes do not match (mu1 {tuple(m1.shape)}, sigma1 {tuple(s1.shape)}, "
                         f"mu2 {tuple(m2.shape)}, sigma2 {tuple(s2.shape)}); both statistics must come from the "
                         "same extractor")
    for name, t in (("mu1", m1), ("sigma1", s1), ("mu2", m2), ("sigma2", s2)):
        if not bool(torch.isfinite(t).all()):
            raise InputError(f"Fréchet distance: {name} contains NaN or infinite values")
    diff = m1 - m2
    value = float(diff @ diff) + float(torch.trace(s1)) + float(torch.trace(s2)) - 2.0 * trace_sqrt_product(s1, s2)
    return max(value, 0.0)


class FeatureMoments(Metric):
    """Streaming float64 sums of feature rows: n, sum x, sum x x^T -> mean and covariance (ddof=1)."""

    name = "moments"

    def __init__(self, dim: int | None = None):
        self.dim = dim
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.sum = None if self.dim is None else torch.zeros(self.dim, dtype=torch.float64)
        self.outer = None if self.dim is None else torch.zeros(self.dim, self.dim, dtype=torch.float64)

    def update(self, features: Any) -> None:
        x = _as_f64(features)
        if x.ndim != 2:
            raise InputError(f"features must be an N x d matrix, got shape {tuple(x.shape)}")
        if not bool(torch.isfinite(x).all()):
            raise InputError("features contain NaN or infinite values; check the images and the extractor")
        if self.sum is None:
            self.dim = x.shape[1]
            self.sum = torch.zeros(self.dim, dtype=torch.float64)
            self.outer = torch.zeros(self.dim, self.dim, dtype=torch.float64)
        if x.shape[1] != self.dim:
            raise InputError(f"features have dimension {x.shape[1]}, earlier batches had {self.dim}")
        self.n += x.shape[0]
        self.sum += x.sum(0)
        self.outer.addmm_(x.T, x)

    def merge(self, other: "FeatureMoments") -> "FeatureMoments":
        self._check_mergeable(other)
        if other.sum is None:
            return self
        if self.sum is None:
            self.dim, self.sum, self.outer = other.dim, other.sum.clone(), other.outer.clone()
        elif other.dim != self.dim:
            raise InputError(f"cannot merge feature moments of dimension {other.dim} into {self.dim}")
        else:
            self.sum += other.sum
            self.outer += other.outer
        self.n += other.n
        return self

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        if self.n < 2:
            raise InputError(f"FID needs at least 2 images on each side, got {self.n}")
        mu = self.sum / self.n
        cov = (self.outer - self.n * torch.outer(mu, mu)) / (self.n - 1)
        cov = (cov + cov.T) / 2
        return mu.numpy(), cov.numpy()

    def compute(self) -> dict[str, Any]:
        mu, sigma = self.mean_cov()
        return {"mu": mu, "sigma": sigma, "n": self.n}

    def to_tensors(self) -> list[torch.Tensor]:
        """[n, sum, outer] as float64 tensors, for a tensor all-reduce (``torch.distributed``)."""
        return [torch.tensor([float(self.n)], dtype=torch.float64), self.sum, self.outer]


def _warn_few(n: int, d: int, side: str) -> None:
    if d >= MIN_SAMPLES_2048 and n < MIN_SAMPLES_2048:
        warnings.warn(f"FID: only {n} {side} samples for {d}-d features; the covariance is rank deficient below "
                      f"{MIN_SAMPLES_2048} samples and FID is strongly biased upward. Use >= 10,000 images to "
                      "compare models", RuntimeWarning, stacklevel=3)


class FID(Metric):
    """FID between a real and a fake set of features (``update(features, real=True|False)``).

    The real side may instead be fixed statistics: ``FID.with_reference(mu, sigma, n)``.
    """

    name = "fid"

    def __init__(self) -> None:
        self.real = FeatureMoments()
        self.fake = FeatureMoments()
        self.reference: tuple[np.ndarray, np.ndarray, int] | None = None

    @classmethod
    def with_reference(cls, mu: np.ndarray, sigma: np.ndarray, n: int) -> "FID":
        m = cls()
        m.reference = (np.asarray(mu, np.float64), np.asarray(sigma, np.float64), int(n))
        return m

    def reset(self) -> None:
        self.real.reset()
        self.fake.reset()

    def update(self, features: Any, real: bool = False) -> None:
        if real and self.reference is not None:
            raise InputError("FID: the real side is fixed reference statistics; update only the fake side")
        (self.real if real else self.fake).update(features)

    def merge(self, other: "FID") -> "FID":
        self._check_mergeable(other)
        self.real.merge(other.real)
        self.fake.merge(other.fake)
        return self

    def compute(self) -> dict[str, Any]:
        if self.reference is not None:
            mu1, s1, n1 = self.reference
        else:
            mu1, s1 = self.real.mean_cov()
            n1 = self.real.n
        mu2, s2 = self.fake.mean_cov()
        if mu1.shape != mu2.shape:
            raise InputError(f"FID: real statistics have dimension {mu1.shape[0]} but fake features have "
                             f"{mu2.shape[0]}; use the same extractor for both")
        _warn_few(n1, mu1.shape[0], "real")
        _warn_few(self.fake.n, mu2.shape[0], "fake")
        return {"fid": frechet_distance(mu1, s1, mu2, s2), "n_real": n1, "n_fake": self.fake.n}


def fid_from_features(real: np.ndarray, fake: np.ndarray) -> float:
    """FID of two feature matrices (convenience wrapper around :class:`FID`)."""
    m = FID()
    m.update(real, real=True)
    m.update(fake, real=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return m.compute()["fid"]
