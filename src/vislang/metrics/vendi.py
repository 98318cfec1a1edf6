"""The Vendi score (Friedman & Dieng, 2023, "The Vendi Score: A Diversity Evaluation Metric for
Machine Learning"): the exponential of the Shannon entropy of the eigenvalues of K / n, where K is
an n x n positive semi-definite similarity matrix with unit diagonal.  It ranges from 1 (all items
identical) to n (all items orthogonal).  Used for images (cosine similarity of features) and for
captions (cosine similarity of n-gram count vectors).
"""

from __future__ import annotations

import numpy as np

from vislang.errors import InputError


def vendi_from_similarity(K: np.ndarray) -> float:
    """Vendi score of a similarity matrix with unit diagonal (eigenvalues of K/n, 0 log 0 = 0)."""
    K = np.asarray(K, dtype=np.float64)
    if K.ndim != 2 or K.shape[0] != K.shape[1] or K.shape[0] == 0:
        raise InputError(f"Vendi needs a non-empty square similarity matrix, got shape {K.shape}")
    n = K.shape[0]
    w = np.linalg.eigvalsh((K + K.T) / (2.0 * n))
    w = w[w > 0]
    return float(np.exp(-np.sum(w * np.log(w))))


def vendi_from_features(X: np.ndarray) -> float:
    """Vendi score with the cosine-similarity kernel on the rows of ``X`` (n x d).

    Computed through the d x d (or n x n, whichever is smaller) Gram matrix: the non-zero
    eigenvalues of X X^T / n and X^T X / n are the same.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0:
        raise InputError(f"Vendi needs an n x d feature matrix, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise InputError("Vendi: features contain NaN or infinite values")
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise InputError("Vendi: a feature row is all zeros, so its cosine similarity is undefined")
    X = X / norms
    n, d = X.shape
    G = X.T @ X if d < n else X @ X.T
    w = np.linalg.eigvalsh(G / n)
    w = w[w > 0]
    return float(np.exp(-np.sum(w * np.log(w))))
