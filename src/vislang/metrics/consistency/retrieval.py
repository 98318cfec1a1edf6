"""Retrieval scores of a dual encoder: R-precision (AttnGAN's protocol) and recall@k.

R-precision (Xu et al. 2018, "AttnGAN", Sec. 4.1): each query (an image, or a caption) ranks
``1 + distractors`` candidates -- its true partner and ``distractors`` (99) others drawn at random
without replacement from the rest of the set -- by cosine similarity; with one relevant item
(R = 1) the R-precision of a query is 1 when the true partner ranks first, and the score is the
mean over queries. AttnGAN uses image-to-text (a generated image queries 100 captions);
``text_to_image`` is the mirror protocol (a caption queries 100 images). Distractors are drawn by
a ``torch.Generator`` seeded with ``seed`` (the same seed gives the same draws); a tie with a
distractor counts as a miss. When the set has fewer than ``distractors + 1`` items every other
item is a distractor (the count used is returned).

Recall@k: the share of queries whose true partner is among the k most similar of *all* items.
``sim[i, j]`` is the similarity of query ``i`` and candidate ``j``; the partner of query ``i`` is
candidate ``i``.
"""

from __future__ import annotations

from typing import Sequence

import torch


def r_precision(sim: torch.Tensor, distractors: int = 99, seed: int = 0) -> tuple[float, torch.Tensor, int]:
    """``(mean, per-query hits (bool), distractors used)`` for a square similarity matrix (rows = queries)."""
    n = sim.shape[0]
    if sim.ndim != 2 or sim.shape[1] != n:
        raise ValueError(f"r_precision needs a square N x N similarity matrix, got {tuple(sim.shape)}")
    if n < 2:
        raise ValueError("r_precision needs at least 2 items")
    k = min(int(distractors), n - 1)
    g = torch.Generator().manual_seed(int(seed))
    # k distinct indices from the n - 1 others: sample from range(n - 1) and skip over the query itself
    draws = torch.rand(n, n - 1, generator=g).argsort(dim=1)[:, :k]
    rows = torch.arange(n).unsqueeze(1)
    others = draws + (draws >= rows).long()
    true = sim.diagonal().unsqueeze(1)
    hits = (sim.gather(1, others) < true).all(dim=1)
    return float(hits.double().mean()), hits, k


def recall_at_k(sim: torch.Tensor, ks: Sequence[int] = (1, 5, 10)) -> dict[int, float]:
    """Recall@k over all candidates; rank = 1 + number of candidates scoring strictly higher than the partner."""
    true = sim.diagonal().unsqueeze(1)
    rank = 1 + (sim > true).sum(dim=1)
    return {int(k): float((rank <= k).double().mean()) for k in ks}


def retrieval_scores(image_emb: torch.Tensor, text_emb: torch.Tensor, distractors: int = 99, seed: int = 0,
                     ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """Both directions: ``R-precision_t2i``, ``R-precision_i2t``, ``recall@k_t2i``, ``recall@k_i2t``, ``distractors``.

    The two directions use independent distractor draws (seeds ``seed`` and ``seed + 1``)."""
    img = torch.nn.functional.normalize(image_emb.double(), dim=-1)
    txt = torch.nn.functional.normalize(text_emb.double(), dim=-1)
    sim = img @ txt.t()              # rows: images, columns: texts
    out: dict[str, float] = {}
    rp_t2i, _, k = r_precision(sim.t(), distractors, seed)
    rp_i2t, _, _ = r_precision(sim, distractors, seed + 1)
    out["R-precision_t2i"], out["R-precision_i2t"], out["distractors"] = rp_t2i, rp_i2t, k
    for kk, v in recall_at_k(sim.t(), ks).items():
        out[f"recall@{kk}_t2i"] = v
    for kk, v in recall_at_k(sim, ks).items():
        out[f"recall@{kk}_i2t"] = v
    return out
