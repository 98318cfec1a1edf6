"""ROUGE-L as coco-caption (pycocoevalcap) computes it.

Lin (2004), "ROUGE: A Package for Automatic Evaluation of Summaries", ACL workshop.  coco-caption's
variant (``rouge.py`` by R. Vedantam): with the candidate and each reference split on single spaces
(so an empty caption is ONE empty token), LCS = length of their longest common subsequence,
P_j = LCS / |candidate|, R_j = LCS / |reference_j|; then P = max_j P_j and R = max_j R_j taken
SEPARATELY, and ROUGE_L = (1 + beta^2) P R / (R + beta^2 P) with beta = 1.2, or 0 when P or R is 0.
The corpus score is the mean over images.

The LCS length uses the bit-parallel algorithm of Hyyrö (2004) / Allison & Dix (1986): one
big-integer update per candidate token instead of a |c| x |r| table.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from vislang.metrics.base import Metric

BETA = 1.2
_OTHER_SPACE = re.compile(r"[^\S ]")  # whitespace other than " "


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence of token lists ``a`` and ``b``."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return 0
    masks: dict[str, int] = {}
    for i, t in enumerate(b):
        masks[t] = masks.get(t, 0) | (1 << i)
    full = (1 << len(b)) - 1
    v = full
    get = masks.get
    for t in a:
        u = v & get(t, 0)
        v = ((v + u) | (v - u)) & full
    return len(b) - v.bit_count()


def rouge_l_image(cand: str, refs: list[str], beta: float = BETA) -> float:
    """ROUGE-L of one tokenized candidate against its tokenized references (coco-caption's rule)."""
    tc = cand.split(" ")
    # Bit masks over the candidate tokens, shared by all references of the image.
    masks: dict[str, int] = {}
    for i, t in enumerate(tc):
        masks[t] = masks.get(t, 0) | (1 << i)
    full = (1 << len(tc)) - 1
    get = masks.get
    prec_max = rec_max = 0.0
    nc = float(len(tc))
    for ref in refs:
        tr = ref.split(" ")
        v = full
        for t in tr:
            u = v & get(t, 0)
            v = ((v + u) | (v - u)) & full
        lcs = len(tc) - v.bit_count()
        p = lcs / nc
        r = lcs / float(len(tr))
        if p > prec_max:
            prec_max = p
        if r > rec_max:
            rec_max = r
    if prec_max != 0 and rec_max != 0:
        return ((1 + beta ** 2) * prec_max * rec_max) / float(rec_max + beta ** 2 * prec_max)
    return 0.0


def _popcount64(x: np.ndarray) -> np.ndarray:
    """Number of set bits of each uint64 (SWAR bit counting)."""
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return ((x * np.uint64(0x0101010101010101)) >> np.uint64(56)).astype(np.int64)


def rouge_l_scores(refs_tok: list[list[str]], cands_tok: list[str], beta: float = BETA,
                   table=None) -> tuple[float, np.ndarray]:
    """(corpus mean, per-image array) of ROUGE-L over parallel lists of tokenized captions.

    All (candidate, reference) pairs advance together: the bit-parallel LCS update runs on uint64
    arrays, one step per reference position, on the word ids of the n-gram table (``table``: the
    :func:`~vislang.metrics.text.ngrams.count_ngrams` table of candidates then references, built
    here if not given).  Images whose captions split differently on " " than on whitespace
    (empty captions, non-breaking spaces inside tokens), whose candidate has more than 63 tokens
    or a reference more than 256, take the per-image path (Python integers have no width limit).
    """
    from vislang.metrics.text.ngrams import count_ngrams

    n_img = len(cands_tok)
    if table is None:
        table = count_ngrams([c.split() for c in cands_tok] + [r.split() for rs in refs_tok for r in rs], 1)
    L = table.lengths
    words = table.position_gid[0]
    nref = np.fromiter((len(rs) for rs in refs_tok), dtype=np.int64, count=n_img)
    ref_img = np.repeat(np.arange(n_img), nref)
    cl, rl = L[:n_img], L[n_img:]
    if _OTHER_SPACE.search("\x00".join(cands_tok)) or any(r == "" or _OTHER_SPACE.search(r)
                                                            for rs in refs_tok for r in rs):
        # some caption splits differently on " " (empty captions, U+00A0 inside a token...)
        spaces = np.fromiter((s.count(" ") + 1 for s in cands_tok), dtype=np.int64, count=n_img)
        rspaces = np.fromiter((r.count(" ") + 1 for rs in refs_tok for r in rs), dtype=np.int64,
                              count=ref_img.size)
        bad_ref = (rspaces != rl) | (rl > 256)
        bad = (spaces != cl) | (cl > 63) | (np.bincount(ref_img, weights=bad_ref, minlength=n_img) > 0)
    else:
        bad = (cl == 0) | (cl > 63) | (np.bincount(ref_img, weights=rl > 256, minlength=n_img) > 0)
    per = np.zeros(n_img)
    for i in np.nonzero(bad)[0]:
        per[i] = rouge_l_image(cands_tok[i], refs_tok[i], beta)
    good_ref = ~bad[ref_img]
    if not good_ref.any():
        return float(np.mean(per)), per
    starts = np.zeros(L.size, dtype=np.int64)
    np.cumsum(L[:-1], out=starts[1:])
    # candidate bit masks: (image, word) -> bits of the positions holding the word
    cand_ok = np.nonzero(~bad)[0]
    cpos = np.repeat(starts[cand_ok], cl[cand_ok]) + (np.arange(int(cl[cand_ok].sum()))
                                                       - np.repeat(np.cumsum(cl[cand_ok]) - cl[cand_ok], cl[cand_ok]))
    cimg = np.repeat(cand_ok, cl[cand_ok])
    V = int(words.max(initial=0)) + 2
    ckey = cimg * V + words[cpos]
    cbit = np.left_shift(np.uint64(1), (cpos - starts[cimg]).astype(np.uint64))
    order = np.argsort(ckey, kind="stable")
    ckey, cbit = ckey[order], cbit[order]
    first = np.nonzero(np.concatenate(([True], ckey[1:] != ckey[:-1])))[0]
    ukey = ckey[first]
    umask = np.bitwise_or.reduceat(cbit, first)
    # references as a padded word-id matrix
    rsent = np.nonzero(good_ref)[0] + n_img
    rimg = ref_img[good_ref]
    rlen = L[rsent]
    width = int(rlen.max())
    rows = np.repeat(np.arange(rsent.size), rlen)
    cols = np.arange(int(rlen.sum())) - np.repeat(np.cumsum(rlen) - rlen, rlen)
    qkey = rimg[rows] * V + words[starts[rsent][rows] + cols]
    pos = np.minimum(np.searchsorted(ukey, qkey), ukey.size - 1)
    M = np.zeros((rsent.size, width), dtype=np.uint64)  # match masks; 0 pads the shorter references
    M[rows, cols] = np.where(ukey[pos] == qkey, umask[pos], np.uint64(0))
    m = cl[rimg]
    full = np.left_shift(np.uint64(1), m.astype(np.uint64)) - np.uint64(1)
    v = full.copy()
    for t in range(width):
        u = v & M[:, t]
        v = ((v + u) | (v - u)) & full
    lcs = m - _popcount64(v)
    prec = lcs / m.astype(np.float64)
    rec = lcs / rlen.astype(np.float64)
    bounds = np.nonzero(np.concatenate(([True], rimg[1:] != rimg[:-1])))[0]
    pmax = np.maximum.reduceat(prec, bounds)
    rmax = np.maximum.reduceat(rec, bounds)
    b2 = beta ** 2
    ok = (pmax != 0) & (rmax != 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        sc = np.where(ok, ((1 + b2) * pmax * rmax) / (rmax + b2 * pmax), 0.0)
    per[rimg[bounds]] = sc
    return float(np.mean(per)), per


class RougeLMetric(Metric):
    """Mergeable ROUGE-L (metric protocol): the state is the per-image scores (the corpus value is
    their mean).  ``update(refs, cands)`` takes raw captions and tokenizes them."""

    name = "rouge_l"

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.scores: dict[Any, float] = {}

    def update(self, refs: dict, cands: dict) -> None:
        from vislang.errors import InputError
        from vislang.metrics.text.score import prepare

        ids, refs_tok, cands_tok = prepare(refs, cands)
        for i, c, rs in zip(ids, cands_tok, refs_tok):
            if i in self.scores:
                raise InputError(f"ROUGE-L: image id {i!r} was already added; each image is scored once")
            self.scores[i] = rouge_l_image(c, rs)

    def merge(self, other: "RougeLMetric") -> "RougeLMetric":
        self._check_mergeable(other)
        self.scores.update(other.scores)
        return self

    def compute(self) -> dict[str, Any]:
        per = np.array(list(self.scores.values()), dtype=np.float64)
        return {"ROUGE_L": float(np.mean(per)) if per.size else float("nan"),
                "per_item": {"ROUGE_L": dict(self.scores)}}
