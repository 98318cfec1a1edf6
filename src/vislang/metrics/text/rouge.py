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


def rouge_l_scores(refs_tok: list[list[str]], cands_tok: list[str]) -> tuple[float, np.ndarray]:
    """(corpus mean, per-image array) of ROUGE-L over parallel lists of tokenized captions."""
    per = np.array([rouge_l_image(c, rs) for c, rs in zip(cands_tok, refs_tok)], dtype=np.float64)
    return float(np.mean(per)) if per.size else float("nan"), per


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
