"""The METEOR 1.5 score of sufficient statistics, and a bound used to skip references.

Statistics of one segment (23 numbers, the jar's order): hypothesis and reference lengths, their
function-word counts, then per stage (exact, stem, synonym, paraphrase) matched content and function
words of each side, then chunks and the matched word counts of each side.  See :mod:`.meteor` for the
formula and its source.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from itertools import chain as _chain
from operator import mul
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vislang.metrics.text.meteor_lexicon import Sentence

ALPHA, BETA, GAMMA, DELTA = 0.85, 0.20, 0.60, 0.75
MODULE_WEIGHTS = (1.0, 0.6, 0.8, 0.6)
N_STATS = 23  # tlen rlen tfunc rfunc (tc rc tf rf) x 4 chunks twm rwm
_flat = _chain.from_iterable  # the candidates of all positions, in order


def _div(a: float, b: float) -> float:
    """IEEE division as Java does it (x/0 = inf, 0/0 = NaN) instead of raising."""
    if b != 0:
        return a / b
    if a == 0 or math.isnan(a):
        return math.nan
    return math.inf if a > 0 else -math.inf


_POW_MEMO: dict[tuple[float, float], float] = {}


def _pow(x: float, y: float) -> float:
    """``x ** y`` correctly rounded, as the jar's ``Math.pow`` gives it (Java 17 on x86-64).

    C's ``pow`` behind Python's ``**`` is sometimes 1 ulp off: ``0.9574468085106383 ** 0.2`` (a
    fragmentation of 45 chunks over 47 matches) is ``0.9913406873113764`` in Python but
    ``0.9913406873113763``, the nearest double, in the jar, which made that segment's score differ
    in the last bit.  The exact value is computed with 40 significant digits (``decimal``'s ``ln``
    and ``exp`` are correctly rounded) and rounded once; a corpus has few distinct fragmentation
    values, so they are memoised.
    """
    got = _POW_MEMO.get((x, y))
    if got is None:
        if x > 0.0 and x != 1.0 and math.isfinite(x) and math.isfinite(y):
            with localcontext() as ctx:
                ctx.prec = 40
                got = float((Decimal(x).ln() * Decimal(y)).exp())
        else:  # 0, 1, inf, NaN, negative: exact or IEEE special cases
            got = x**y
        if len(_POW_MEMO) >= 1 << 16:
            _POW_MEMO.clear()
        _POW_MEMO[(x, y)] = got
    return got


def _perfect(st: list[float]) -> bool:
    """One chunk and every word of both lines matched (counts are whole numbers: sums are exact)."""
    return (st[20] == 1.0
            and st[4] + st[6] + st[8] + st[10] + st[12] + st[14] + st[16] + st[18] == st[0]
            and st[5] + st[7] + st[9] + st[11] + st[13] + st[15] + st[17] + st[19] == st[1])


def segment_score(st: list[float], weights=MODULE_WEIGHTS, alpha=ALPHA, beta=BETA, gamma=GAMMA,
                  delta=DELTA) -> float:
    """METEOR of one statistics vector (a segment's, or a sum of segments')."""
    tlen, rlen, tfun, rfun = st[0], st[1], st[2], st[3]
    twl = delta * (tlen - tfun) + (1.0 - delta) * tfun
    rwl = delta * (rlen - rfun) + (1.0 - delta) * rfun
    twm = rwm = 0.0
    for k, w in enumerate(weights):
        twm += st[4 + 4 * k] * w * delta
    for k, w in enumerate(weights):
        rwm += st[5 + 4 * k] * w * delta
    for k, w in enumerate(weights):
        twm += st[6 + 4 * k] * w * (1.0 - delta)
    for k, w in enumerate(weights):
        rwm += st[7 + 4 * k] * w * (1.0 - delta)
    p = _div(twm, twl)
    r = _div(rwm, rwl)
    fmean = _div(1.0, _div(1.0 - alpha, p) + _div(alpha, r))
    if _perfect(st):
        frag = 0.0
    else:
        frag = _div(st[20], (st[21] + st[22]) / 2)
    pen = gamma * _pow(frag, beta)  # IEEE: NaN and inf propagate as in Java
    score = fmean * (1.0 - pen)
    if math.isnan(score):
        return 0.0
    return max(score, 0.0)


def _segment_score_default(st: list[float], weights) -> float:
    """:func:`segment_score` with the default parameters, the same float operations in the same
    order, unrolled; cases with a zero denominator go to the general function."""
    delta, cdelta = DELTA, 1.0 - DELTA
    tfun, rfun = st[2], st[3]
    twl = delta * (st[0] - tfun) + cdelta * tfun
    rwl = delta * (st[1] - rfun) + cdelta * rfun
    if len(weights) != 4 or twl == 0.0 or rwl == 0.0:
        return segment_score(st, weights)
    w0, w1, w2, w3 = weights
    twm = 0.0 + st[4] * w0 * delta
    twm += st[8] * w1 * delta
    twm += st[12] * w2 * delta
    twm += st[16] * w3 * delta
    rwm = 0.0 + st[5] * w0 * delta
    rwm += st[9] * w1 * delta
    rwm += st[13] * w2 * delta
    rwm += st[17] * w3 * delta
    twm += st[6] * w0 * cdelta
    twm += st[10] * w1 * cdelta
    twm += st[14] * w2 * cdelta
    twm += st[18] * w3 * cdelta
    rwm += st[7] * w0 * cdelta
    rwm += st[11] * w1 * cdelta
    rwm += st[15] * w2 * cdelta
    rwm += st[19] * w3 * cdelta
    if twm == 0.0 or rwm == 0.0:
        return segment_score(st, weights)
    p = twm / twl
    r = rwm / rwl
    fmean = 1.0 / ((1.0 - ALPHA) / p + ALPHA / r)
    if _perfect(st):
        frag = 0.0
    else:
        half = (st[21] + st[22]) / 2
        if half == 0.0:
            return segment_score(st, weights)
        frag = st[20] / half
    score = fmean * (1.0 - GAMMA * _pow(frag, BETA))
    if math.isnan(score):
        return 0.0
    return max(score, 0.0)


#: Float slack when comparing a score bound with a score (both are ~1e-16 exact).
BOUND_MARGIN = 1e-9


def _upper_bound(t: Sentence, r: Sentence, cands: list[list[tuple]], weights, parts: list | None = None) -> float:
    """An upper bound on the score of any alignment of these candidates, for pruning references.

    Each word can be matched at most once, by a candidate covering it, so P and R are at most
    their values with every covered word matched at its best stage weight; Fmean grows with
    both.  Unless every word of both lines is covered (needed for a perfect, penalty-free
    alignment), there is at least one chunk and at most ``covered`` matched words on each side,
    so the penalty is at least ``gamma * (2 / (covered1 + covered2)) ** beta``.  ``parts``: if
    given, ``(fmean, covered1 + covered2, every word covered)`` is appended to it (for
    :func:`_chain_bound`).
    """
    best1 = [0.0] * t.n
    best2 = [0.0] * r.n
    # the hypothesis and reference sides are written out rather than looped over: this runs for every
    # candidate of every pair (32,367 pairs on Flickr8k), and a per-match side tuple costs more than it saves
    for j, jl, i, il, stage in _flat(cands):
        w = weights[stage]
        if il == 1:
            if w > best1[i]:
                best1[i] = w
        else:
            for q in range(i, i + il):
                if w > best1[q]:
                    best1[q] = w
        if jl == 1:
            if w > best2[j]:
                best2[j] = w
        else:
            for q in range(j, j + jl):
                if w > best2[q]:
                    best2[q] = w
    for x in (t, r):
        if x.wts is None:
            x.wts = [1.0 - DELTA if f else DELTA for f in x.func]
            x.wlen = sum(x.wts)
    tm = sum(map(mul, t.wts, best1))
    rm = sum(map(mul, r.wts, best2))
    if tm <= 0.0 or rm <= 0.0:
        if parts is not None:
            parts.append((0.0, 0, False))
        return 0.0
    tl, rl = t.wlen, r.wlen
    p, rr = tm / tl, rm / rl
    fmean = p * rr / (ALPHA * p + (1.0 - ALPHA) * rr)
    c1 = t.n - best1.count(0.0)
    c2 = r.n - best2.count(0.0)
    if parts is not None:
        parts.append((fmean, c1 + c2, c1 == t.n and c2 == r.n))
    if c1 == t.n and c2 == r.n:
        return fmean
    return fmean * (1.0 - GAMMA * (2.0 / (c1 + c2)) ** BETA)


def _chain_bound(cands: list[list[tuple]], n1: int, n_words: int, fmean: float, covered: int,
                 all_covered: bool) -> float:
    """A tighter bound than :func:`_upper_bound` (whose ``fmean`` and covered words it takes), for
    the references searched after the first.

    A chunk is a chain of matches each starting where the previous one ends in both lines, so
    it holds at most ``L`` words (of both lines), ``L`` the longest such chain of candidates; hence
    ``chunks >= 2 m / L`` with ``m`` the mean matched words, and the fragmentation
    ``chunks / m >= 2 / min(covered1 + covered2, L)``.  No penalty only if every word is covered
    and one chain holds all ``n_words`` words of both lines.
    """
    if fmean <= 0.0:
        return 0.0
    ends: dict[int, int] = {}  # (ref end, hyp end) -> the longest chain ending there
    longest = 0
    stride = n1 + 1
    get = ends.get
    for j, jl, i, il, _ in _flat(cands):
        chain = get(j * stride + i, 0) + jl + il
        end = (j + jl) * stride + i + il
        if chain > get(end, 0):
            ends[end] = chain
            if chain > longest:
                longest = chain
    if all_covered and longest >= n_words:
        return fmean
    return fmean * (1.0 - GAMMA * (2.0 / min(covered, longest)) ** BETA)


def add_stats(total: list[float], st: list[float]) -> None:
    """Fold one segment's statistics into a running sum (the jar's aggregation rule)."""
    chunks = total[20]
    for k in range(N_STATS):
        total[k] += st[k]
    if _perfect(st):
        total[20] = chunks
