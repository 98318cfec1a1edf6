"""The Vendi score (Friedman & Dieng, 2023) of a set of image features: the exponential of the
Shannon entropy of the eigenvalues of K / n with the cosine-similarity kernel K on feature rows.
1 = all images the same in feature space; n = all orthogonal; HIGHER = MORE diverse.
The computation is :func:`vislang.metrics.vendi.vendi_from_features`; this module wraps it in the
metric protocol.
"""

from __future__ import annotations

from typing import Any

from vislang.errors import InputError
from vislang.metrics.base import Metric
from vislang.metrics.image.samples import RowStore
from vislang.metrics.vendi import vendi_from_features


class VendiImage(Metric):
    """Vendi score of feature rows: ``update(features, index=None)``; keeps the rows."""

    name = "vendi"

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.features = RowStore()

    def update(self, features: Any, index: Any = None) -> None:
        self.features.add(features, index)

    def merge(self, other: "VendiImage") -> "VendiImage":
        self._check_mergeable(other)
        self.features.merge(other.features)
        return self

    def compute(self) -> dict[str, Any]:
        x = self.features.rows()
        if len(x) < 2:
            raise InputError(f"Vendi score needs at least 2 images, got {len(x)}")
        return {"vendi": vendi_from_features(x)}
