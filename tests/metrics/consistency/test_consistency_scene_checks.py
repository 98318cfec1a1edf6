"""Caption truthfulness against hand-counted facts; the wrong-caption builder; scene foils."""

import numpy as np
import pytest

from vislang.data.scene_spec import SceneObject, SceneSpec
from vislang.metrics.consistency import caption_truthfulness, scene_foils, truth_share, wrong_caption

SPEC = SceneSpec((SceneObject("circle", "red", "small", 0.2, 0.5), SceneObject("square", "blue", "large", 0.8, 0.5)),
                 ((0, "left of", 1),))


def test_truth_share_hand_counted():
    # 7 facts: 2 x (size, colour, shape) + 1 relation
    assert truth_share("a small red circle left of a large blue square", SPEC)["share"] == 1.0
    assert truth_share("a small green circle left of a large blue square", SPEC)["share"] == pytest.approx(6 / 7)
    assert truth_share("a small green circle above a large blue square", SPEC)["share"] == pytest.approx(5 / 7)
    r = truth_share("a large blue square is right of a small red circle", SPEC)  # the same facts, other way round
    assert r["share"] == 1.0 and r["exact"]
    assert truth_share("a dog on a sofa", SPEC) == {"share": 0.0, "attributes_share": 0.0, "parsed": False,
                                                     "exact": False}


def test_caption_truthfulness_corpus():
    out = caption_truthfulness({1: "a small red circle left of a large blue square", 2: "a dog"}, {1: SPEC, 2: SPEC})
    assert out["truth_share"] == pytest.approx(0.5) and out["unparsed"] == 1 and out["n"] == 2
    assert out["per_item"] == {1: 1.0, 2: 0.0}


@pytest.mark.parametrize("seed", range(5))
def test_wrong_caption_changes_the_asked_number_of_facts(seed):
    rng = np.random.default_rng(seed)
    assert truth_share(wrong_caption(SPEC, 0, rng), SPEC)["share"] == 1.0
    assert truth_share(wrong_caption(SPEC, 1, rng), SPEC)["share"] == pytest.approx(6 / 7)
    assert truth_share(wrong_caption(SPEC, 2, rng), SPEC)["share"] == pytest.approx(5 / 7)
    # wholly wrong: no pairing of objects recovers any fact when values other than every true one exist
    small = SceneSpec((SPEC.objects[0], SceneObject("square", "blue", "small", 0.8, 0.5)), SPEC.relations)
    assert truth_share(wrong_caption(small, None, rng), small)["share"] == 0.0
    assert truth_share(wrong_caption(SPEC, None, rng), SPEC)["share"] <= 2 / 7   # sizes can only swap


def test_scene_foils():
    caps = ["a small red circle left of a large blue square", "a small red circle"]
    idx, foils = scene_foils(caps, "relation", seed=0)
    assert idx == [0] and truth_share(foils[0], SPEC)["share"] == pytest.approx(6 / 7)
    idx, foils = scene_foils(caps, "color", seed=0)
    assert idx == [0, 1] and scene_foils(caps, "color", seed=0) == (idx, foils)
    assert truth_share(foils[0], SPEC)["share"] == pytest.approx(6 / 7)


def test_relation_foils_true_by_a_diagonal_tie_are_redrawn():
    from vislang.metrics.consistency.foil import relation_holds

    # cells (0, 0) and (1, 1): a diagonal, so "left of" and "above" both hold, "right of"/"below" do not
    a, b = SceneObject("circle", "red", "small", 0.15, 0.15), SceneObject("square", "blue", "large", 0.5, 0.5)
    assert [relation_holds(a, r, b) for r in ("left of", "right of", "above", "below")] == [True, False, True, False]
    # cells (0, 0) and (1, 2): the column difference dominates: only "left of"
    c = SceneObject("star", "green", "small", 0.85, 0.5)
    assert [relation_holds(a, r, c) for r in ("left of", "right of", "above", "below")] == [True, False, False, False]
    spec = SceneSpec((a, b), ((0, "left of", 1),))
    caps = ["a small red circle left of a large blue square"] * 30
    idx, foils = scene_foils(caps, "relation", seed=0, specs=[spec] * 30)
    above = (" above ", " over ", " on top of ")
    assert len(idx) == 30 and not any(w in f for f in foils for w in above)
    _, unchecked = scene_foils(caps, "relation", seed=0)
    assert any(w in f for f in unchecked for w in above)
