"""Scene-specific parts of dual-encoder training: foils, mirrored scenes, relation-fact targets.

Used by :func:`vislang.train.dual_encoder.train` (and re-exported there): :func:`step_captions` (a
step's captions and their FOIL captions, a pure function of (seed, step)), :func:`mirrored_scenes` /
:func:`mirror_indices` (each training scene reflected on the axis of one of its relations, and which
of them join a step), :class:`RelationHeads` / :func:`relation_targets` (the ``--aux-weight`` heads
that read "which colour / shape is left of / above which" from the embeddings, and their targets).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch


def mirror_spec(spec, axis: str):
    """The scene reflected left-right (``axis="x"``) or top-bottom (``"y"``): positions mirrored, the
    relations on that axis turned round ("left of" <-> "right of"); same objects and background."""
    from vislang.data.scene_spec import SceneSpec

    swap = {"x": {"left of": "right of", "right of": "left of"}, "y": {"above": "below", "below": "above"}}[axis]
    objs = tuple(dataclasses.replace(o, x=round(1 - o.x, 4)) if axis == "x" else
                 dataclasses.replace(o, y=round(1 - o.y, 4)) for o in spec.objects)
    rels = tuple((a, swap.get(r, r), b) for a, r, b in spec.relations)
    return SceneSpec(objs, rels, spec.background)


def mirrored_scenes(n: int, seed: int, size: int, k: int = 5):
    """For training scene ``i`` of ``generate(n, seed=seed, split="train")`` with 2+ objects: its mirror
    image (uint8 ``N x 3 x S x S``, zeros for one-object scenes) and captions, reflected on the axis of
    one of its relations (drawn with the scene's own generator), so at least one relation is stated
    backwards relative to the original scene.  Returns ``(images, captions, has_mirror)``."""
    from vislang.data.scene_render import render_chw
    from vislang.data.scene_text import all_captions
    from vislang.data.scenes import sample_spec, scene_rng

    images = torch.zeros(n, 3, size, size, dtype=torch.uint8)
    caps: list[list[str]] = [[] for _ in range(n)]
    has = torch.zeros(n, dtype=torch.bool)
    for i in range(n):
        spec = sample_spec(scene_rng(seed, "train", i), "train")
        if not spec.relations:
            continue
        rng = np.random.Generator(np.random.PCG64([int(seed), int(i), 13]))
        _, r, _ = spec.relations[int(rng.integers(len(spec.relations)))]
        m = mirror_spec(spec, "x" if r in ("left of", "right of") else "y")
        images[i] = torch.from_numpy(render_chw(m, size))
        caps[i] = all_captions(m, k=k, rng=rng)
        has[i] = True
    return images, caps, has


def _inverse_foil(caption: str, spec, rng) -> str:
    """A relation foil that states a relation backwards ("left of" -> "right of"): drawn from
    :func:`perturb_caption` until its changed relation is the inverse (at most 30 draws)."""
    from vislang.data.scene_spec import INVERSE
    from vislang.data.scene_text import parse_caption, perturb_caption

    foil = caption
    for _ in range(30):
        foil = perturb_caption(caption, "relation", rng)
        got = parse_caption(foil)
        if any(r2 == INVERSE[r1] for (_, r1, _), (_, r2, _) in zip(spec.relations, got.relations)):
            break
    return foil


def step_captions(refs: list[list[str]], idx: list[int], seed: int, step: int, hard: bool,
                  hard_relation: float = 0.0):
    """The caption of each image of a step and (with ``hard``) the foils: a pure function of (seed, step).
    ``hard_relation``: the probability that a multi-object caption's foil swaps a relation's direction."""
    from vislang.data.scene_text import PERTURB_KINDS, parse_caption, perturb_caption

    rng = np.random.Generator(np.random.PCG64([int(seed), int(step), 7]))
    caps = [refs[i][int(rng.integers(len(refs[i])))] for i in idx]
    foils: list[str] = []
    if hard:
        for c in caps:
            spec = parse_caption(c)
            if spec is None:
                continue
            if hard_relation and spec.relations and rng.random() < hard_relation:
                foils.append(_inverse_foil(c, spec, rng))
                continue
            kinds = [k for k in PERTURB_KINDS if k != "relation" or spec.relations]
            foils.append(perturb_caption(c, kinds[int(rng.integers(len(kinds)))], rng))
    return caps, foils


def mirror_indices(idx: list[int], has_mirror: torch.Tensor, share: float, seed: int, step: int) -> list[int]:
    """The images of a step whose mirrored scene joins the batch (as its own image-caption pair, so the
    original and its mirror are each other's hardest negatives): each image with a mirror, with
    probability ``share``; a pure function of (seed, step)."""
    rng = np.random.Generator(np.random.PCG64([int(seed), int(step), 17]))
    draw = rng.random(len(idx))
    return [i for i, u in zip(idx, draw) if bool(has_mirror[i]) and u < share]


N_KEYS = 6  # colours and shapes: 6 each


class RelationHeads(torch.nn.Module):
    """Training-only linear heads: from an embedding, the logits of the facts "the object of colour
    (shape) a is left of / above the object of colour (shape) b" (2 x 6 x 6 each, for colour and for
    shape keys), one pair of heads per tower. Not part of the exported model."""

    def __init__(self, embed_dim: int, shared: bool = False):
        super().__init__()
        self.image = torch.nn.Linear(embed_dim, 2 * 2 * N_KEYS * N_KEYS)
        self.text = self.image if shared else torch.nn.Linear(embed_dim, 2 * 2 * N_KEYS * N_KEYS)
        # shared: the same facts must be read the same way from an image and from its caption, so the towers
        # put them in the same directions of the common space; unit embeddings are scaled to entries of order 1
        self.gain = math.sqrt(embed_dim) if shared else 1.0


def relation_targets(captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(target, mask)``, each ``N x 144``: for each stated relation "A left of B" (after
    :meth:`SceneSpec.canonical_relations`), on its axis, ``[A, B] = 1`` and ``[B, A] = 0``, keyed by
    colour (first 72 = 2 axes x 6 x 6) and by shape (last 72); a key two objects share is skipped."""
    from vislang.data.scene_spec import COLORS, SHAPES
    from vislang.data.scene_text import parse_caption

    n2 = N_KEYS * N_KEYS
    target = torch.zeros(len(captions), 4 * n2)
    mask = torch.zeros(len(captions), 4 * n2)
    for k, c in enumerate(captions):
        spec = parse_caption(c)
        if spec is None:
            continue
        attrs = spec.attributes
        for block, (slot, names) in enumerate(((1, COLORS), (2, SHAPES))):
            keys = [a[slot] for a in attrs]
            for ta, rel, tb in spec.canonical_relations():
                a, b = ta[slot], tb[slot]
                if keys.count(a) > 1 or keys.count(b) > 1:
                    continue
                base = block * 2 * n2 + (0 if rel == "left of" else n2)
                i, j = names.index(a), names.index(b)
                target[k, base + i * N_KEYS + j] = 1.0
                mask[k, base + i * N_KEYS + j] = 1.0
                mask[k, base + j * N_KEYS + i] = 1.0
    return target, mask


def _foil_owners(caps: list[str], foils: list[str]) -> list[int]:
    """The caption each foil of :func:`step_captions` was made from (captions outside the scene grammar get none)."""
    if len(foils) == len(caps):
        return list(range(len(caps)))
    from vislang.data.scene_text import parse_caption

    return [k for k, c in enumerate(caps) if parse_caption(c) is not None]
