"""Vendi score against hand-worked cases (Friedman & Dieng 2023: identical items -> 1, orthogonal -> n)."""

import numpy as np
import pytest

from vislang.errors import InputError
from vislang.metrics.vendi import vendi_from_features, vendi_from_similarity


def test_vendi_extremes_and_hand_worked_case():
    assert vendi_from_similarity(np.ones((4, 4))) == pytest.approx(1.0)
    assert vendi_from_similarity(np.eye(5)) == pytest.approx(5.0)
    # K = [[1, s], [s, 1]] has eigenvalues (1 +- s)/2 after dividing by n = 2
    s = 0.5
    lam = np.array([(1 + s) / 2, (1 - s) / 2])
    assert vendi_from_similarity(np.array([[1, s], [s, 1]])) == pytest.approx(np.exp(-(lam * np.log(lam)).sum()))


def test_vendi_features_equals_similarity_route():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 8))
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    assert vendi_from_features(X) == pytest.approx(vendi_from_similarity(Xn @ Xn.T), rel=1e-10)
    with pytest.raises(InputError, match="NaN"):
        vendi_from_features(np.full((3, 2), np.nan))
