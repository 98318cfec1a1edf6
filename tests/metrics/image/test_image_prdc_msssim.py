"""Precision/recall/density/coverage against the prdc package; MS-SSIM against scikit-image's SSIM
(single scale) and hand-worked cases; MS-SSIM diversity pairing."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch
from prdc import compute_prdc
from skimage.metrics import structural_similarity

from vislang.errors import InputError
from vislang.metrics.image import PRDC, MSSSIMDiversity, knn_radii, ms_ssim, msssim_diversity, prdc_from_features
from vislang.metrics.image.msssim import C1, WEIGHTS, n_scales, sample_pairs


def _prdc_ref(real, fake, k):
    with contextlib.redirect_stdout(io.StringIO()):  # compute_prdc prints the set sizes
        return compute_prdc(real, fake, k)


@pytest.fixture(scope="module")
def feats():
    rng = np.random.default_rng(0)
    return (rng.normal(size=(500, 64)).astype(np.float32),
            (rng.normal(size=(500, 64)) * 1.15 + 0.1).astype(np.float32))


def test_prdc_equals_prdc_package(feats):
    real, fake = feats
    ref3, ref5 = _prdc_ref(real, fake, 3), _prdc_ref(real, fake, 5)
    ours = prdc_from_features(real, fake, k_pr=3, k_dc=5)
    assert ours["precision"] == pytest.approx(float(ref3["precision"]), abs=1e-12)
    assert ours["recall"] == pytest.approx(float(ref3["recall"]), abs=1e-12)
    assert ours["density"] == pytest.approx(float(ref5["density"]), abs=1e-12)
    assert ours["coverage"] == pytest.approx(float(ref5["coverage"]), abs=1e-12)
    # tiny blocks (many chunks) give the same numbers as one block
    assert prdc_from_features(real, fake, max_block_bytes=20_000) == ours


def test_prdc_metric_merge_and_radii(feats):
    real, fake = feats
    real, fake = real[:120], fake[:100]
    m1, m2 = PRDC(), PRDC()
    m1.update(real[:70], real=True, index=np.arange(70))
    m2.update(real[70:], real=True, index=np.arange(70, 120))
    m2.update(fake, real=False)
    assert m1.merge(m2).compute() == prdc_from_features(real, fake)
    # radius = distance to the k-th nearest other point, by brute force
    d = np.linalg.norm(real[:, None, :].astype(np.float64) - real[None, :, :], axis=2)
    np.testing.assert_allclose(knn_radii(torch.from_numpy(real).double(), 3).numpy(), np.sort(d, 1)[:, 3], rtol=1e-9)
    with pytest.raises(InputError, match="more than 5"):
        prdc_from_features(real[:5], fake)


def test_single_scale_ssim_equals_skimage():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (2, 3, 40, 37), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-50, 50, a.shape), 0, 255).astype(np.uint8)
    ours = ms_ssim(torch.from_numpy(a), torch.from_numpy(b), scales=1).numpy()
    for i in range(2):
        ref = np.mean([structural_similarity(a[i, c].astype(float), b[i, c].astype(float), gaussian_weights=True,
                                             sigma=1.5, use_sample_covariance=False, data_range=255)
                       for c in range(3)])
        assert ours[i] == pytest.approx(ref, abs=1e-10)


def test_ms_ssim_hand_worked_cases():
    rng = np.random.default_rng(2)
    x = torch.from_numpy(rng.integers(0, 256, (3, 3, 64, 64), dtype=np.uint8))
    torch.testing.assert_close(ms_ssim(x, x), torch.ones(3, dtype=torch.float64))
    # constant images a and b: cs = 1 at every scale, so MS-SSIM = l^w_M with l = (2ab + C1)/(a^2 + b^2 + C1)
    a, b = 100.0, 160.0
    xa = torch.full((1, 1, 64, 64), a)
    xb = torch.full((1, 1, 64, 64), b)
    m = n_scales(64, 64)
    w = np.array(WEIGHTS[:m]) / sum(WEIGHTS[:m])
    lum = (2 * a * b + C1) / (a * a + b * b + C1)
    assert float(ms_ssim(xa, xb)) == pytest.approx(lum ** w[-1], rel=1e-12)
    assert [n_scales(s, s) for s in (11, 28, 64, 160, 161, 299)] == [1, 2, 3, 4, 5, 5]
    with pytest.raises(InputError, match="at least 11"):
        n_scales(8, 30)


def test_msssim_diversity_pairs_and_sharding():
    rng = np.random.default_rng(3)
    imgs = torch.from_numpy(rng.integers(0, 256, (12, 3, 32, 32), dtype=np.uint8))
    assert msssim_diversity(imgs[:1].repeat(6, 1, 1, 1))["msssim_diversity"] == pytest.approx(1.0)
    pairs = sample_pairs(12, 20, seed=4)
    assert len(pairs) == 20 and len({tuple(p) for p in pairs}) == 20 and np.all(pairs[:, 0] < pairs[:, 1])
    np.testing.assert_array_equal(pairs, sample_pairs(12, 20, seed=4))
    assert len(sample_pairs(5, 100, seed=0)) == 10  # every pair when fewer exist
    whole = msssim_diversity(imgs, pairs=20, seed=4)
    expected = float(ms_ssim(imgs[pairs[:, 0]], imgs[pairs[:, 1]]).mean())
    assert whole["msssim_diversity"] == pytest.approx(expected, rel=1e-12)
    # fed in two interleaved shards, merged: same figure
    s0, s1 = MSSSIMDiversity(12, 20, 4), MSSSIMDiversity(12, 20, 4)
    s0.update(imgs[0::2], index=np.arange(0, 12, 2))
    s1.update(imgs[1::2], index=np.arange(1, 12, 2))
    assert s0.merge(s1).compute()["msssim_diversity"] == pytest.approx(whole["msssim_diversity"], rel=1e-12)
    with pytest.raises(InputError, match="at least 2"):
        msssim_diversity(imgs[:1])
