"""'vislang eval consistency' with the shipped scenes model: values recomputed from the embeddings."""

import json

import pytest
import torch

from conftest import run_cli


@pytest.fixture(scope="module")
def scene_files(tmp_path_factory):
    from vislang.data.scenes import generate, write_scenes

    root = tmp_path_factory.mktemp("cons")
    s = generate(12, size=64, seed=3, split="test")
    write_scenes(s, root / "scenes")
    caps = {str(k): s.captions[i][0] for k, i in enumerate(s.ids)}
    refs = [{"image_id": k, "id": n, "caption": c} for k, i in enumerate(s.ids) for n, c in enumerate(s.captions[i][1:3])]
    (root / "cands.json").write_text(json.dumps(caps))
    (root / "refs.json").write_text(json.dumps({"images": [{"id": k} for k in range(12)], "annotations":
                                                [dict(r, id=j) for j, r in enumerate(refs)]}))
    return root, s


def test_eval_consistency_scenes_model(scene_files):
    from vislang.train.dual_encoder import embed, load_dual_encoder

    root, s = scene_files
    out, items = root / "out.json", root / "items.jsonl"
    assert run_cli("eval", "consistency", "--images", root / "scenes" / "images", "--captions", root / "cands.json",
                   "--refs", root / "refs.json", "--model", "scenes", "--out", out, "--per-item", items,
                   "--quiet") == 0
    res = json.loads(out.read_text())
    model, vocab, meta = load_dual_encoder("scenes")
    img, txt = embed(model, vocab, s.images, [s.captions[i][0] for i in s.ids])
    cos = torch.nn.functional.cosine_similarity(img.double(), txt.double())
    assert res["CLIP-S"] == pytest.approx(float((2.5 * cos.clamp(min=0)).mean()), abs=1e-6)
    assert res["CLIP-S_x100"] == pytest.approx(40 * res["CLIP-S"])
    refs = [embed(model, vocab, captions=s.captions[i][1:3])[1] for i in s.ids]
    ref_term = torch.stack([(torch.nn.functional.normalize(r.double(), dim=1) @ torch.nn.functional.normalize(
        t.double(), dim=0)).max().clamp(min=0) for r, t in zip(refs, txt)])
    c = 2.5 * cos.clamp(min=0)
    assert res["RefCLIP-S"] == pytest.approx(float((2 * c * ref_term / (c + ref_term)).mean()), abs=1e-6)
    assert res["distractors"] == 11 and 0 <= res["R-precision_t2i"] <= 1
    assert res["provenance"]["model_sha256"] == meta["sha256"] and res["provenance"]["prefix"] == ""
    lines = [json.loads(x) for x in items.read_text().splitlines()]
    assert len(lines) == 12 and lines[0]["CLIP-S"] == pytest.approx(float(c[0]), abs=1e-6)


def test_eval_consistency_bad_inputs(scene_files, tmp_path):
    root, _ = scene_files
    (tmp_path / "c.json").write_text(json.dumps({"999": "a red circle"}))
    assert run_cli("eval", "consistency", "--images", root / "scenes" / "images", "--captions", tmp_path / "c.json",
                   "--quiet") == 2
    assert run_cli("eval", "consistency", "--images", root / "scenes" / "images", "--captions", root / "cands.json",
                   "--model", tmp_path / "missing", "--quiet") == 2
    assert run_cli("eval", "consistency", "--images", root / "scenes" / "images", "--captions", root / "cands.json",
                   "--model", "clip-vit-b32", "--quiet") == 2         # no weights offline: one-line error
