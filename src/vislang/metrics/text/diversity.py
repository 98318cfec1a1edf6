"""Diversity of a set of generated captions (no references needed).

All measures work on PTB-tokenized captions (the same tokens BLEU and CIDEr see), words split on
whitespace:

* ``distinct_1``, ``distinct_2`` (Li et al., 2016, "A Diversity-Promoting Objective Function for
  Neural Conversation Models"): distinct n-grams over all captions / total n-grams;
* ``vocab_size``: number of distinct words used;
* ``mean_length``: mean number of words per caption;
* ``self_bleu_4`` (Zhu et al., 2018, "Texygen"): mean over captions of the sentence BLEU-4 of each
  caption against ALL the other captions as references.  Settings: coco-caption's BLEU formula
  (clipping by the maximum count in any one reference, closest reference length with ties to the
  shorter, brevity penalty, its 1e-15 / 1e-9 smoothing constants).  Computed exactly in
  O(total n-grams): the clip "max count over the others" of an n-gram is its largest count, or
  the second largest for the caption holding the largest, and the closest other length comes
  from the sorted lengths.  Lower is more diverse;
* ``novelty``: share of captions that do not occur verbatim (after tokenization) among the
  training captions; only with training captions;
* ``vendi_ngram`` (Friedman & Dieng, 2023): Vendi score of the cosine similarity of the captions'
  unigram+bigram count vectors (:func:`vislang.metrics.vendi.vendi_from_similarity`), on all
  captions when there are at most 2,000, else on a sample of 2,000 drawn with seed 0.  An
  empty caption is similar only to itself.

Per-caption values (``per_item``): ``self_bleu_4``, ``length`` and, with training captions,
``novel`` (1.0 or 0.0).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vislang.errors import InputError
from vislang.metrics.text.bleu import SMALL, TINY
from vislang.metrics.text.ngrams import NgramTable, count_ngrams

VENDI_MAX = 2000


def _self_bleu(table: NgramTable, n: int = 4) -> np.ndarray:
    """Per-caption BLEU-n of each caption against all the others (see the module docstring)."""
    N = table.lengths.size
    L = table.lengths
    correct = np.zeros((N, n))
    for k in range(n):
        s, g, c = table.sent[k], table.gid[k], table.count[k]
        if s.size == 0:
            continue
        order = np.lexsort((-c, g))
        gs, cs = g[order], c[order]
        first = np.concatenate(([True], gs[1:] != gs[:-1]))
        starts = np.nonzero(first)[0]
        group = np.cumsum(first) - 1
        m1 = cs[starts]
        has2 = np.zeros(starts.size, bool)
        nxt = starts + 1
        ok = nxt < gs.size
        has2[ok] = gs[nxt[ok]] == gs[starts[ok]]
        m2 = np.where(has2, cs[np.minimum(nxt, gs.size - 1)], 0)
        gi = group[np.argsort(order)]  # group of each original row
        other_max = np.where(c < m1[gi], m1[gi], m2[gi])
        correct[:, k] = np.bincount(s, weights=np.minimum(c, other_max), minlength=N)
    guess = np.maximum(0, L[:, None] - np.arange(n)[None, :]).astype(np.float64)
    # closest length among the other captions (ties to the shorter)
    uniq, counts = np.unique(L, return_counts=True)
    pos = np.searchsorted(uniq, L)
    same = counts[pos] >= 2
    lo_idx = pos - 1
    hi_idx = pos + 1
    big = np.iinfo(np.int64).max // 4
    lo = np.where(lo_idx >= 0, uniq[np.maximum(lo_idx, 0)], -big)
    hi = np.where(hi_idx < uniq.size, uniq[np.minimum(hi_idx, uniq.size - 1)], big)
    closest = np.where(L - lo <= hi - L, lo, hi)
    reflen = np.where(same, L, closest).astype(np.float64)
    b = np.ones(N)
    for k in range(n):
        b = b * ((correct[:, k] + TINY) / (guess[:, k] + SMALL))
    score = b ** (1.0 / n)
    ratio = (L + TINY) / (reflen + SMALL)
    short = ratio < 1
    with np.errstate(over="ignore", divide="ignore"):
        score[short] *= np.exp(1 - 1 / ratio[short])
    return score


def _vendi(table: NgramTable, seed: int = 0) -> float:
    import scipy.sparse as sp

    from vislang.metrics.vendi import vendi_from_similarity

    N = table.lengths.size
    rows = np.concatenate([table.sent[0], table.sent[1]])
    cols = np.concatenate([table.gid[0], table.gid[1] + table.size[0]])
    vals = np.concatenate([table.count[0], table.count[1]]).astype(np.float64)
    X = sp.csr_matrix((vals, (rows, cols)), shape=(N, table.size[0] + table.size[1] + 1))
    if N > VENDI_MAX:
        pick = np.sort(np.random.default_rng(seed).choice(N, VENDI_MAX, replace=False))
        X = X[pick]
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    inv = np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0)
    Xn = sp.diags(inv) @ X
    K = np.asarray((Xn @ Xn.T).todense())
    np.fill_diagonal(K, 1.0)  # an empty caption is similar to itself only
    return vendi_from_similarity(K)


def diversity_scores(cands_tok: list[str], train_tok: list[str] | None = None) -> tuple[dict[str, Any], dict[str, list]]:
    """Diversity of tokenized captions: (scores, per-caption lists).  See the module docstring."""
    if len(cands_tok) == 0:
        raise InputError("diversity: no captions")
    sents = [c.split() for c in cands_tok]
    table = count_ngrams(sents, 4)
    total1 = int(table.count[0].sum())
    total2 = int(table.count[1].sum())
    out: dict[str, Any] = {
        "distinct_1": table.size[0] / total1 if total1 else 0.0,
        "distinct_2": table.size[1] / total2 if total2 else 0.0,
        "vocab_size": int(table.size[0]),
        "mean_length": float(table.lengths.mean()),
    }
    per: dict[str, list] = {"length": table.lengths.astype(float).tolist()}
    if len(sents) >= 2:
        sb = _self_bleu(table, 4)
        out["self_bleu_4"] = float(sb.mean())
        per["self_bleu_4"] = sb.tolist()
    else:
        out["self_bleu_4"] = math.nan
    out["vendi_ngram"] = _vendi(table)
    if train_tok is not None:
        seen = set(train_tok)
        novel = [0.0 if c in seen else 1.0 for c in cands_tok]
        out["novelty"] = float(np.mean(novel))
        per["novel"] = novel
    return out, per
