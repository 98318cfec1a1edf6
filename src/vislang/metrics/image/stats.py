"""Reference statistics files (``vislang stats``): the mean and covariance of a set's features, so a
reference set is extracted once and FID against it needs no images.

Layout (NumPy ``.npz``, readable without pickle):

* ``mu`` (d,) float64 and ``sigma`` (d, d) float64: the keys clean-fid uses, so clean-fid's
  ``.npz`` statistics are read as they are (their ``n`` and provenance are then unknown);
* ``n`` () int64: the number of images;
* ``provenance`` () str: JSON with the extractor, weights sha256, resize, source hash, version;
* ``features`` (n, d) float32, optional (``--features``): the rows themselves, needed by the
  metrics that are not functions of mean and covariance (KID, precision/recall/density/coverage)
  and for the real-vs-real floor.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from vislang.errors import InputError
from vislang.fileio import atomic_write


@dataclasses.dataclass
class ReferenceStats:
    mu: np.ndarray
    sigma: np.ndarray
    n: int | None = None
    provenance: dict[str, Any] = dataclasses.field(default_factory=dict)
    features: np.ndarray | None = None
    path: str = ""

    @property
    def dim(self) -> int:
        return int(self.mu.shape[0])

    def check_dim(self, dim: int, extractor: str) -> None:
        if self.dim != dim:
            raise InputError(f"{self.path or 'statistics'}: features are {self.dim}-d but extractor {extractor} gives "
                             f"{dim}-d; use the extractor the statistics were made with "
                             f"({self.provenance.get('extractor', 'unknown')}) or recompute them with 'vislang stats'")

    def check_recipe(self, extractor: str, resize: str, weights_sha256: str) -> None:
        """Refuse statistics made with another extractor / resize / weights (when the file says so)."""
        p = self.provenance
        for key, want in (("extractor", extractor), ("resize", resize), ("weights_sha256", weights_sha256)):
            have = p.get(key)
            if have and want and have != want:
                raise InputError(f"{self.path or 'statistics'}: made with {key}={have} but this evaluation uses "
                                 f"{key}={want}; FID values are only comparable with the same recipe, so pass the "
                                 "matching option or recompute the statistics with 'vislang stats'")


def is_stats_file(path: Any) -> bool:
    """True for an ``.npz`` holding ``mu`` and ``sigma`` arrays (vislang's or clean-fid's statistics)."""
    if not isinstance(path, (str, os.PathLike)):
        return False
    p = Path(path)
    if p.suffix.lower() != ".npz" or not p.is_file():
        return False
    try:
        with zipfile.ZipFile(p) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False
    return {"mu.npy", "sigma.npy"} <= names


def save_stats(path: Any, mu: np.ndarray, sigma: np.ndarray, n: int, provenance: dict[str, Any],
               features: np.ndarray | None = None) -> None:
    """Write a statistics file atomically."""
    arrays: dict[str, Any] = {"mu": np.asarray(mu, np.float64), "sigma": np.asarray(sigma, np.float64),
                              "n": np.int64(n), "provenance": np.array(json.dumps(provenance, sort_keys=True))}
    if features is not None:
        arrays["features"] = np.asarray(features, np.float32)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with atomic_write(path, "wb") as fh:
        fh.write(buf.getvalue())


def load_stats(path: Any) -> ReferenceStats:
    """Read a statistics file (vislang's or clean-fid's ``mu``/``sigma`` layout) with one-line errors."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such statistics file")
    try:
        with np.load(p, allow_pickle=False) as z:
            files = set(z.files)
            missing = {"mu", "sigma"} - files
            if missing:
                raise InputError(f"{p}: not a statistics file (no {', '.join(sorted(missing))} array); "
                                 "make one with 'vislang stats SOURCE --out FILE.npz'")
            mu = np.asarray(z["mu"], np.float64).reshape(-1)
            sigma = np.asarray(z["sigma"], np.float64)
            n = int(z["n"]) if "n" in files else None
            prov = json.loads(str(z["provenance"])) if "provenance" in files else {}
            feats = np.asarray(z["features"], np.float64) if "features" in files else None
    except InputError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise InputError(f"{p}: unreadable statistics file ({exc})") from None
    d = mu.shape[0]
    if sigma.shape != (d, d):
        raise InputError(f"{p}: sigma has shape {sigma.shape}, expected ({d}, {d}) to match mu")
    if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(sigma))):
        raise InputError(f"{p}: mu or sigma contains NaN or infinite values; recompute the statistics")
    if feats is not None and (feats.ndim != 2 or feats.shape[1] != d):
        raise InputError(f"{p}: features have shape {feats.shape}, expected (n, {d})")
    if n is not None and n < 2:
        raise InputError(f"{p}: statistics of {n} image(s); at least 2 are needed")
    return ReferenceStats(mu=mu, sigma=sigma, n=n, provenance=prov, features=feats, path=str(p))
