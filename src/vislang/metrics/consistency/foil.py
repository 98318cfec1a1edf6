"""FOIL-style accuracy (after Shekhar et al. 2017, "FOIL it! Find One mismatch between Image and
Language caption", ACL): a caption and its foil -- the same caption with one word changed so it
no longer describes the image -- are scored against the image; the model is right when the true
caption scores strictly higher. Accuracy = the share of pairs it gets right (ties are wrong).

For the built-in scenes, foils come from :func:`vislang.data.scene_text.perturb_caption` (one
colour, shape, size or relation changed); :func:`scene_foils` builds them, seeded.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch


def foil_accuracy(score_true: torch.Tensor, score_foil: torch.Tensor) -> float:
    """Share of pairs with ``score_true > score_foil``."""
    st, sf = torch.as_tensor(score_true), torch.as_tensor(score_foil)
    if st.shape != sf.shape or st.numel() == 0:
        raise ValueError(f"foil_accuracy: need two equal, non-empty score vectors, got {tuple(st.shape)} and {tuple(sf.shape)}")
    return float((st > sf).double().mean())


def scene_foils(captions: Sequence[str], kind: str, seed: int = 0) -> tuple[list[int], list[str]]:
    """``(indices, foils)``: a ``kind`` foil of every caption that allows one (``relation`` needs two objects)."""
    from vislang.data.scene_text import parse_caption, perturb_caption

    rng = np.random.Generator(np.random.PCG64([int(seed), ["color", "shape", "size", "relation"].index(kind)]))
    idx, foils = [], []
    for i, c in enumerate(captions):
        spec = parse_caption(c)
        if spec is None or (kind == "relation" and not spec.relations):
            continue
        idx.append(i)
        foils.append(perturb_caption(c, kind, rng))
    return idx, foils
