"""CLIP-S and RefCLIP-S (Hessel et al. 2021, "CLIPScore: A Reference-free Evaluation Metric for
Image Captioning", EMNLP, Sec. 3), per item and as a corpus mean.

With unit-norm embeddings ``E_I`` (image), ``E_C`` (candidate caption) and ``E_r`` (references):

* CLIP-S(I, C) = ``w * max(cos(E_I, E_C), 0)`` with ``w = 2.5`` (the paper's convention; scores
  lie in [0, 2.5], typical CLIP ViT-B/32 values on COCO 0.7-0.8). The paper prefixes every
  candidate with "A photo depicts" before encoding it with CLIP.
* RefCLIP-S(I, C, R) = harmonic mean of CLIP-S(I, C) and ``max(max_r cos(E_C, E_r), 0)``: the
  clipping at 0 applies once, after the maximum over the references, and the reference term is
  *not* multiplied by ``w``. The harmonic mean of ``a, b >= 0`` is ``2ab / (a + b)``, 0 when
  ``a + b = 0``.
* ``clip_score_x100`` (the convention of torchmetrics' ``clip_score``):
  ``max(100 * cos(E_I, E_C), 0)``, in [0, 100]. The two are related by
  ``x100 = 40 * CLIP-S(w=2.5)``; the corpus score is the mean of the per-item scores in both.

:func:`clip_s` / :func:`refclip_s` take embeddings (any scale: they are normalised here).
:class:`CLIPScore` is the mergeable metric (sums and counts; per-item scores kept on request).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch.nn import functional as F

from vislang.metrics.base import Metric

W_HESSEL = 2.5
#: name -> (multiplier of the clipped cosine, convention's description)
SCALES: dict[str, tuple[float, str]] = {
    "hessel": (W_HESSEL, "CLIP-S = 2.5 * max(cos, 0) (Hessel et al. 2021)"),
    "clipscore": (W_HESSEL, "alias of 'hessel'"),
    "x100": (100.0, "max(100 * cos, 0) (torchmetrics clip_score)"),
    "torchmetrics": (100.0, "alias of 'x100'"),
}
PREFIX = "A photo depicts"


def scale_factor(scale: str | float) -> float:
    """The multiplier of a scale name (``hessel``/``clipscore`` = 2.5, ``x100``/``torchmetrics`` = 100) or a number."""
    if isinstance(scale, (int, float)):
        return float(scale)
    if scale not in SCALES:
        from vislang.errors import InputError
        raise InputError(f"CLIP-S scale {scale!r}; expected one of {list(SCALES)} or a number")
    return SCALES[scale][0]


def with_prefix(captions: Sequence[str], prefix: str | None = PREFIX) -> list[str]:
    """``"A photo depicts " + caption`` for each caption (Hessel et al.'s prompt); unchanged when ``prefix`` is falsy."""
    return [f"{prefix} {c}" if prefix else c for c in captions]


def cosine_rows(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise cosine of two ``N x D`` tensors, in float64."""
    return (F.normalize(a.double(), dim=-1) * F.normalize(b.double(), dim=-1)).sum(-1)


def clip_s(image_emb: torch.Tensor, text_emb: torch.Tensor, scale: str | float = "hessel") -> torch.Tensor:
    """Per-item CLIP-S: ``w * max(cos, 0)``; ``scale`` 'hessel' (w = 2.5) or 'x100' (w = 100)."""
    return scale_factor(scale) * cosine_rows(image_emb, text_emb).clamp_min(0.0)


def harmonic_mean(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``2ab / (a + b)`` elementwise for ``a, b >= 0``; 0 where ``a + b == 0``."""
    s = a + b
    return torch.where(s > 0, 2 * a * b / torch.where(s > 0, s, torch.ones_like(s)), torch.zeros_like(s))


def ref_term(text_emb: torch.Tensor, ref_embs: Sequence[torch.Tensor]) -> torch.Tensor:
    """``max(max_r cos(E_C, E_r), 0)`` per item; ``ref_embs[i]`` is the ``R_i x D`` references of item i."""
    c = F.normalize(text_emb.double(), dim=-1)
    out = torch.empty(len(c), dtype=torch.float64)
    for i, r in enumerate(ref_embs):
        if len(r) == 0:
            from vislang.errors import InputError
            raise InputError(f"item {i} has no references; RefCLIP-S needs at least one")
        out[i] = (F.normalize(r.double(), dim=-1) @ c[i]).max()
    return out.clamp_min(0.0)


def refclip_s(image_emb: torch.Tensor, text_emb: torch.Tensor, ref_embs: Sequence[torch.Tensor]) -> torch.Tensor:
    """Per-item RefCLIP-S = H-mean(CLIP-S (w = 2.5), max(max_r cos(E_C, E_r), 0)) (Hessel et al. 2021, eq. 2)."""
    return harmonic_mean(clip_s(image_emb, text_emb, "hessel"), ref_term(text_emb, ref_embs))


class CLIPScore(Metric):
    """Mergeable corpus CLIP-S (both scales) and, when references are given, RefCLIP-S.

    ``update(image_emb, text_emb, ref_embs=None)``; ``compute()`` gives ``CLIP-S`` (w = 2.5),
    ``CLIP-S_x100``, ``RefCLIP-S`` (when every update had references), ``n`` and, with
    ``keep_items``, ``per_item`` lists.
    """

    name = "clipscore"

    def __init__(self, keep_items: bool = False):
        self.keep_items = keep_items
        self.reset()

    def reset(self) -> None:
        self.sum_cos_clipped = torch.zeros((), dtype=torch.float64)
        self.sum_ref = torch.zeros((), dtype=torch.float64)
        self.n = 0
        self.n_ref = 0
        self.items: dict[str, list[float]] = {"CLIP-S": [], "RefCLIP-S": []}

    def update(self, image_emb: torch.Tensor, text_emb: torch.Tensor, ref_embs: Sequence[torch.Tensor] | None = None) -> None:
        c = cosine_rows(image_emb, text_emb).clamp_min(0.0)
        self.sum_cos_clipped += c.sum()
        self.n += len(c)
        if self.keep_items:
            self.items["CLIP-S"].extend((W_HESSEL * c).tolist())
        if ref_embs is not None:
            r = refclip_s(image_emb, text_emb, ref_embs)
            self.sum_ref += r.sum()
            self.n_ref += len(r)
            if self.keep_items:
                self.items["RefCLIP-S"].extend(r.tolist())

    def merge(self, other: "CLIPScore") -> "CLIPScore":
        self._check_mergeable(other)
        self.sum_cos_clipped += other.sum_cos_clipped
        self.sum_ref += other.sum_ref
        self.n += other.n
        self.n_ref += other.n_ref
        for k in self.items:
            self.items[k].extend(other.items[k])
        return self

    def compute(self) -> dict[str, Any]:
        if self.n == 0:
            return {"CLIP-S": float("nan"), "CLIP-S_x100": float("nan"), "n": 0}
        mean = float(self.sum_cos_clipped) / self.n
        out: dict[str, Any] = {"CLIP-S": W_HESSEL * mean, "CLIP-S_x100": 100.0 * mean, "n": self.n}
        if self.n_ref and self.n_ref == self.n:
            out["RefCLIP-S"] = float(self.sum_ref) / self.n_ref
        if self.keep_items:
            out["per_item"] = {k: list(v) for k, v in self.items.items() if v}
        return out
