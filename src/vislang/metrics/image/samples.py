"""A mergeable store of feature rows, for the metrics that need the samples themselves (KID, IS,
precision/recall/density/coverage, Vendi).

Rows are kept with their global index, so a set sharded over many processes (each holding an
arbitrary subset of the indices) is reassembled in the same order as a single process would see
it; ``rows()`` returns them sorted by index.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vislang.errors import InputError


class RowStore:
    """Append-only rows with global indices; ``merge`` concatenates, ``rows()`` sorts by index."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._chunks: list[np.ndarray] = []
        self._index: list[np.ndarray] = []
        self._next = 0

    def __len__(self) -> int:
        return int(sum(len(c) for c in self._chunks))

    def add(self, rows: Any, index: Any = None, what: str = "features") -> None:
        x = rows.detach().cpu().numpy() if hasattr(rows, "detach") else np.asarray(rows)
        if x.ndim != 2:
            raise InputError(f"{what} must be an N x d matrix, got shape {x.shape}")
        if not np.all(np.isfinite(x)):
            raise InputError(f"{what} contain NaN or infinite values; check the images and the extractor")
        if self._chunks and x.shape[1] != self._chunks[0].shape[1]:
            raise InputError(f"{what} have dimension {x.shape[1]}, earlier batches had {self._chunks[0].shape[1]}")
        if index is None:
            idx = np.arange(self._next, self._next + len(x), dtype=np.int64)
        else:
            idx = np.asarray(index, dtype=np.int64).reshape(-1)
            if len(idx) != len(x):
                raise InputError(f"{len(idx)} indices for {len(x)} {what} rows")
        self._next = max(self._next, int(idx.max()) + 1) if len(idx) else self._next
        self._chunks.append(x)
        self._index.append(idx)

    def merge(self, other: "RowStore") -> "RowStore":
        self._chunks.extend(other._chunks)
        self._index.extend(other._index)
        self._next = max(self._next, other._next)
        return self

    def rows(self) -> np.ndarray:
        if not self._chunks:
            return np.zeros((0, 0), dtype=np.float64)
        x = np.concatenate(self._chunks) if len(self._chunks) > 1 else self._chunks[0]
        idx = np.concatenate(self._index) if len(self._index) > 1 else self._index[0]
        if len(idx) > 1 and np.any(np.diff(idx) < 0):
            x = x[np.argsort(idx, kind="stable")]
        return x
