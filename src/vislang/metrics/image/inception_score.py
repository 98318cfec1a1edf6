"""Inception Score (Salimans et al., 2016, "Improved Techniques for Training GANs").

    IS = exp( E_x KL( p(y|x) || p(y) ) ),   p(y|x) = softmax(logits(x)),  p(y) = mean_x p(y|x)

computed on ``splits`` (default 10) consecutive equal parts of the generated set (part i holds rows
[i N / splits, (i + 1) N / splits)); the result is the mean and (population) standard deviation of
the per-part scores.  Computed in float64 with log-softmax for stability.

The name "IS" belongs to the canonical classifier, the 1008-way logits of the TensorFlow
2015-12-05 Inception-v3; a score from any other classifier is reported as ``IS-<classifier>``
(for example ``IS-mobilenet_v2``) in ``is_classifier``, because the numbers are not comparable.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from vislang.errors import InputError
from vislang.metrics.base import Metric
from vislang.metrics.image.samples import RowStore

CANONICAL_CLASSIFIER = "inception-tf"


def is_name(classifier: str) -> str:
    """``IS`` for the canonical Inception logits, otherwise ``IS-<classifier>`` (dashes -> underscores)."""
    if classifier == CANONICAL_CLASSIFIER:
        return "IS"
    return "IS-" + classifier.replace("-", "_")


def inception_score(logits: Any, splits: int = 10, shuffle_seed: int | None = None) -> dict[str, float]:
    """IS mean and std from classifier logits (N x classes)."""
    x = torch.as_tensor(np.asarray(logits) if not isinstance(logits, torch.Tensor) else logits).to(torch.float64)
    if x.ndim != 2:
        raise InputError(f"Inception Score needs N x classes logits, got shape {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise InputError("Inception Score: logits contain NaN or infinite values")
    n = x.shape[0]
    if n < max(2, splits):
        raise InputError(f"Inception Score needs at least {max(2, splits)} images for {splits} splits, got {n}")
    if shuffle_seed is not None:
        x = x[torch.from_numpy(np.random.default_rng(shuffle_seed).permutation(n))]
    log_p = torch.log_softmax(x, dim=1)
    p = log_p.exp()
    scores = []
    for i in range(splits):
        lo, hi = i * n // splits, (i + 1) * n // splits
        pc, lpc = p[lo:hi], log_p[lo:hi]
        log_py = torch.log(pc.mean(0, keepdim=True))
        kl = (pc * (lpc - log_py)).sum(1).mean()
        scores.append(float(kl.exp()))
    s = np.array(scores)
    return {"is_mean": float(s.mean()), "is_std": float(s.std())}


class InceptionScore(Metric):
    """IS as a metric object over logits: ``update(logits, index=None)``; keeps the logits."""

    name = "is"

    def __init__(self, classifier: str = CANONICAL_CLASSIFIER, splits: int = 10):
        self.classifier, self.splits = classifier, splits
        self.reset()

    def reset(self) -> None:
        self.logits = RowStore()

    def update(self, logits: Any, index: Any = None) -> None:
        self.logits.add(logits, index, what="logits")

    def merge(self, other: "InceptionScore") -> "InceptionScore":
        self._check_mergeable(other)
        self.logits.merge(other.logits)
        return self

    def compute(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(inception_score(self.logits.rows(), self.splits))
        out["is_classifier"] = is_name(self.classifier)
        out["is_splits"] = self.splits
        return out
