"""The consistency protocol on held-out built-in scenes (the acceptance figures of docs/consistency.md).

Given two embedding functions (uint8 images -> ``N x D``, captions -> ``N x D``), for each split
(``test``: seen colour-shape pairs; ``test_unseen``: every scene has a held-out pair):

* ``foil_<kind>``: FOIL accuracy -- each scene's first caption against its one-fact foil
  (:func:`~vislang.metrics.consistency.foil.scene_foils`, kinds colour, shape, size, relation;
  relation only for scenes of 2+ objects, redrawn when true of the scene by a diagonal tie),
  scored by the cosine with the image; ``foil_relation_inverse`` / ``_perpendicular`` split the
  relation foils by whether they state the relation backwards (left of -> right of) or turn it.
* ``R-precision_t2i`` / ``_i2t`` (1 true of 100, seeded) and ``recall@k`` over the split, first captions.
* ``kendall_tau``: every scene gets four captions -- true, one fact changed, two facts changed,
  wholly wrong (:func:`~vislang.metrics.consistency.scene_checks.wrong_caption`); CLIP-S of each
  (image, caption) pair against its share of true facts (:func:`truth_share`), Kendall's tau-b
  (``scipy.stats.kendalltau``) over all pairs pooled; ``kendall_tau_within`` is the mean tau over
  scenes of the four captions of one image (ties: tau-b).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch

from vislang.metrics.consistency.clipscore import clip_s, cosine_rows
from vislang.metrics.consistency.foil import foil_accuracy, scene_foils
from vislang.metrics.consistency.retrieval import retrieval_scores
from vislang.metrics.consistency.scene_checks import truth_share, wrong_caption

KINDS = ("color", "shape", "size", "relation")


def _is_inverse(caption: str, foil: str) -> bool:
    from vislang.data.scene_spec import INVERSE
    from vislang.data.scene_text import parse_caption

    a, b = parse_caption(caption), parse_caption(foil)
    return any(r2 == INVERSE[r1] for (_, r1, _), (_, r2, _) in zip(a.relations, b.relations))


def evaluate_scenes(embed_images: Callable[[torch.Tensor], torch.Tensor],
                    embed_texts: Callable[[list[str]], torch.Tensor], n: int = 1000, size: int = 64, seed: int = 0,
                    splits: Sequence[str] = ("test", "test_unseen"), data_seed: int = 0) -> dict[str, Any]:
    """``{split: {metric: value}}``; ``data_seed`` picks the scenes, ``seed`` the foils and distractors."""
    from scipy.stats import kendalltau

    from vislang.data.scenes import generate

    out: dict[str, Any] = {}
    for split in splits:
        s = generate(n, size=size, seed=data_seed, split=split)
        caps = [s.captions[i][0] for i in s.ids]
        img = embed_images(s.images)
        txt = embed_texts(caps)
        res: dict[str, Any] = {"n": len(caps)}
        true_cos = cosine_rows(img, txt)
        for kind in KINDS:
            idx, foils = scene_foils(caps, kind, seed, specs=[s.specs[i] for i in s.ids])
            foil_cos = cosine_rows(img[idx], embed_texts(foils))
            res[f"foil_{kind}"] = foil_accuracy(true_cos[idx], foil_cos)
            res[f"foil_{kind}_n"] = len(idx)
            if kind == "relation":  # split: the foil states the relation backwards, or a perpendicular one
                inv = torch.tensor([_is_inverse(caps[i], f) for i, f in zip(idx, foils)], dtype=torch.bool)
                for name, mask in (("inverse", inv), ("perpendicular", ~inv)):
                    if mask.any():
                        res[f"foil_relation_{name}"] = foil_accuracy(true_cos[idx][mask], foil_cos[mask])
        res.update(retrieval_scores(img, txt, distractors=99, seed=seed))
        rng = np.random.Generator(np.random.PCG64([int(seed), 11]))
        graded = [[wrong_caption(s.specs[i], k, rng) for k in (1, 2, None)] for i in s.ids]
        all_caps = [c for cap, g in zip(caps, graded) for c in [cap, *g]]
        shares = np.array([truth_share(c, s.specs[i])["share"] for i, cap, g in zip(s.ids, caps, graded)
                           for c in [cap, *g]])
        scores = clip_s(img.repeat_interleave(4, 0), embed_texts(all_caps)).numpy()
        res["kendall_tau"] = float(kendalltau(scores, shares).statistic)
        within = [kendalltau(scores[4 * j:4 * j + 4], shares[4 * j:4 * j + 4]).statistic for j in range(len(caps))]
        res["kendall_tau_within"] = float(np.nanmean(within))
        res["CLIP-S_by_level"] = {name: float(scores[k::4].mean()) for k, name in
                                  enumerate(("true", "1_changed", "2_changed", "wholly_wrong"))}
        res["share_by_level"] = {name: float(shares[k::4].mean()) for k, name in
                                 enumerate(("true", "1_changed", "2_changed", "wholly_wrong"))}
        out[split] = res
    return out
