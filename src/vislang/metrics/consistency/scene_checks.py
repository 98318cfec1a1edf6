"""Ground-truth consistency checks on the built-in scenes, where the truth is known exactly.

* Caption truthfulness: a caption is parsed back to a spec (:func:`vislang.data.scene_text.parse_caption`)
  and compared with the scene's true spec (:func:`vislang.data.scene_text.spec_attributes_match`,
  objects paired to maximise agreement). The per-caption score is the share of correct facts:
  ``(attributes_correct + relations_correct) / (attributes_total + relations_total)`` -- three
  attributes (size, colour, shape) per true object plus one per true relation. A caption outside the
  scene grammar scores 0 and is counted in ``unparsed``. ``attributes_share`` counts attributes only.
* Image faithfulness (:mod:`vislang.metrics.consistency.faithfulness`): an attribute classifier
  trained on real scenes reads a generated image; its reading is compared with the prompt's spec.

:func:`wrong_caption` builds the "partly wrong" (1-2 facts changed) and "wholly wrong" captions
of the Kendall-tau protocol in docs/consistency.md.
"""

from __future__ import annotations

from typing import Any, Hashable, Mapping

import numpy as np

from vislang.data.scene_spec import COLORS, INVERSE, SHAPES, SIZES, SceneObject, SceneSpec


def truth_share(caption: str, true: SceneSpec) -> dict[str, Any]:
    """Per-caption truthfulness: ``share`` (attributes + relations), ``attributes_share``, ``parsed``, ``exact``."""
    from vislang.data.scene_text import parse_caption, spec_attributes_match

    pred = parse_caption(caption)
    m = spec_attributes_match(pred, true)
    total = m["attributes_total"] + m["relations_total"]
    return {"share": (m["attributes_correct"] + m["relations_correct"]) / total,
            "attributes_share": m["attributes_correct"] / m["attributes_total"],
            "parsed": pred is not None, "exact": bool(m["exact"])}


def caption_truthfulness(captions: Mapping[Hashable, str], specs: Mapping[Hashable, SceneSpec]) -> dict[str, Any]:
    """Corpus means over the ids of ``captions`` (every id needs a spec) plus ``per_item`` shares."""
    missing = [k for k in captions if k not in specs]
    if missing:
        from vislang.errors import InputError
        raise InputError(f"caption id {missing[0]!r} has no scene spec ({len(missing)} such ids)")
    items = {k: truth_share(c, specs[k]) for k, c in captions.items()}
    n = len(items)
    return {"truth_share": sum(v["share"] for v in items.values()) / max(n, 1),
            "truth_attributes_share": sum(v["attributes_share"] for v in items.values()) / max(n, 1),
            "truth_exact": sum(v["exact"] for v in items.values()) / max(n, 1),
            "unparsed": sum(not v["parsed"] for v in items.values()), "n": n,
            "per_item": {k: v["share"] for k, v in items.items()}}


def _other(values, current, rng) -> str:
    choices = [v for v in values if v != current]
    return choices[int(rng.integers(len(choices)))]


def wrong_caption(spec: SceneSpec, changes: int | None, rng: np.random.Generator) -> str:
    """A caption of ``spec`` with ``changes`` facts (an object's size, colour or shape, or a relation)
    changed, each to another value; ``changes=None`` changes every attribute of every object and
    turns every relation perpendicular (``left of`` -> ``above`` or ``below``) ("wholly wrong"). Objects are kept distinct where possible."""
    from vislang.data.scene_text import describe

    objs = [list(o.attributes) for o in spec.objects]
    rels = [list(r) for r in spec.relations]
    facts = [("obj", i, s) for i in range(len(objs)) for s in range(3)] + [("rel", k, 0) for k in range(len(rels))]
    if changes is None:
        chosen = facts
    else:
        order = rng.permutation(len(facts))[:changes]
        chosen = [facts[int(j)] for j in order]
    for kind, i, slot in chosen:
        if kind == "rel":
            a, r, b = rels[i]
            # wholly wrong: a perpendicular relation (the inverse would be true of the swapped objects)
            rels[i][1] = _other([x for x in INVERSE if x not in (r, INVERSE[r])] if changes is None
                                else list(INVERSE), r, rng)
        else:
            values = (SIZES, COLORS, SHAPES)[slot]
            if changes is None:  # avoid every true object's value where possible, so no pairing recovers it
                used = {o.attributes[slot] for o in spec.objects}
                values = [v for v in values if v not in used] or values
            for _ in range(20):
                objs[i][slot] = _other(values, spec.objects[i].attributes[slot], rng)
                if sum(o == objs[i] for o in objs) == 1:
                    break
    new = SceneSpec(tuple(SceneObject(shape=h, color=c, size=s) for s, c, h in objs),
                    tuple((a, r, b) for a, r, b in rels))
    return describe(new, rng)
