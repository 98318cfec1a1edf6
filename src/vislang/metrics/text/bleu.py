"""BLEU-1..4 as coco-caption (pycocoevalcap) computes it.

Papineni, Roukos, Ward & Zhu (2002), "BLEU: a method for automatic evaluation of machine
translation", ACL.  coco-caption's variant (``bleu_scorer.py`` by D. Chiang, used with
``option='closest'``):

* modified n-gram precision: candidate n-gram counts clipped by their maximum count in any one
  reference of the same image, summed over the corpus;
* effective reference length: for each image the reference length closest to the candidate
  length (ties to the shorter), summed over the corpus;
* BLEU-N = BP * prod_{k<=N} ((correct_k + 1e-15) / (guess_k + 1e-9)) ** (1/N), with the brevity
  penalty BP = exp(1 - 1/r) when r = (testlen + 1e-15) / (reflen + 1e-9) < 1;
* per-image scores: the same formula on one image's counts (these are what pycocoevalcap returns
  as the per-image list; their mean is NOT the corpus score).

The arithmetic follows coco-caption's operation order, so scores agree to ~1e-15.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vislang.metrics.base import Metric
from vislang.metrics.text.ngrams import ImageNgrams, image_ngrams

TINY = 1e-15
SMALL = 1e-9


def bleu_stats_images(t: ImageNgrams, n: int = 4) -> dict[str, np.ndarray]:
    """Per-image sufficient statistics from an image-order n-gram table (:func:`image_ngrams`).

    Returns ``correct`` (n_img x n clipped matches), ``guess`` (n_img x n), ``testlen``, ``reflen``
    (closest reference length).
    """
    n_img = t.n_img
    L = t.table.lengths
    testlen = L[t.cand]
    correct = np.zeros((n_img, n), dtype=np.int64)
    for k in range(n):
        s, c = t.table.sent[k], t.table.count[k]
        simg, segs, cand_first = t.segments(k + 1)
        if segs.size == 0:
            continue
        # per (n-gram, image): the candidate's count (first row) clipped by the largest reference count
        refmax = np.maximum.reduceat(np.where(t.is_cand[s], 0, c), segs)
        clipped = np.minimum(c[segs], refmax)[cand_first]
        correct[:, k] = np.bincount(simg[segs[cand_first]], weights=clipped, minlength=n_img).astype(np.int64)
    guess = np.maximum(0, testlen[:, None] - np.arange(n)[None, :])
    # closest reference length, ties to the shorter: min over refs of (|l - testlen|, l)
    is_ref = ~t.is_cand
    reflens = L[is_ref]
    ref_img = t.img[is_ref]
    big = int(reflens.max(initial=0)) + 1
    key = np.abs(reflens - testlen[ref_img]) * big + reflens
    starts = t.cand - np.arange(n_img)  # first reference of each image among the references
    reflen = np.minimum.reduceat(key, starts) % big
    return {"correct": correct, "guess": guess, "testlen": testlen, "reflen": reflen}


def bleu_from_stats(stats: dict[str, np.ndarray], n: int = 4) -> tuple[list[float], np.ndarray]:
    """(corpus BLEU-1..n, per-image array n_img x n) from :func:`bleu_stats_images` output."""
    correct = stats["correct"].astype(np.float64)
    guess = stats["guess"].astype(np.float64)
    testlen = stats["testlen"].astype(np.float64)
    reflen = stats["reflen"].astype(np.float64)
    per = np.empty((correct.shape[0], n))
    b = np.ones(correct.shape[0])
    for k in range(n):
        b = b * ((correct[:, k] + TINY) / (guess[:, k] + SMALL))
        per[:, k] = b ** (1.0 / (k + 1))
    ratio = (testlen + TINY) / (reflen + SMALL)
    short = ratio < 1
    if short.any():
        with np.errstate(over="ignore", divide="ignore"):
            per[short] *= np.exp(1 - 1 / ratio[short])[:, None]
    # corpus: Python floats, coco-caption's order of operations
    tc = [int(x) for x in stats["correct"].sum(axis=0)]
    tg = [int(x) for x in stats["guess"].sum(axis=0)]
    T = int(stats["testlen"].sum())
    R = int(stats["reflen"].sum())
    corpus = []
    b2 = 1.0
    for k in range(n):
        b2 *= float(tc[k] + TINY) / (tg[k] + SMALL)
        corpus.append(b2 ** (1.0 / (k + 1)))
    r = (T + TINY) / (R + SMALL)
    if r < 1:
        corpus = [x * math.exp(1 - 1 / r) for x in corpus]
    return corpus, per


def bleu_scores(refs_tok: list[list[str]], cands_tok: list[str], n: int = 4) -> tuple[list[float], np.ndarray]:
    """Corpus and per-image BLEU-1..n of tokenized captions (parallel lists, one image each)."""
    t = image_ngrams(list(cands_tok), [r for rs in refs_tok for r in rs], [len(rs) for rs in refs_tok], n)
    return bleu_from_stats(bleu_stats_images(t, n), n)


class BleuMetric(Metric):
    """Mergeable corpus BLEU (the metric protocol): the state is per-image clipped counts and lengths.

    ``update(refs, cands)`` takes raw captions (``dict[id, list[str]]``, ``dict[id, str]``) and
    tokenizes them; BLEU's corpus score only needs sums of clipped counts and lengths, so batches
    and shards merge exactly.  ``compute()`` returns ``Bleu_1``..``Bleu_4`` and ``per_item``.
    """

    name = "bleu"

    def __init__(self, n: int = 4):
        self.n = n
        self.reset()

    def reset(self) -> None:
        self.ids: list[Any] = []
        self.correct = np.zeros((0, self.n), dtype=np.int64)
        self.guess = np.zeros((0, self.n), dtype=np.int64)
        self.testlen = np.zeros(0, dtype=np.int64)
        self.reflen = np.zeros(0, dtype=np.int64)

    def update(self, refs: dict, cands: dict) -> None:
        from vislang.metrics.text.score import prepare

        ids, refs_tok, cands_tok = prepare(refs, cands)
        seen = set(self.ids)
        dup = [i for i in ids if i in seen]
        if dup:
            from vislang.errors import InputError

            raise InputError(f"BLEU: image id {dup[0]!r} was already added; each image is scored once")
        t = image_ngrams(cands_tok, [r for rs in refs_tok for r in rs], [len(rs) for rs in refs_tok], self.n)
        st = bleu_stats_images(t, self.n)
        self.ids.extend(ids)
        self.correct = np.concatenate([self.correct, st["correct"]])
        self.guess = np.concatenate([self.guess, st["guess"]])
        self.testlen = np.concatenate([self.testlen, st["testlen"]])
        self.reflen = np.concatenate([self.reflen, st["reflen"]])

    def merge(self, other: "BleuMetric") -> "BleuMetric":
        self._check_mergeable(other)
        if other.n != self.n:
            raise TypeError("can only merge a BleuMetric with the same n")
        self.ids.extend(other.ids)
        self.correct = np.concatenate([self.correct, other.correct])
        self.guess = np.concatenate([self.guess, other.guess])
        self.testlen = np.concatenate([self.testlen, other.testlen])
        self.reflen = np.concatenate([self.reflen, other.reflen])
        return self

    def compute(self) -> dict[str, Any]:
        corpus, per = bleu_from_stats({"correct": self.correct, "guess": self.guess,
                                       "testlen": self.testlen, "reflen": self.reflen}, self.n)
        out: dict[str, Any] = {f"Bleu_{k + 1}": corpus[k] for k in range(self.n)}
        out["per_item"] = {f"Bleu_{k + 1}": dict(zip(self.ids, per[:, k].tolist())) for k in range(self.n)}
        return out
