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

from typing import Any

import numpy as np

from vislang.metrics.base import Metric
from vislang.metrics.text.ngrams import ImageNgrams, image_ngrams

BETA = 1.2


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


def rouge_l_scores(refs_tok: list[list[str]], cands_tok: list[str], beta: float = BETA) -> tuple[float, np.ndarray]:
    """(corpus mean, per-image array) of ROUGE-L over parallel lists of tokenized captions."""
    refs_flat = [r for rs in refs_tok for r in rs]
    t = image_ngrams(list(cands_tok), refs_flat, [len(rs) for rs in refs_tok], 1)
    return rouge_l_images(t, list(cands_tok), refs_flat, beta)


def rouge_l_images(t: ImageNgrams, cands_tok: list[str], refs_flat: list[str],
                   beta: float = BETA) -> tuple[float, np.ndarray]:
    """(corpus mean, per-image array) of ROUGE-L from an image-order n-gram table
    (:func:`~vislang.metrics.text.ngrams.image_ngrams` of ``cands_tok`` and ``refs_flat``).

    All (candidate, reference) pairs advance together: the bit-parallel LCS update runs on uint64
    arrays, one step per reference position, on word ids.  Images whose captions split differently
    on " " than on whitespace (empty captions, a non-breaking space inside a token...), whose
    candidate has more than 63 tokens or a reference more than 256, take the per-image path
    (Python integers have no width limit).
    """
    n_img = t.n_img
    L = t.table.lengths
    cl = L[t.cand]
    is_ref = ~t.is_cand
    rl = L[is_ref]
    ref_img = t.img[is_ref]
    if t.other_space:  # some caption splits differently on " " (empty captions, U+00A0 inside a token...)
        spaces = np.fromiter((s.count(" ") + 1 for s in cands_tok), dtype=np.int64, count=n_img)
        rspaces = np.fromiter((r.count(" ") + 1 for r in refs_flat), dtype=np.int64, count=rl.size)
        bad_ref = (rspaces != rl) | (rl > 256)
        bad = (spaces != cl) | (cl > 63)
    else:  # "".split(" ") is [""]: an empty caption is one empty token
        bad_ref = (rl == 0) | (rl > 256)
        bad = (cl == 0) | (cl > 63)
    bad |= np.bincount(ref_img, weights=bad_ref, minlength=n_img) > 0
    per = np.zeros(n_img)
    first_ref = t.cand - np.arange(n_img)
    for i in np.flatnonzero(bad).tolist():
        per[i] = rouge_l_image(cands_tok[i], refs_flat[first_ref[i]:first_ref[i] + t.nref[i]], beta)
    good_ref = ~bad[ref_img]
    if not good_ref.any():
        return float(np.mean(per)), per
    # match masks: for each word position, the bits of the positions of its image's candidate that
    # hold the same word; the word positions sorted by (word, position) group them by (word, image)
    # with the candidate's positions first
    up = t.table.unigram_positions
    sent_of_pos = np.repeat(np.arange(L.size), L)
    s_up = sent_of_pos[up]
    w_up = t.words[up]
    i_up = t.img[s_up]
    new = np.empty(up.size, dtype=bool)
    new[0] = True
    new[1:] = (w_up[1:] != w_up[:-1]) | (i_up[1:] != i_up[:-1])
    runs = np.flatnonzero(new)
    in_cand = t.is_cand[s_up] & ~bad[i_up]
    bits = np.where(in_cand, np.left_shift(np.uint64(1), np.where(in_cand, up - t.starts[s_up], 0).astype(np.uint64)),
                    np.uint64(0))
    mask_at = np.empty(up.size, dtype=np.uint64)
    mask_at[up] = np.repeat(np.bitwise_or.reduceat(bits, runs), np.diff(np.append(runs, up.size)))
    # references (longest first, so that the references still running at step j are a prefix)
    rsent = np.flatnonzero(is_ref)[good_ref]
    rlen = rl[good_ref]
    order = np.argsort(-rlen, kind="stable")
    rsent, rlen = rsent[order], rlen[order]
    rimg = t.img[rsent]
    width = int(rlen[0])
    M = np.zeros((width, rsent.size), dtype=np.uint64)  # step j: match masks of each reference's word j
    cols = np.arange(int(rlen.sum())) - np.repeat(np.cumsum(rlen) - rlen, rlen)
    rows = np.repeat(np.arange(rsent.size), rlen)
    M[cols, rows] = mask_at[t.starts[rsent][rows] + cols]
    m = cl[rimg]
    full = np.left_shift(np.uint64(1), m.astype(np.uint64)) - np.uint64(1)
    v = full.copy()
    running = rsent.size - np.searchsorted(rlen[::-1], np.arange(width), side="right")  # refs longer than j
    for j in range(width):
        r = int(running[j])
        vj = v[:r]
        u = vj & M[j, :r]
        vj[:] = ((vj + u) | (vj - u)) & full[:r]
    lcs = np.empty(rsent.size, dtype=np.int64)
    lcs[order] = m - _popcount64(v)  # back in image order
    rlen, rimg = rl[good_ref], ref_img[good_ref]
    m = cl[rimg]
    prec = lcs / m.astype(np.float64)
    rec = lcs / rlen.astype(np.float64)
    # per image: max precision and max recall over its references
    bounds = np.flatnonzero(np.concatenate(([True], rimg[1:] != rimg[:-1])))
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
