"""FID: the eigendecomposition Fréchet distance against pytorch-fid's sqrtm formula, streaming moments
against NumPy, the near-singular guard, and bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from image_oracles import pytorch_fid_frechet
from vislang.errors import InputError
from vislang.metrics.image import FID, FeatureMoments, fid_from_features, frechet_distance


def _stats(rng, n, d, scale=1.0, shift=0.0):
    x = rng.normal(size=(n, d)) * scale + shift
    x[:, : d // 4] *= np.linspace(0.2, 3.0, d // 4)  # unequal variances
    return x.mean(0), np.cov(x, rowvar=False)


@pytest.fixture(scope="module")
def reference_fd():
    return pytorch_fid_frechet()


@pytest.mark.parametrize("d", [64, 160, 320])  # 320: two blocks of the GEMM route, the second partial
def test_frechet_distance_equals_pytorch_fid_sqrtm(reference_fd, d):
    rng = np.random.default_rng(d)
    mu1, s1 = _stats(rng, 3 * d, d)
    mu2, s2 = _stats(rng, 3 * d, d, scale=1.2, shift=0.05)
    ours = frechet_distance(mu1, s1, mu2, s2)
    ref = float(reference_fd(mu1, s1, mu2, s2))
    assert ours == pytest.approx(ref, rel=1e-6)
    # symmetric in its two arguments, zero for identical statistics
    assert frechet_distance(mu2, s2, mu1, s1) == pytest.approx(ours, rel=1e-9)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-8 * np.trace(s1))


@pytest.mark.parametrize("d, block", [(1, 256), (37, 8), (100, 32), (100, 100), (130, 64)])
def test_blocked_sandwich_equals_numpy_product(d, block):
    from vislang.metrics.image.fid import _sandwich

    rng = np.random.default_rng(d + block)
    x, y = rng.normal(size=(d + 3, d)), rng.normal(size=(d + 7, d))
    s1, s2 = x.T @ x / d, y.T @ y / d
    L = np.linalg.cholesky(s1)
    expected = L.T @ s2 @ L
    got = _sandwich(torch.from_numpy(L), torch.from_numpy(s2), block=block).numpy()
    iu = np.triu_indices(d)  # the triangle the route fills (the other is left unset)
    np.testing.assert_allclose(got[iu], expected[iu], rtol=1e-12, atol=1e-12 * np.abs(expected).max())


def test_hand_worked_one_dimensional_and_diagonal_case():
    # 1-d: (m1 - m2)^2 + (s1 - s2)^2 for standard deviations s1, s2
    assert frechet_distance([0.0], [[4.0]], [3.0], [[1.0]]) == pytest.approx(9.0 + (2.0 - 1.0) ** 2)
    # diagonal covariances: sum over axes of the 1-d formula
    v1, v2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
    expected = np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2) + 1.0
    assert frechet_distance([1, 0, 0], np.diag(v1), [0, 0, 0], np.diag(v2)) == pytest.approx(expected)


def test_near_singular_covariances_are_finite_and_match_reference(reference_fd):
    rng = np.random.default_rng(7)
    d = 96
    a, b = rng.normal(size=(40, d)), rng.normal(size=(50, d)) + 0.1  # n < d: singular covariances
    mu1, s1, mu2, s2 = a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    assert np.linalg.matrix_rank(s1) < d
    ours = frechet_distance(mu1, s1, mu2, s2)
    assert np.isfinite(ours) and ours > 0 and isinstance(ours, float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = float(np.real(reference_fd(mu1, s1, mu2, s2)))
    assert ours == pytest.approx(ref, rel=1e-5)
    # a zero covariance (one repeated image) is the extreme case: tr(S2) + |dmu|^2 exactly
    assert frechet_distance(mu1, np.zeros((d, d)), mu2, s2) == pytest.approx(
        float(np.sum((mu1 - mu2) ** 2) + np.trace(s2)), rel=1e-9)


def test_moments_stream_and_merge_equal_numpy():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(301, 12)) * 3 + 5
    m = FeatureMoments()
    for lo in range(0, len(x), 64):
        m.update(x[lo:lo + 64])
    mu, cov = m.mean_cov()
    np.testing.assert_allclose(mu, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(cov, np.cov(x, rowvar=False), rtol=1e-9, atol=1e-12)
    a, b = FeatureMoments(), FeatureMoments()
    a.update(x[:100])
    b.update(torch.from_numpy(x[100:]))
    a.merge(b)
    np.testing.assert_allclose(a.mean_cov()[1], cov, rtol=1e-10, atol=1e-12)
    assert a.n == 301


def test_fid_metric_equals_function_and_warns_below_2048(monkeypatch):
    rng = np.random.default_rng(2)
    r, f = rng.normal(size=(200, 8)), rng.normal(size=(150, 8)) + 0.3
    metric = FID()
    metric.update(r[:90], real=True)
    metric.update(r[90:], real=True)
    metric.update(f, real=False)
    out = metric.compute()
    expected = frechet_distance(r.mean(0), np.cov(r, rowvar=False), f.mean(0), np.cov(f, rowvar=False))
    assert out["fid"] == pytest.approx(expected, rel=1e-9)
    assert (out["n_real"], out["n_fake"]) == (200, 150)
    ref = FID.with_reference(r.mean(0), np.cov(r, rowvar=False), 200)
    ref.update(f)
    assert ref.compute()["fid"] == pytest.approx(expected, rel=1e-9)
    # the warning depends only on n and d: skip the 2048-d distance itself to keep the test fast
    import vislang.metrics.image.fid as fid_module

    monkeypatch.setattr(fid_module, "frechet_distance", lambda *a: 0.0)
    big = FID()
    big.update(rng.normal(size=(10, 2048)), real=True)
    big.update(rng.normal(size=(10, 2048)))
    with pytest.warns(RuntimeWarning, match="2048"):
        big.compute()
    small = FID()
    small.update(rng.normal(size=(10, 64)), real=True)
    small.update(rng.normal(size=(10, 64)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small.compute()  # 64-d features: no warning


def test_fid_bad_input():
    rng = np.random.default_rng(3)
    with pytest.raises(InputError, match="at least 2"):
        fid_from_features(rng.normal(size=(1, 4)), rng.normal(size=(5, 4)))
    bad = rng.normal(size=(5, 4))
    bad[2, 1] = np.nan
    with pytest.raises(InputError, match="NaN"):
        fid_from_features(rng.normal(size=(5, 4)), bad)
    with pytest.raises(InputError, match="same extractor"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(InputError, match="dimension"):
        fid_from_features(rng.normal(size=(5, 4)), rng.normal(size=(5, 3)))
