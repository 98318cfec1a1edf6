"""The shipped scenes dual encoder on held-out scenes: a cheap version of the acceptance figures
(200 scenes per split; the full figures on 1,000 are in docs/benchmarks.md)."""

import pytest
import torch

from vislang.metrics.consistency.scene_eval import evaluate_scenes
from vislang.train.dual_encoder import embed, load_dual_encoder


# Floors a little under the figures measured on these 200 scenes, so a float difference between
# machines cannot flip them (model of 2026-11-28, keypoint towers: colour 0.995 / 1.000, shape 0.980 /
# 0.975, relation 0.985 / 0.978, R-precision t2i 0.895 / 0.760; 1,000-scene figures in
# docs/benchmarks.md). R-precision on unseen pairs falls short of the target (0.90): see
# docs/consistency.md.
FOIL_MIN = {"color": {"test": 0.97, "test_unseen": 0.97}, "shape": {"test": 0.95, "test_unseen": 0.92},
            "relation": {"test": 0.95, "test_unseen": 0.95}}
RP_MIN = {"test": 0.86, "test_unseen": 0.73}


@pytest.fixture(scope="module")
def figures():
    model, vocab, _ = load_dual_encoder("scenes")
    with torch.no_grad():
        return evaluate_scenes(lambda x: embed(model, vocab, images=x)[0], lambda c: embed(model, vocab, captions=c)[1],
                               n=200, size=model.config.image_size, seed=0)


@pytest.mark.parametrize("split", ["test", "test_unseen"])
def test_shipped_model_acceptance(figures, split):
    r = figures[split]
    assert r["n"] == 200 and r["distractors"] == 99
    assert r["foil_color"] >= FOIL_MIN["color"][split]
    assert r["foil_shape"] >= FOIL_MIN["shape"][split]
    assert r["foil_relation"] >= FOIL_MIN["relation"][split]
    assert r["foil_size"] >= 0.97
    assert r["R-precision_t2i"] >= RP_MIN[split]
    assert r["kendall_tau"] >= 0.6
    # CLIP-S falls as captions get less true
    levels = r["CLIP-S_by_level"]
    assert levels["true"] > levels["1_changed"] > levels["2_changed"] > levels["wholly_wrong"]


def test_shipped_attribute_classifier_reads_real_scenes():
    from vislang.data.scenes import generate
    from vislang.metrics.consistency.faithfulness import image_faithfulness, read_specs
    from vislang.models.attribute_classifier import HEADS
    from vislang.train.attribute_classifier import load_attribute_classifier

    clf, _ = load_attribute_classifier("scenes")
    s = generate(100, size=64, seed=0, split="test")
    with torch.no_grad():
        read = read_specs(clf(s.images), HEADS)
    specs = [s.specs[i] for i in s.ids]
    assert image_faithfulness(read, specs)["faithfulness"] >= 0.97             # 0.996 on 1,000 test scenes
    assert image_faithfulness(read, specs[1:] + specs[:1])["faithfulness"] < 0.5  # another scene's prompt
