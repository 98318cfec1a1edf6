"""Built-in scenes: sampling, held-out pairs, rendering faithful to the spec, determinism."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from vislang.data.scenes import (COLOR_RGB, COLORS, HELD_OUT_PAIRS, RELATIONS, SHAPES, SIZES, Background,
                                 SceneObject, SceneSpec, generate, place_spec, render, sample_spec, scene_rng)
from vislang.errors import InputError

WHITE = Background(color=(255, 255, 255))


def _rng(seed=0):
    return np.random.Generator(np.random.PCG64(seed))


def test_vocabulary_sizes_and_colours():
    assert len(SHAPES) >= 5 and len(set(SHAPES)) == len(SHAPES)
    assert len(COLORS) >= 6 and set(COLORS) == set(COLOR_RGB)
    assert SIZES == ("small", "large")
    assert RELATIONS == ("left of", "right of", "above", "below")
    # colours are pairwise far apart in RGB (at least 60 units in some channel)
    rgb = [np.array(COLOR_RGB[c]) for c in COLORS]
    assert min(np.abs(a - b).max() for i, a in enumerate(rgb) for b in rgb[i + 1:]) >= 60


def test_held_out_pairs_leave_every_colour_and_shape_in_training():
    pairs = {(c, s) for c in COLORS for s in SHAPES}
    assert HELD_OUT_PAIRS < pairs
    assert 0.10 <= len(HELD_OUT_PAIRS) / len(pairs) <= 0.20
    seen = pairs - HELD_OUT_PAIRS
    assert {c for c, _ in seen} == set(COLORS) and {s for _, s in seen} == set(SHAPES)


@pytest.fixture(scope="module")
def train_specs():
    rng = _rng(123)
    return [sample_spec(rng, "train") for _ in range(20000)]


def test_train_val_test_never_hold_a_held_out_pair(train_specs):
    specs = list(train_specs)
    for split in ("val", "test"):
        rng = _rng(7)
        specs += [sample_spec(rng, split) for _ in range(3000)]
    bad = [s for s in specs if any((o.color, o.shape) in HELD_OUT_PAIRS for o in s.objects)]
    assert bad == []
    # ... while every seen pair does occur, and every colour and shape
    found = {(o.color, o.shape) for s in train_specs for o in s.objects}
    assert found == {(c, s) for c in COLORS for s in SHAPES} - HELD_OUT_PAIRS


def test_test_unseen_always_holds_a_held_out_pair():
    rng = _rng(5)
    specs = [sample_spec(rng, "test_unseen") for _ in range(3000)]
    assert all(any((o.color, o.shape) in HELD_OUT_PAIRS for o in s.objects) for s in specs)
    assert {(o.color, o.shape) for s in specs for o in s.objects} >= HELD_OUT_PAIRS


def test_spec_structure(train_specs):
    counts = {1: 0, 2: 0, 3: 0}
    rel_counts = dict.fromkeys(RELATIONS, 0)
    for s in train_specs:
        n = len(s.objects)
        counts[n] += 1
        assert [(a, b) for a, _, b in s.relations] == [(k, k + 1) for k in range(n - 1)]
        assert len(set(s.attributes)) == n  # objects are distinguishable by their attributes
        for _, r, _ in s.relations:
            rel_counts[r] += 1
    # 1-3 objects uniformly, and the four relations about equally often (mirror symmetry of the grid)
    assert all(abs(c / len(train_specs) - 1 / 3) < 0.02 for c in counts.values())
    total = sum(rel_counts.values())
    assert all(abs(c / total - 0.25) < 0.03 for c in rel_counts.values())


def test_spec_json_round_trip(train_specs):
    for s in train_specs[:200]:
        d = json.loads(json.dumps(s.to_dict()))
        assert SceneSpec.from_dict(d) == s
    with pytest.raises(InputError, match="unknown colour"):
        SceneSpec.from_dict({"objects": [{"shape": "circle", "color": "pink", "size": "small"}]})
    with pytest.raises(InputError, match="bad relation"):
        SceneSpec.from_dict({"objects": [{"shape": "circle", "color": "red", "size": "small"}],
                             "relations": [[0, "near", 1]]})


def _coverage(img: torch.Tensor, rgb) -> np.ndarray:
    """Per-pixel coverage of one object of colour ``rgb`` drawn on white, from the channel with most contrast."""
    ch = int(np.argmin(rgb))
    return (255.0 - img[ch].double().numpy()) / (255.0 - rgb[ch])


@pytest.mark.parametrize("shape,area_over_r2", [("circle", math.pi), ("square", 1.6 ** 2), ("diamond", 1.4)])
def test_render_geometry_and_anti_aliasing(shape, area_over_r2):
    size = 128
    obj = SceneObject(shape=shape, color="blue", size="large", x=0.5, y=0.5)
    img = render(SceneSpec((obj,), (), WHITE), size=size)
    assert img.dtype == torch.uint8 and img.shape == (3, size, size)
    cov = _coverage(img, COLOR_RGB["blue"])
    r = 0.15 * size  # a large object's radius is 0.15 of the side (docs/scenes.md)
    assert cov.sum() == pytest.approx(area_over_r2 * r * r, rel=0.02)
    # the centre pixel is exactly the object's colour; edges are blended (anti-aliased)
    assert tuple(img[:, size // 2, size // 2].tolist()) == COLOR_RGB["blue"]
    edge = ((cov > 0.05) & (cov < 0.95)).sum()
    perimeter = 2 * math.sqrt(math.pi * area_over_r2) * r  # at least a circle's perimeter for that area
    assert edge >= 0.5 * perimeter
    assert cov.min() >= -0.01 and cov.max() <= 1.01


@pytest.mark.parametrize("size", [32, 64, 128])
def test_render_sizes_and_pale_background(size):
    rng = _rng(size)
    for _ in range(20):
        spec = sample_spec(rng)
        img = render(spec, size=size)
        assert img.shape == (3, size, size) and img.dtype == torch.uint8
        far = np.ones((size, size), bool)  # pixels outside every object's bounding box
        yy, xx = np.mgrid[0:size, 0:size] + 0.5
        for o in spec.objects:
            r = {"small": 0.095, "large": 0.15}[o.size] * size + 1.5
            far &= (np.abs(xx - o.x * size) > r) | (np.abs(yy - o.y * size) > r)
        bg = img.numpy()[:, far]
        assert bg.min() >= 180  # pale: base >= 207, gradient <= 12, texture <= 8
        assert bg.std(axis=1).max() < 12  # lightly textured, not busy


def _object_masks(spec: SceneSpec, size: int) -> list[np.ndarray]:
    masks = []
    for o in spec.objects:
        img = render(SceneSpec((o,), (), WHITE), size=size)
        masks.append(_coverage(img, COLOR_RGB[o.color]) > 0.01)
    return masks


def test_relations_are_true_of_the_rendered_pixels_and_objects_do_not_overlap():
    size = 64
    rng = _rng(99)
    checked = 0
    for _ in range(300):
        spec = sample_spec(rng, "train")
        masks = _object_masks(spec, size)
        boxes = []
        for m in masks:
            ys, xs = np.nonzero(m)
            assert len(xs) > 0
            boxes.append((xs.min(), xs.max(), ys.min(), ys.max()))
        for i in range(len(masks)):
            for j in range(i + 1, len(masks)):
                assert not (masks[i] & masks[j]).any()
        for a, rel, b in spec.relations:
            (ax0, ax1, ay0, ay1), (bx0, bx1, by0, by1) = boxes[a], boxes[b]
            ok = {"left of": ax1 < bx0, "right of": bx1 < ax0, "above": ay1 < by0, "below": by1 < ay0}[rel]
            assert ok, (spec, rel)
            checked += 1
    assert checked > 250


def test_place_spec_makes_relations_true():
    spec = SceneSpec((SceneObject("circle", "red", "small"), SceneObject("star", "blue", "large"),
                      SceneObject("cross", "green", "small")), ((0, "above", 1), (2, "left of", 1)))
    rng = _rng(3)
    for _ in range(20):
        placed = place_spec(spec, rng)
        o = placed.objects
        assert o[0].y < o[1].y - 0.15 and o[2].x < o[1].x - 0.15
        assert placed.attributes == spec.attributes
        render(placed, 32)
    with pytest.raises(InputError, match="contradict"):
        place_spec(SceneSpec(spec.objects[:2], ((0, "above", 1), (0, "below", 1))), rng)
    with pytest.raises(InputError, match="without positions"):
        render(spec)


def test_generate_is_deterministic_and_prefix_stable():
    a = generate(40, size=32, seed=3)
    b = generate(40, size=32, seed=3)
    assert torch.equal(a.images, b.images) and a.captions == b.captions and a.specs == b.specs
    short = generate(15, size=32, seed=3)
    assert torch.equal(short.images, a.images[:15]) and short.ids == a.ids[:15]
    other = generate(15, size=32, seed=4)
    assert not torch.equal(other.images, short.images)
    # the spec does not depend on the image size
    big = generate(15, size=64, seed=3)
    assert big.specs == short.specs and big.captions == short.captions
    # the scene's stream is private: the global RNGs are untouched
    torch.manual_seed(0)
    np.random.seed(0)
    generate(5, size=32)
    assert torch.rand(1).item() == torch.rand(1, generator=torch.Generator().manual_seed(0)).item()
    assert np.random.rand() == np.random.RandomState(0).rand()


def test_generate_shapes_ids_and_captions():
    ids_by_split = {}
    for split in ("train", "val", "test", "test_unseen"):
        s = generate(30, size=32, seed=0, split=split)
        assert s.images.shape == (30, 3, 32, 32) and s.images.dtype == torch.uint8
        assert len(set(s.ids)) == 30 and set(s.captions) == set(s.ids) == set(s.specs)
        for i in s.ids:
            assert len(s.captions[i]) >= 5 and len(set(s.captions[i])) == len(s.captions[i])
        ids_by_split[split] = set(s.ids)
    splits = list(ids_by_split)
    for i, a in enumerate(splits):
        for b in splits[i + 1:]:
            assert not ids_by_split[a] & ids_by_split[b]
    # scene i's stream is the (seed, split, i) one
    s = generate(3, size=32, seed=11, split="val")
    assert s.specs[s.ids[2]] == sample_spec(scene_rng(11, "val", 2), "val")


def test_texture_hash_is_splitmix64():
    from vislang.data.scene_render import _splitmix64, _texture_knots

    # first outputs of the reference SplitMix64 generator (state 0, increment 0x9E3779B97F4A7C15)
    assert _splitmix64(0) == 0xE220A8397B1DCDAF
    assert _splitmix64(0x9E3779B97F4A7C15) == 0x6E789E6AA1B965F4
    k = _texture_knots(12345)
    assert k.shape == (4, 4) and k.min() >= -1 and k.max() < 1 and len(np.unique(k)) == 16


def test_generate_rejects_bad_arguments():
    with pytest.raises(InputError, match="split"):
        generate(3, split="training")
    with pytest.raises(InputError, match="n=0"):
        generate(0)
    with pytest.raises(InputError, match="size"):
        generate(2, size=8)
    with pytest.raises(InputError, match="seed"):
        generate(2, seed=-1)
    with pytest.raises(InputError, match="workers"):
        generate(2, workers=0)
