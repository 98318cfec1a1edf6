"""Dual-encoder training: exact resume, export round trip, foils, the CLI, bad inputs."""

import json

import pytest
import torch

from conftest import run_cli
from vislang.data.scene_text import parse_caption, spec_attributes_match
from vislang.errors import InputError
from vislang.train.dual_encoder import embed, load_dual_encoder, step_captions

TINY = ["--data", "scenes", "--n-train", "48", "--n-val", "16", "--batch-size", "16", "--size", "32",
        "--embed-dim", "16", "--hard-negatives", "--threads", "1", "--quiet",
        # the shipped recipe's options (mirrored pairs, backwards-relation foils, the shared relation-fact head,
        # keypoint towers) and the two-way loss
        "--mirror", "0.5", "--hard-relation", "0.5", "--pair-weight", "1", "--aux-weight", "1", "--aux-shared",
        "--image-pool", "keypoints", "--text-pool", "keypoints"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("de")
    straight, split = root / "straight", root / "split"
    assert run_cli("train", "dual-encoder", *TINY, "--steps", "4", "--ckpt-every", "2", "--out", str(straight)) == 0
    assert run_cli("train", "dual-encoder", *TINY, "--steps", "2", "--ckpt-every", "2", "--out", str(split)) == 0
    assert run_cli("train", "dual-encoder", "--resume", str(split), "--steps", "4", "--quiet") == 0
    return root, straight, split


def test_resume_is_exact(runs):
    _, straight, split = runs
    a, _, _ = load_dual_encoder(straight)
    b, _, _ = load_dual_encoder(split)
    for (k, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(va, vb), k
    logs = [json.loads(x) for x in (split / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logs if "loss" in r] == [2, 4]   # the last step of each leg, each once
    # --aux-shared: one relation-fact head for both towers, saved with the checkpoint (not in the model file)
    aux = torch.load(split / "ckpt-00000004.pt", weights_only=False)["modules"]["aux"]
    assert torch.equal(aux["image.weight"], aux["text.weight"]) and aux["image.weight"].shape == (144, 16)
    assert a.config.image_pool == "keypoints" and a.config.text_pool == "keypoints"


def test_export_float16_round_trip(runs):
    root, straight, _ = runs
    out = root / "small.pt"
    assert run_cli("train", "dual-encoder", "--export", str(straight), "--out", str(out), "--quiet") == 0
    full, vocab, _ = load_dual_encoder(straight)
    half, vocab2, meta = load_dual_encoder(out)
    assert vocab == vocab2 and meta["exported_from"] == str(straight)
    imgs = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    a, ta = embed(full, vocab, imgs, ["a small red circle", "a big blue box"])
    b, tb = embed(half, vocab2, imgs, ["a small red circle", "a big blue box"])
    assert (a - b).abs().max() < 2e-2 and (ta - tb).abs().max() < 2e-2


def test_step_foils_change_exactly_one_fact():
    from vislang.data.scenes import generate

    s = generate(20, size=32, seed=1, split="train")
    refs = [s.captions[i] for i in s.ids]
    caps, foils = step_captions(refs, list(range(20)), seed=0, step=5, hard=True)
    assert (caps, foils) == step_captions(refs, list(range(20)), seed=0, step=5, hard=True)
    assert len(foils) == 20
    for cap, foil, i in zip(caps, foils, s.ids):
        true = s.specs[i]
        good = spec_attributes_match(parse_caption(cap), true)
        bad = spec_attributes_match(parse_caption(foil), true)
        assert good["attributes_correct"] + good["relations_correct"] == good["attributes_total"] + good["relations_total"]
        missed = (bad["attributes_total"] + bad["relations_total"]) - (bad["attributes_correct"] + bad["relations_correct"])
        assert missed >= 1, (cap, foil)


def test_bad_inputs(tmp_path):
    with pytest.raises(InputError):
        load_dual_encoder(tmp_path / "nope")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(InputError):
        load_dual_encoder(tmp_path / "junk.pt")
    assert run_cli("train", "dual-encoder", "--steps", "2") == 2                  # no --out
    assert run_cli("train", "dual-encoder", "--data", str(tmp_path), "--out", str(tmp_path / "r")) == 2


def test_hard_relation_foils_state_a_relation_backwards():
    from vislang.data.scene_spec import INVERSE
    from vislang.data.scenes import generate

    s = generate(30, size=32, seed=2, split="train")
    refs = [s.captions[i] for i in s.ids]
    caps, foils = step_captions(refs, list(range(30)), seed=0, step=1, hard=True, hard_relation=1.0)
    multi = 0
    for cap, foil in zip(caps, foils):
        a, b = parse_caption(cap), parse_caption(foil)
        if a.relations:
            multi += 1
            changed = [(r1, r2) for (_, r1, _), (_, r2, _) in zip(a.relations, b.relations) if r1 != r2]
            assert len(changed) == 1 and changed[0][1] == INVERSE[changed[0][0]], (cap, foil)
            assert a.attributes == b.attributes
    assert multi >= 10


def test_mirrored_scenes_turn_a_relation_round():
    """Each mirror's captions state the original objects with the relations of one axis turned round
    (left of <-> right of, or above <-> below) and the other axis unchanged; the rendered image is the
    original's reflection on that axis (up to texture noise and up-pointing triangles and stars)."""
    from vislang.data.scenes import generate
    from vislang.train.dual_encoder import mirror_indices, mirrored_scenes

    n = 40
    images, caps, has = mirrored_scenes(n, seed=3, size=32)
    s = generate(n, size=32, seed=3, split="train")
    assert has.tolist() == [len(s.specs[i].objects) > 1 for i in s.ids]
    for j, i in enumerate(s.ids):
        spec = s.specs[i]
        if not has[j]:
            assert caps[j] == [] and int(images[j].max()) == 0
            continue
        orig = spec.canonical_relations()          # {(attrs_a, "left of" | "above", attrs_b)}

        def reflected(axis):                       # worked by hand: a reflection swaps the objects of that axis
            return frozenset((tb, r, ta) if r == axis else (ta, r, tb) for ta, r, tb in orig)

        axes = set()
        for cap in caps[j]:
            got = parse_caption(cap)
            assert sorted(got.attributes) == sorted(spec.attributes)
            rels = got.canonical_relations()
            assert rels != orig, (cap, s.captions[i][0])
            axes |= {axis for axis in ("left of", "above") if rels == reflected(axis)}
        assert len(axes) == 1                      # one axis is reflected, always the same one
        axes = {next(iter(axes)) == "left of"}
        flip = -1 if axes == {True} else -2
        off = (images[j].int() - s.images[j].flip(flip).int()).abs().gt(40).float().mean()
        unreflected = (images[j].int() - s.images[j].int()).abs().gt(40).float().mean()
        assert off < 0.06 and off < unreflected    # triangles and stars point up either way: not 0
    picked = mirror_indices(list(range(n)), has, 0.5, seed=0, step=3)
    assert picked == mirror_indices(list(range(n)), has, 0.5, seed=0, step=3)
    assert all(has[i] for i in picked) and 0 < len(picked) < int(has.sum())


def test_relation_targets_hand_worked():
    from vislang.train.dual_encoder import relation_targets

    # COLORS = red, orange, yellow, green, blue, purple; SHAPES = circle, square, triangle, star, diamond, cross
    t, m = relation_targets(["a small red circle left of a big blue box",
                             "a big blue box is right of a small red circle",      # the same fact, other way round
                             "a small red star above a big red circle",            # shared colour: shape key only
                             "a red circle"])                                        # not a scene sentence
    # colour block: left-of [red=0, blue=4] -> index 4; shape block starts at 72: [circle=0, square=1] -> 73
    assert t[0].nonzero().flatten().tolist() == [4, 73]
    assert m[0].nonzero().flatten().tolist() == [4, 24, 73, 78]     # [blue, red] = 24 and [square, circle] = 78 are 0
    assert torch.equal(t[0], t[1]) and torch.equal(m[0], m[1])
    # above block of the shape keys: 72 + 36 + [star=3, circle=0] = 126; [circle, star] = 111 masked as 0
    assert t[2].nonzero().flatten().tolist() == [126]
    assert m[2].nonzero().flatten().tolist() == [111, 126]
    assert t[3].sum() == 0 and m[3].sum() == 0
