"""Scene captions: templates, synonyms, the exact parser, foil captions, attribute matching."""

from __future__ import annotations

import numpy as np
import pytest

from vislang.data.scene_text import (COLOR_WORDS, RELATION_WORDS, SHAPE_WORDS, SIZE_WORDS, TEMPLATES, all_captions,
                                     describe, parse_caption, perturb_caption, spec_attributes_match)
from vislang.data.scenes import INVERSE, SceneObject, SceneSpec, sample_spec
from vislang.errors import InputError


def _rng(seed=0):
    return np.random.Generator(np.random.PCG64(seed))


@pytest.fixture(scope="module")
def scenes_1000():
    rng = _rng(2024)
    return [sample_spec(rng, split) for split in ("train", "test_unseen") for _ in range(500)]


RED_CIRCLE = SceneObject("circle", "red", "small", 0.2, 0.2)
BLUE_SQUARE = SceneObject("square", "blue", "large", 0.8, 0.2)
GREEN_STAR = SceneObject("star", "green", "small", 0.8, 0.8)


def test_describe_canonical_examples():
    one = SceneSpec((RED_CIRCLE,))
    two = SceneSpec((RED_CIRCLE, BLUE_SQUARE), ((0, "left of", 1),))
    three = SceneSpec((RED_CIRCLE, BLUE_SQUARE, GREEN_STAR), ((0, "left of", 1), (1, "above", 2)))
    assert describe(one) == "a small red circle"
    assert describe(two) == "a small red circle left of a large blue square"
    assert describe(two, template=3) == "a large blue square is right of a small red circle"
    assert describe(two, template=4) == "a large blue square with a small red circle left of it"
    assert describe(three) == "a small red circle left of a large blue square which is above a small green star"
    assert describe(three, template=1) == ("a small red circle is left of a large blue square and the large blue "
                                           "square is above a small green star")
    assert describe(three, template=2) == ("a large blue square with a small red circle left of it and a small "
                                           "green star below it")
    # a relation stated the other way round in the spec reads the same
    flipped = SceneSpec((RED_CIRCLE, BLUE_SQUARE), ((1, "right of", 0),))
    assert describe(flipped) == describe(two)


def test_parser_inverts_every_template_on_1000_scenes(scenes_1000):
    rng = _rng(1)
    parsed = 0
    for spec in scenes_1000:
        for t in range(len(TEMPLATES[len(spec.objects)])):
            for r in (None, rng):  # canonical words and random synonyms
                cap = describe(spec, r, template=t)
                p = parse_caption(cap)
                assert p is not None, cap
                assert sorted(p.attributes) == sorted(spec.attributes), cap
                assert p.canonical_relations() == spec.canonical_relations(), cap
                m = spec_attributes_match(p, spec)
                assert m["exact"] and m["attributes_correct"] == m["attributes_total"], cap
                parsed += 1
    assert parsed == 2 * sum(len(TEMPLATES[len(s.objects)]) for s in scenes_1000)


def test_synonym_tables_are_unambiguous():
    tables = (SIZE_WORDS, COLOR_WORDS, SHAPE_WORDS, RELATION_WORDS)
    words = [w for t in tables for syns in t.values() for w in syns]
    assert len(words) == len(set(words))
    assert [syns[0] for syns in SIZE_WORDS.values()] == ["small", "large"]  # canonical word first
    assert all(syns[0] == canon for t in (COLOR_WORDS, SHAPE_WORDS, RELATION_WORDS) for canon, syns in t.items())


def test_every_synonym_occurs_and_parses():
    rng = _rng(5)
    words = " ".join(describe(sample_spec(rng), rng) for _ in range(3000))
    for table in (SIZE_WORDS, COLOR_WORDS, SHAPE_WORDS, RELATION_WORDS):
        for syns in table.values():
            for w in syns:
                assert f" {w} " in f" {words} ", w


def test_at_least_five_distinct_captions(scenes_1000):
    rng = _rng(9)
    for spec in scenes_1000:
        caps = all_captions(spec, k=5, rng=rng)
        assert len(caps) == 5 and len(set(caps)) == 5
        assert all(c == c.lower() and c.strip() == c for c in caps)
    # deterministic without an rng, and more captions on demand
    spec = scenes_1000[0]
    assert all_captions(spec) == all_captions(spec)
    assert len(set(all_captions(spec, k=10))) == 10
    # the scene with the fewest possible captions: one object whose colour and shape have one word each
    lone = SceneSpec((SceneObject("triangle", "red", "large", 0.5, 0.5),))
    caps = all_captions(lone, k=12, rng=rng)
    assert len(set(caps)) == 12 == len(TEMPLATES[1]) * len(SIZE_WORDS["large"])
    with pytest.raises(InputError, match="distinct captions"):
        all_captions(lone, k=13, rng=rng)


def test_parser_tolerates_case_and_punctuation_and_rejects_other_sentences():
    p = parse_caption("A Big Violet Box, on top of a tiny orange plus sign.")
    assert p.attributes == [("large", "purple", "square"), ("small", "orange", "cross")]
    assert p.relations == ((0, "above", 1),)
    assert parse_caption("an image of a small orange star").attributes == [("small", "orange", "star")]
    for bad in ("", "a red circle", "an image of an orange star", "a small red circle next to a large blue square", "a small pink circle",
                "two small red circles", "a small red circle above"):
        assert parse_caption(bad) is None, bad
    # "the ..." must name an object already mentioned
    assert parse_caption("a small red circle is above a large blue square and the large green square "
                         "is left of a small red star") is None


def test_spec_attributes_match_hand_worked():
    true = SceneSpec((RED_CIRCLE, BLUE_SQUARE), ((0, "left of", 1),))
    # same scene, objects listed the other way round and the relation stated from the other side
    same = SceneSpec((SceneObject("square", "blue", "large"), SceneObject("circle", "red", "small")),
                     ((0, "right of", 1),))
    m = spec_attributes_match(same, true)
    assert m["exact"] and (m["attributes_correct"], m["relations_correct"]) == (6, 1)
    # the circle is green and large instead of red and small; relation wrong
    pred = SceneSpec((SceneObject("circle", "green", "large"), SceneObject("square", "blue", "large")),
                     ((0, "above", 1),))
    m = spec_attributes_match(pred, true)
    assert (m["color"], m["shape"], m["size"]) == (1, 2, 1)
    assert (m["attributes_correct"], m["attributes_total"], m["relations_correct"]) == (4, 6, 0)
    assert not m["exact"]
    # a one-object prediction of a two-object scene
    m = spec_attributes_match(SceneSpec((SceneObject("square", "blue", "large"),)), true)
    assert (m["attributes_correct"], m["objects_pred"], m["relations_correct"], m["exact"]) == (3, 1, 0, False)
    # an extra object is counted and spoils exactness
    m = spec_attributes_match(SceneSpec(true.objects + (GREEN_STAR,), true.relations), true)
    assert m["attributes_correct"] == 6 and m["objects_extra"] == 1 and not m["exact"]
    assert spec_attributes_match(None, true)["attributes_correct"] == 0


@pytest.mark.parametrize("kind", ["color", "shape", "size", "relation"])
def test_perturb_changes_exactly_one_thing(kind, scenes_1000):
    rng = _rng(17)
    done = 0
    for spec in scenes_1000[:400]:
        if kind == "relation" and len(spec.objects) == 1:
            with pytest.raises(InputError, match="no relation"):
                perturb_caption(spec, kind, rng)
            continue
        cap = describe(spec, rng)
        foil = perturb_caption(cap, kind, rng)
        p = parse_caption(foil)
        assert p is not None, foil
        m = spec_attributes_match(p, spec)
        n = len(spec.objects)
        if kind == "relation":
            assert m["attributes_correct"] == 3 * n and m["relations_correct"] == len(spec.relations) - 1, foil
        else:
            assert m["attributes_correct"] == 3 * n - 1 and m[kind] == n - 1, (cap, foil)
            assert m["relations_correct"] == len(spec.relations)
        assert foil != cap and foil.split()[0] == cap.split()[0]
        done += 1
    assert done > 250
    # a spec is described first; the result is a foil of it
    foil = perturb_caption(scenes_1000[0], kind if len(scenes_1000[0].objects) > 1 else "color", rng)
    assert not spec_attributes_match(parse_caption(foil), scenes_1000[0])["exact"]


def test_perturb_rejects_bad_input():
    rng = _rng(0)
    with pytest.raises(InputError, match="kind"):
        perturb_caption("a small red circle", "texture", rng)
    with pytest.raises(InputError, match="not a sentence"):
        perturb_caption("a dog on a sofa", "color", rng)


def test_inverse_relations_are_an_involution():
    assert all(INVERSE[INVERSE[r]] == r and INVERSE[r] != r for r in INVERSE)
