"""Meta-evaluation: how well a metric agrees with human judgments.

Rank and linear correlations (Kendall tau-b and tau-c, Spearman, Pearson) with seeded bootstrap
confidence intervals, pairwise accuracy, and inter-rater agreement (Krippendorff's alpha).
Readers for the Flickr8k-Expert / CrowdFlower judgment files and the rating app's export are in
:mod:`vislang.metrics.meta_readers`.

Formulas:

* Kendall: with ``C`` concordant and ``D`` discordant pairs, ``n0 = n(n-1)/2`` and ``n1``, ``n2``
  the pairs tied in x and in y, ``tau_b = (C - D) / sqrt((n0 - n1)(n0 - n2))`` (Kendall 1945);
  ``tau_c = 2 (C - D) / (n^2 (m - 1) / m)`` with ``m`` the smaller number of distinct values of
  x and y (Stuart 1953).  ``C - D`` is counted in O(n log n).
* Spearman: Pearson's r of the average ranks (ties get the mean rank).
* Pairwise accuracy: among pairs the humans order (no human tie), the share the metric orders
  the same way; a metric tie counts as a miss (cf. Kocmi et al. 2021, "To ship or not to ship").
* Bootstrap: percentile interval over ``n_boot`` resamples of the items with replacement, drawn
  from ``numpy.random.default_rng(seed)`` (Efron & Tibshirani 1993, ch. 13).
* Krippendorff's alpha from the coincidence matrix, ``alpha = 1 - D_o / D_e`` with the nominal,
  ordinal, interval or ratio difference function (Krippendorff 2011, "Computing Krippendorff's
  Alpha-Reliability", Annenberg School for Communication, University of Pennsylvania).
"""

from __future__ import annotations

import math
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from vislang.errors import InputError

__all__ = ["concordance", "kendall_tau", "spearman", "pearson", "pairwise_accuracy", "bootstrap_ci",
           "correlate", "krippendorff_alpha", "rankdata"]


def _pair(x, y) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise InputError(f"meta-eval: metric and human scores differ in length ({x.size} vs {y.size})")
    if x.size < 2:
        raise InputError("meta-eval: need at least two scored items to correlate")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise InputError("meta-eval: a score is NaN or infinite; drop or fix that item")
    return x, y


def _tied_pairs(v: np.ndarray) -> float:
    _, counts = np.unique(v, return_counts=True)
    return float((counts * (counts - 1) // 2).sum())


def concordance(x, y) -> tuple[float, float]:
    """``(C, D)``: the numbers of concordant and discordant pairs (pairs tied in x or y count in neither).

    Counts per level of the variable with fewer distinct values (K levels: K searchsorted passes),
    or with a Fenwick tree when both have many.
    """
    x, y = _pair(x, y)
    if np.unique(x).size < np.unique(y).size:
        x, y = y, x  # y: the variable with fewer levels
    levels, yl = np.unique(y, return_inverse=True)
    k = levels.size
    if k <= 256:
        c = d = 0.0
        for lev in range(k):
            xs = np.sort(x[yl == lev])
            below = np.searchsorted(xs, x, side="left")  # items of this level with a smaller x
            c += float(below[yl > lev].sum())
            d += float(below[yl < lev].sum())
        return c, d
    return _concordance_fenwick(x, yl, k)


def _concordance_fenwick(x: np.ndarray, yl: np.ndarray, k: int) -> tuple[float, float]:
    order = np.lexsort((yl, x))
    xs, ys = x[order], yl[order]
    tree = [0] * (k + 1)
    c = d = inserted = 0
    i, n = 0, xs.size
    while i < n:
        j = i
        while j < n and xs[j] == xs[i]:
            j += 1
        for t in range(i, j):  # query the whole tie group of x before inserting it
            q, s = int(ys[t]), 0
            while q > 0:  # elements with level < ys[t]
                s += tree[q]
                q -= q & -q
            q, le = int(ys[t]) + 1, 0
            while q > 0:  # elements with level <= ys[t]
                le += tree[q]
                q -= q & -q
            c += s
            d += inserted - le
        for t in range(i, j):
            q = int(ys[t]) + 1
            while q <= k:
                tree[q] += 1
                q += q & -q
        inserted += j - i
        i = j
    return float(c), float(d)


def kendall_tau(x, y, variant: str = "b") -> float:
    """Kendall's tau-b (``variant="b"``) or Stuart's tau-c (``variant="c"``); NaN when undefined."""
    x, y = _pair(x, y)
    c, d = concordance(x, y)
    n = x.size
    if variant == "b":
        n0 = n * (n - 1) / 2
        denom = math.sqrt((n0 - _tied_pairs(x)) * (n0 - _tied_pairs(y)))
        return (c - d) / denom if denom > 0 else float("nan")
    if variant == "c":
        m = min(np.unique(x).size, np.unique(y).size)
        if m < 2:
            return float("nan")
        return 2.0 * (c - d) / (n * n * (m - 1) / m)
    raise InputError(f"kendall_tau: variant must be 'b' or 'c', got {variant!r}")


def rankdata(v) -> np.ndarray:
    """Ranks 1..n, ties given the mean of the ranks they span."""
    v = np.asarray(v, dtype=np.float64)
    order = np.argsort(v, kind="mergesort")
    sv = v[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sv)) + 1]
    ends = np.r_[starts[1:], sv.size]
    mean_rank = (starts + ends + 1) / 2.0  # mean of (start+1 .. end)
    ranks = np.empty_like(v)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def pearson(x, y) -> float:
    x, y = _pair(x, y)
    xc, yc = x - x.mean(), y - y.mean()
    denom = math.sqrt(float(xc @ xc) * float(yc @ yc))
    return float(xc @ yc) / denom if denom > 0 else float("nan")


def spearman(x, y) -> float:
    x, y = _pair(x, y)
    return pearson(rankdata(x), rankdata(y))


def pairwise_accuracy(metric, human) -> float:
    """Share of human-ordered pairs (no human tie) that the metric orders the same way."""
    x, y = _pair(metric, human)
    c, _ = concordance(x, y)
    n = x.size
    ordered = n * (n - 1) / 2 - _tied_pairs(y)
    return c / ordered if ordered > 0 else float("nan")


STATISTICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "kendall_tau_b": lambda x, y: kendall_tau(x, y, "b"),
    "kendall_tau_c": lambda x, y: kendall_tau(x, y, "c"),
    "spearman": spearman,
    "pearson": pearson,
    "pairwise_accuracy": pairwise_accuracy,
}


def bootstrap_ci(stat: Callable[[np.ndarray, np.ndarray], float], x, y, n_boot: int = 1000,
                 confidence: float = 0.95, seed: int = 0, groups=None) -> tuple[float, float]:
    """Percentile bootstrap interval of ``stat(x, y)``.

    ``groups`` (one label per sample) resamples whole groups, e.g. all ratings of one item together.
    """
    x, y = _pair(x, y)
    rng = np.random.default_rng(seed)
    if groups is None:
        idx_of = [np.array([i]) for i in range(x.size)]
    else:
        _, inv = np.unique(np.asarray(groups), return_inverse=True)
        order = np.argsort(inv, kind="stable")
        bounds = np.r_[0, np.flatnonzero(np.diff(inv[order])) + 1, inv.size]
        idx_of = [order[bounds[i]:bounds[i + 1]] for i in range(bounds.size - 1)]
    g = len(idx_of)
    flat = groups is None
    vals = []
    for _ in range(int(n_boot)):
        pick = rng.integers(0, g, size=g)
        idx = pick if flat else np.concatenate([idx_of[p] for p in pick])
        try:
            v = stat(x[idx], y[idx])
        except InputError:
            continue
        if not math.isnan(v):
            vals.append(v)
    if not vals:
        return float("nan"), float("nan")
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(np.array(vals), [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def correlate(metric, human, statistics: Sequence[str] = tuple(STATISTICS), n_boot: int = 1000,
              confidence: float = 0.95, seed: int = 0, groups=None) -> dict[str, dict[str, float]]:
    """Every statistic as ``{name: {"value", "ci_low", "ci_high"}}`` (no CI when ``n_boot`` is 0)."""
    out = {}
    for name in statistics:
        if name not in STATISTICS:
            raise InputError(f"meta-eval: unknown statistic {name!r}; choose from {', '.join(STATISTICS)}")
        f = STATISTICS[name]
        rec = {"value": f(metric, human)}
        if n_boot:
            rec["ci_low"], rec["ci_high"] = bootstrap_ci(f, metric, human, n_boot, confidence, seed, groups)
        out[name] = rec
    return out


def krippendorff_alpha(data, level: str = "interval") -> float:
    """Krippendorff's alpha of a raters x units table (NaN / None = missing).

    ``level``: ``nominal``, ``ordinal``, ``interval`` or ``ratio``.  Units with fewer than two
    values are not pairable and are left out (Krippendorff 2011).
    """
    arr = np.array([[np.nan if v is None else v for v in row] for row in data], dtype=np.float64)
    if arr.ndim != 2:
        raise InputError("krippendorff_alpha: data must be a raters x units table")
    values = np.unique(arr[np.isfinite(arr)])
    if values.size == 0:
        raise InputError("krippendorff_alpha: no ratings")
    index = {v: i for i, v in enumerate(values)}
    v = values.size
    o = np.zeros((v, v))
    for u in range(arr.shape[1]):
        col = arr[:, u]
        col = col[np.isfinite(col)]
        m = col.size
        if m < 2:
            continue
        cnt = np.zeros(v)
        for val in col:
            cnt[index[val]] += 1
        # pairs of values within the unit, each ordered pair once, weighted 1/(m-1)
        o += (np.outer(cnt, cnt) - np.diag(cnt)) / (m - 1)
    n_c = o.sum(axis=1)
    n = n_c.sum()
    if n < 2:
        raise InputError("krippendorff_alpha: no unit has two or more ratings")
    if level == "nominal":
        delta = 1.0 - np.eye(v)
    elif level == "interval":
        delta = np.subtract.outer(values, values) ** 2
    elif level == "ratio":
        s = np.add.outer(values, values)
        with np.errstate(invalid="ignore", divide="ignore"):
            delta = np.where(s != 0, (np.subtract.outer(values, values) / s) ** 2, 0.0)
    elif level == "ordinal":
        cum = np.cumsum(n_c)
        delta = np.zeros((v, v))
        for c in range(v):
            for k in range(v):
                lo, hi = min(c, k), max(c, k)
                between = cum[hi] - (cum[lo - 1] if lo > 0 else 0.0)  # sum of n_g for g in [lo, hi]
                delta[c, k] = (between - (n_c[c] + n_c[k]) / 2.0) ** 2
    else:
        raise InputError(f"krippendorff_alpha: level must be nominal, ordinal, interval or ratio, got {level!r}")
    d_o = float((o * delta).sum())
    d_e = float((np.outer(n_c, n_c) * delta).sum())
    if d_e == 0:
        return float("nan")
    return 1.0 - (n - 1) * d_o / d_e


def units_table(ratings: Iterable[tuple[str, str, float]]) -> np.ndarray:
    """``(rater, unit, value)`` records -> a raters x units table with NaN for missing ratings."""
    recs = list(ratings)
    raters = {r: i for i, r in enumerate(dict.fromkeys(r for r, _, _ in recs))}
    units = {u: i for i, u in enumerate(dict.fromkeys(u for _, u, _ in recs))}
    t = np.full((len(raters), len(units)), np.nan)
    for r, u, val in recs:
        t[raters[r], units[u]] = float(val)
    return t


def aggregate(human: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """Mean human score per item."""
    return {k: float(np.mean(v)) for k, v in human.items() if len(v)}
