"""Image faithfulness: the reading of classifier logits into specs, scored against hand-counted facts."""

import pytest
import torch

from vislang.data.scene_spec import SceneObject, SceneSpec
from vislang.metrics.consistency.faithfulness import image_faithfulness, read_specs
from vislang.models.attribute_classifier import HEADS
from vislang.train.attribute_classifier import cell_of, targets

SPEC = SceneSpec((SceneObject("circle", "red", "small", 0.15, 0.5), SceneObject("square", "blue", "large", 0.85, 0.5)),
                 ((0, "left of", 1),))


def _logits(tgt):
    return {h: 10.0 * torch.nn.functional.one_hot(t, len(HEADS[h])).float() for h, t in tgt.items()}


def test_targets_per_cell():
    t = targets([SPEC])
    assert cell_of(0.15, 0.5) == 3 and cell_of(0.85, 0.5) == 5 and cell_of(0.99, 0.99) == 8
    assert t["color"][0].tolist() == [0, 0, 0, HEADS["color"].index("red"), 0, HEADS["color"].index("blue"), 0, 0, 0]
    assert t["size"][0, 5] == HEADS["size"].index("large") and t["shape"][0, 3] == HEADS["shape"].index("circle")


def test_perfect_reading_scores_one_and_a_wrong_colour_six_sevenths():
    t = targets([SPEC])
    read = read_specs(_logits(t), HEADS)
    assert sorted(o.attributes for o in read[0].objects) == sorted(o.attributes for o in SPEC.objects)
    assert image_faithfulness(read, [SPEC])["faithfulness"] == 1.0
    t["color"][0, 5] = HEADS["color"].index("green")       # the image shows a green square instead
    r = image_faithfulness(read_specs(_logits(t), HEADS), [SPEC])
    assert r["faithfulness"] == pytest.approx(6 / 7) and r["faithful_exact"] == 0.0


def test_missing_object_and_swapped_sides():
    t = targets([SPEC])
    t["color"][0, 5] = 0                                    # the square is missing: 3 attributes + the relation lost
    assert image_faithfulness(read_specs(_logits(t), HEADS), [SPEC])["faithfulness"] == pytest.approx(3 / 7)
    swapped = SceneSpec((SceneObject("circle", "red", "small", 0.85, 0.5), SceneObject("square", "blue", "large", 0.15, 0.5)))
    r = image_faithfulness(read_specs(_logits(targets([swapped])), HEADS), [SPEC])
    assert r["faithfulness"] == pytest.approx(6 / 7)      # all attributes right, the relation wrong


def test_scene_image_faithfulness_reads_captions_like_specs():
    from vislang.data.scenes import generate
    from vislang.errors import InputError
    from vislang.metrics.consistency.faithfulness import scene_image_faithfulness
    from vislang.train.attribute_classifier import load_attribute_classifier

    s = generate(60, size=64, seed=11, split="test")
    caps = [s.captions[i][1] for i in s.ids]
    clf, _ = load_attribute_classifier("scenes")
    with torch.no_grad():
        read = read_specs(clf(s.images), HEADS)
    by_caption = scene_image_faithfulness(s.images, caps)
    assert by_caption["per_item"] == image_faithfulness(read, [s.specs[i] for i in s.ids])["per_item"]  # the caption parses to its spec
    assert by_caption["faithfulness"] >= 0.95                                             # 0.991 on 200 test scenes
    assert scene_image_faithfulness(s.images, caps[1:] + caps[:1])["faithfulness"] < 0.5  # 0.346 there
    with pytest.raises(InputError, match="60 images but 59 captions"):
        scene_image_faithfulness(s.images, caps[1:])
