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

Computed with arrays: the n-gram table (``ngrams.py``) gives every (sentence, n-gram, count); the
clipped products of a candidate with each of its references are a sorted join.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vislang.metrics.base import Metric
from vislang.metrics.text.bleu import lookup
from vislang.metrics.text.ngrams import NgramTable, count_ngrams

SIGMA = 6.0


def cider_from_table(table: NgramTable, n_img: int, ref_img: np.ndarray, n: int = 4,
                     sigma: float = SIGMA) -> tuple[float, np.ndarray]:
    """(corpus, per-image) CIDEr-D; sentences 0..n_img-1 are the candidates, the rest references
    (``ref_img[j]`` = image of reference j, references of one image contiguous)."""
    n_ref = ref_img.size
    ref_len = np.log(float(n_img))
    L = table.lengths
    blen = np.maximum(L - 1, 0).astype(np.float64)  # bigram counts (coco-caption's "length")
    delta = blen[:n_img][ref_img] - blen[n_img:]
    penalty = np.e ** (-(delta ** 2) / (2 * sigma ** 2))
    nref_img = np.bincount(ref_img, minlength=n_img)
    ref_start = np.zeros(n_img, dtype=np.int64)
    np.cumsum(nref_img[:-1], out=ref_start[1:])
    score = np.zeros((n_img, n))
    for k in range(n):
        G = max(table.size[k], 1)
        s, g, c = table.sent[k], table.gid[k], table.count[k]
        is_ref = s >= n_img
        rs, rg = s[is_ref] - n_img, g[is_ref]
        # document frequency: number of images whose references contain the n-gram (rows are sorted
        # by n-gram then sentence, references in image order: (n-gram, image) pairs come sorted)
        gi = rg * n_img + ref_img[rs]
        first = np.ones(gi.size, dtype=bool)
        if gi.size > 1:
            np.not_equal(gi[1:], gi[:-1], out=first[1:])
        df = np.bincount(rg[first], minlength=G).astype(np.float64)
        weight = ref_len - np.log(np.maximum(1.0, df))
        vec = c * weight[g]
        norm = np.sqrt(np.bincount(s, weights=vec * vec, minlength=n_img + n_ref))
        # clipped products: each candidate n-gram against each reference of its image
        cs = s[~is_ref]
        cv = vec[~is_ref]
        cg = g[~is_ref]
        reps = nref_img[cs]
        e_idx = np.repeat(np.arange(cs.size), reps)
        first = np.repeat(np.cumsum(reps) - reps, reps)
        r_of = ref_start[cs][e_idx] + (np.arange(e_idx.size) - first)
        rkey = rg * n_ref + rs  # sorted: table rows are sorted by n-gram then sentence
        rv = lookup(rkey, vec[is_ref], cg[e_idx] * n_ref + r_of, 0.0)
        hv = cv[e_idx]
        acc = np.bincount(r_of, weights=np.minimum(hv, rv) * rv, minlength=n_ref)
        nh = norm[:n_img][ref_img]
        nr = norm[n_img:]
        both = (nh != 0) & (nr != 0)
        val = np.where(both, acc / np.where(both, nh * nr, 1.0), acc)
        score[:, k] = np.bincount(ref_img, weights=val * penalty, minlength=n_img)
    per = np.mean(score, axis=1) / nref_img * 10.0
    return float(np.mean(per)), per


def cider_scores(refs_tok: list[list[str]], cands_tok: list[str], n: int = 4,
                 sigma: float = SIGMA) -> tuple[float, np.ndarray]:
    """Corpus and per-image CIDEr-D of tokenized captions (parallel lists, one image each)."""
    n_img = len(cands_tok)
    sents = [c.split() for c in cands_tok] + [r.split() for rs in refs_tok for r in rs]
    ref_img = np.repeat(np.arange(n_img), [len(rs) for rs in refs_tok])
    return cider_from_table(count_ngrams(sents, n), n_img, ref_img, n, sigma)


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
