"""Seeded percentile-bootstrap confidence intervals (Efron & Tibshirani, 1993) for any metric
computed from rows of samples.

Each replicate resamples the rows of every given side with replacement (each side independently,
same size as the original), recomputes the metric, and the interval is the (alpha/2, 1 - alpha/2)
percentiles of the replicates.  The bootstrap describes sampling noise of the *evaluation set*
(which images were drawn); it says nothing about differences between implementations.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from vislang.errors import ConfigError


def bootstrap_ci(fn: Callable[..., dict[str, float]], sides: list[np.ndarray | None], n_boot: int, seed: int = 0,
                 alpha: float = 0.05, keys: list[str] | None = None) -> dict[str, float]:
    """``{key}_ci_low``, ``{key}_ci_high`` and ``{key}_boot_std`` for each numeric key of ``fn(*sides)``.

    ``sides``: row arrays (None for a side that is fixed, e.g. reference statistics: passed unchanged).
    """
    if n_boot < 2:
        raise ConfigError(f"bootstrap needs at least 2 replicates, got {n_boot}")
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must be in (0, 1), got {alpha}")
    rng = np.random.default_rng(seed)
    values: dict[str, list[float]] = {}
    for _ in range(n_boot):
        args = [None if s is None else s[rng.integers(0, len(s), len(s))] for s in sides]
        out = fn(*args)
        for k, v in out.items():
            if (keys is None or k in keys) and isinstance(v, (float, int, np.floating)) and not isinstance(v, bool):
                values.setdefault(k, []).append(float(v))
    result: dict[str, float] = {}
    for k, vs in values.items():
        a = np.asarray(vs)
        result[f"{k}_ci_low"] = float(np.percentile(a, 100 * alpha / 2))
        result[f"{k}_ci_high"] = float(np.percentile(a, 100 * (1 - alpha / 2)))
        result[f"{k}_boot_std"] = float(a.std(ddof=1))
    return result
