"""KID against clean-fid and torch-fidelity on the same features and subsets; IS against a hand-worked
example and torch-fidelity's formula; the IS naming rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from image_oracles import cleanfid_kernel_distance, torch_fidelity_isc, torch_fidelity_kid
from vislang.errors import InputError
from vislang.metrics.image import KID, InceptionScore, inception_score, is_name, kid_from_features
from vislang.metrics.image.kid import mmd2_unbiased


@pytest.fixture(scope="module")
def feats():
    rng = np.random.default_rng(0)
    real = np.abs(rng.normal(size=(120, 32)))
    fake = np.abs(rng.normal(size=(90, 32)) * 1.1 + 0.1)
    return real, fake


def test_kid_equals_clean_fid_on_same_subsets(feats):
    real, fake = feats
    m, subsets = 40, 7
    # clean-fid draws, per subset, the fake rows (its feats2) then the real rows from np.random
    np.random.seed(123)
    idx = []
    for _ in range(subsets):
        fi = np.random.choice(len(fake), m, replace=False)
        ri = np.random.choice(len(real), m, replace=False)
        idx.append((ri, fi))
    np.random.seed(123)
    ref = cleanfid_kernel_distance()(real, fake, num_subsets=subsets, max_subset_size=m)
    ours = kid_from_features(real, fake, subset_size=m, subsets=subsets, indices=idx)
    assert ours["kid_mean"] == pytest.approx(ref, rel=1e-10)


def test_kid_equals_torch_fidelity_mean_and_std(feats):
    real, fake = feats
    m, subsets, seed = 50, 6, 7
    rs = np.random.RandomState(seed)  # torch-fidelity: input_1 rows then input_2 rows per subset
    idx = [(rs.choice(len(real), m, replace=False), rs.choice(len(fake), m, replace=False)) for _ in range(subsets)]
    ref = torch_fidelity_kid()(torch.from_numpy(real), torch.from_numpy(fake), kid_subsets=subsets,
                               kid_subset_size=m, verbose=False, rng_seed=seed, kid_kernel="poly",
                               kid_kernel_poly_degree=3, kid_kernel_poly_gamma=None, kid_kernel_poly_coef0=1)
    ours = kid_from_features(real, fake, subset_size=m, subsets=subsets, indices=idx)
    assert ours["kid_mean"] == pytest.approx(ref["kid_mean"], rel=1e-10)
    assert ours["kid_std"] == pytest.approx(ref["kid_std"], rel=1e-8)


def test_kid_hand_worked_mmd_and_metric_protocol(feats):
    # two 2-row sets in 1-d: k(x,y) = (xy + 1)^3
    x, y = np.array([[0.0], [1.0]]), np.array([[1.0], [2.0]])
    k = lambda a, b: (a * b + 1) ** 3  # noqa: E731
    expected = (2 * k(0, 1) + 2 * k(1, 2)) / 2 - 2 * (k(0, 1) + k(0, 2) + k(1, 1) + k(1, 2)) / 4
    assert mmd2_unbiased(x, y) == pytest.approx(expected)
    real, fake = feats
    whole = kid_from_features(real, fake, subset_size=30, subsets=5, seed=3)
    a, b = KID(30, 5, 3), KID(30, 5, 3)
    a.update(real[:60], real=True, index=np.arange(60))
    b.update(real[60:], real=True, index=np.arange(60, 120))
    b.update(fake[1::2], index=np.arange(1, 90, 2))
    a.update(fake[0::2], index=np.arange(0, 90, 2))
    assert b.merge(a).compute()["kid_mean"] == pytest.approx(whole["kid_mean"], rel=1e-12)
    # seeded: same seed, same numbers; subset shrinks to the smaller set like clean-fid
    assert kid_from_features(real, fake, seed=3, subsets=5)["kid_subset_size"] == 90
    with pytest.raises(InputError, match="at least 2"):
        kid_from_features(real[:1], fake)


def test_inception_score_hand_worked_two_classes():
    # half the images say class 0 with p = 0.9, half class 1: marginal (0.5, 0.5)
    p = np.array([[0.9, 0.1], [0.1, 0.9]] * 10)
    kl = 0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5)
    out = inception_score(np.log(p), splits=10)
    assert out["is_mean"] == pytest.approx(math.exp(kl), rel=1e-12)
    assert out["is_std"] == pytest.approx(0.0, abs=1e-12)
    # uniform predictions -> IS = 1
    assert inception_score(np.zeros((20, 5)), splits=2)["is_mean"] == pytest.approx(1.0)


def test_inception_score_equals_torch_fidelity_formula():
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(103, 17)) * 3
    ref = torch_fidelity_isc()(torch.from_numpy(logits), splits=10, shuffle=False)
    ours = inception_score(logits, splits=10)
    assert ours["is_mean"] == pytest.approx(ref["is_mean"], rel=1e-12)
    assert ours["is_std"] == pytest.approx(ref["is_std"], rel=1e-10)
    m = InceptionScore("mobilenet-v2")
    m.update(logits[50:], index=np.arange(50, 103))
    m.update(logits[:50], index=np.arange(50))
    out = m.compute()
    assert out["is_mean"] == pytest.approx(ref["is_mean"], rel=1e-12)
    assert out["is_classifier"] == "IS-mobilenet_v2"


def test_is_naming_and_bad_input():
    assert is_name("inception-tf") == "IS"
    assert is_name("mobilenet-v2") == "IS-mobilenet_v2"
    with pytest.raises(InputError, match="NaN"):
        inception_score(np.full((20, 3), np.nan))
    with pytest.raises(InputError, match="at least 10"):
        inception_score(np.zeros((5, 3)))
