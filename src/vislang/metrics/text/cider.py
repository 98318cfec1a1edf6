"""CIDEr-D as coco-caption (pycocoevalcap's ``Cider``) computes it.

Vedantam, Zitnick & Parikh (2015), "CIDEr: Consensus-based Image Description Evaluation", CVPR.
coco-caption's implementation (``cider_scorer.py``), which is the CIDEr-D variant of the paper
(clipping and a length penalty, no stemming):

* g_k(s): the count of n-gram k in sentence s times its IDF, log(N) - log(max(1, df_k)), where N is
  the number of images evaluated and df_k the number of images whose REFERENCES contain k;
  document frequencies therefore come from all references being evaluated, not from a fixed corpus;
* for n = 1..4, sim_n(c, r) = sum_k min(g_k(c), g_k(r)) g_k(r) / (|g(c)| |g(r)|) (clipped cosine;
  left unnormalised when a norm is 0) times exp(-delta^2 / (2 sigma^2)), sigma = 6, where delta
  is the difference of the numbers of BIGRAMS of candidate and reference (coco-caption counts the
  length from the order-2 entries; that equals the word-count difference except for captions of
  fewer than two words);
* CIDEr-D(c, refs) = 10 * mean_n (sum_j sim_n(c, r_j)) / |refs|; the corpus score is the mean over
  images.

Computed with arrays: the n-gram table in image order (``ngrams.image_ngrams``) gives every
(sentence, n-gram, count) with the rows of one (n-gram, image) contiguous, the candidate's first;
document frequencies and the clipped products of the candidate with each reference are reductions
over those segments.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vislang.metrics.base import Metric
from vislang.metrics.text.ngrams import ImageNgrams, image_ngrams

SIGMA = 6.0


def cider_from_images(t: ImageNgrams, n: int = 4, sigma: float = SIGMA) -> tuple[float, np.ndarray]:
    """(corpus, per-image) CIDEr-D from an image-order n-gram table (:func:`image_ngrams`)."""
    n_img = t.n_img
    ref_len = np.log(float(n_img))
    L = t.table.lengths
    is_ref = ~t.is_cand
    ref_img = t.img[is_ref]
    cand_of = t.cand[t.img]  # the candidate sentence of each sentence's image
    blen = np.maximum(L - 1, 0).astype(np.float64)  # bigram counts (coco-caption's "length")
    delta = blen[t.cand][ref_img] - blen[is_ref]
    penalty = np.e ** (-(delta ** 2) / (2 * sigma ** 2))
    n_sent = L.size
    score = np.zeros((n_img, n))
    for k in range(n):
        G = max(t.table.size[k], 1)
        s, g, c = t.table.sent[k], t.table.gid[k], t.table.count[k]
        simg, segs, cand_first = t.segments(k + 1)
        # document frequency: the number of images whose references hold the n-gram, i.e. of the
        # (n-gram, image) segments with a reference row
        seg_len = np.diff(np.append(segs, s.size))
        has_ref = seg_len > cand_first
        df = np.bincount(g[segs[has_ref]], minlength=G).astype(np.float64)
        weight = ref_len - np.log(np.maximum(1.0, df))
        vec = c * weight[g]
        norm = np.sqrt(np.bincount(s, weights=vec * vec, minlength=n_sent))
        # clipped products: each reference row against its segment's candidate row (if any)
        seg_of_row = np.repeat(np.arange(segs.size), seg_len)
        hv = np.where(cand_first, vec[segs], 0.0)[seg_of_row]
        prod = np.where(t.is_cand[s], 0.0, np.minimum(hv, vec) * vec)
        acc = np.bincount(s, weights=prod, minlength=n_sent)[is_ref]
        nh = norm[cand_of][is_ref]
        nr = norm[is_ref]
        both = (nh != 0) & (nr != 0)
        val = np.where(both, acc / np.where(both, nh * nr, 1.0), acc)
        score[:, k] = np.bincount(ref_img, weights=val * penalty, minlength=n_img)
    per = np.mean(score, axis=1) / t.nref * 10.0
    return float(np.mean(per)), per


def cider_scores(refs_tok: list[list[str]], cands_tok: list[str], n: int = 4,
                 sigma: float = SIGMA) -> tuple[float, np.ndarray]:
    """Corpus and per-image CIDEr-D of tokenized captions (parallel lists, one image each)."""
    t = image_ngrams(list(cands_tok), [r for rs in refs_tok for r in rs], [len(rs) for rs in refs_tok], n)
    return cider_from_images(t, n, sigma)


class CiderDMetric(Metric):
    """Mergeable CIDEr-D (metric protocol).

    CIDEr-D's IDF weights come from the document frequencies of ALL evaluated references and its
    log(N) from the number of ALL evaluated images, so per-batch scores cannot be combined: the
    state keeps every image's tokenized references and candidate (memory grows with the number of
    images, as it does in coco-caption) and ``compute()`` scores them together; ``merge`` joins
    the image sets of two shards, giving exactly the single-process result.
    """

    name = "cider_d"

    def __init__(self, n: int = 4, sigma: float = SIGMA):
        self.n, self.sigma = n, sigma
        self.reset()

    def reset(self) -> None:
        self.refs_tok: dict[Any, list[str]] = {}
        self.cands_tok: dict[Any, str] = {}

    def update(self, refs: dict, cands: dict) -> None:
        from vislang.errors import InputError
        from vislang.metrics.text.score import prepare

        ids, refs_tok, cands_tok = prepare(refs, cands)
        for i, c, rs in zip(ids, cands_tok, refs_tok):
            if i in self.cands_tok:
                raise InputError(f"CIDEr-D: image id {i!r} was already added; each image is scored once")
            self.cands_tok[i] = c
            self.refs_tok[i] = rs

    def merge(self, other: "CiderDMetric") -> "CiderDMetric":
        self._check_mergeable(other)
        self.refs_tok.update(other.refs_tok)
        self.cands_tok.update(other.cands_tok)
        return self

    def compute(self) -> dict[str, Any]:
        ids = list(self.cands_tok)
        corpus, per = cider_scores([self.refs_tok[i] for i in ids], [self.cands_tok[i] for i in ids],
                                   self.n, self.sigma)
        return {"CIDEr": corpus, "per_item": {"CIDEr": dict(zip(ids, per.tolist()))}}
