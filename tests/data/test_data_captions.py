"""Caption formats: round trips for every format, the reference reader pycocotools, the real Flickr8k files."""

from __future__ import annotations

import json

from vislang.data.captions import (caption_format, check_pairing, karpathy_splits, leave_one_out, load_candidates, load_flickr8k,
                                   load_jsonl, load_karpathy, load_references, save_coco_annotations,
                                   save_flickr8k, save_jsonl, save_karpathy, save_results)

REFS_INT = {391895: ["A man with a red helmet on a small moped on a dirt road.", "Man riding a motor bike."],
            522418: ["A woman wearing a net on her head cutting a cake.", "  spaces kept  ", "Ünïcode — ok"],
            184613: ["A child holding a flowered umbrella and petting a yak."]}
REFS_STR = {"1000268201_693b08cb0e.jpg": ["A child in a pink dress .", "A girl going into a wooden building ."],
            "1001773457_577c3a7d70.jpg": ["A black dog and a spotted dog are fighting", "Two dogs on pavement ."]}
CANDS = {391895: "a man riding a motorcycle", 522418: "a woman cuts a cake", 184613: "a kid with an umbrella"}


def test_coco_annotations_round_trip_and_pycocotools_reads_them(tmp_path, capsys):
    from pycocotools.coco import COCO

    path = tmp_path / "captions.json"
    save_coco_annotations(path, REFS_INT, images={391895: {"file_name": "COCO_val2014_000000391895.jpg"}})
    assert caption_format(path) == "coco"
    assert load_references(path) == REFS_INT
    coco = COCO(str(path))  # the reference reader
    for image_id, caps in REFS_INT.items():
        assert [a["caption"] for a in coco.imgToAnns[image_id]] == caps
    assert coco.imgs[391895]["file_name"] == "COCO_val2014_000000391895.jpg"
    assert coco.imgs[184613]["file_name"] == "184613"
    # results file: pycocotools' loadRes (what pycocoevalcap's COCOEvalCap reads) accepts it against the annotations
    res = tmp_path / "results.json"
    save_results(res, CANDS)
    assert json.loads(res.read_text()) == [{"image_id": k, "caption": v} for k, v in CANDS.items()]
    loaded = coco.loadRes(str(res))
    assert {a["image_id"]: a["caption"] for a in loaded.dataset["annotations"]} == CANDS
    assert load_candidates(res) == CANDS and caption_format(res) == "results"
    capsys.readouterr()


def test_a_hand_written_coco_file_in_the_published_shape(tmp_path):
    doc = {"info": {}, "licenses": [], "images": [{"id": 5, "file_name": "a.jpg"}, {"id": 9, "file_name": "b.jpg"}],
           "annotations": [{"id": 1, "image_id": 9, "caption": "b one"}, {"id": 2, "image_id": 5, "caption": "a one"},
                           {"id": 3, "image_id": 9, "caption": "b two"}]}
    (tmp_path / "c.json").write_text(json.dumps(doc))
    assert load_references(tmp_path / "c.json") == {9: ["b one", "b two"], 5: ["a one"]}


def test_results_file_as_references_gathers_repeats(tmp_path):
    (tmp_path / "r.json").write_text(json.dumps([{"image_id": 1, "caption": "x"}, {"image_id": 1, "caption": "y"},
                                                 {"image_id": "z", "caption": "w"}]))
    assert load_references(tmp_path / "r.json") == {1: ["x", "y"], "z": ["w"]}


def test_karpathy_round_trip_splits_and_published_shape(tmp_path):
    path = tmp_path / "dataset_x.json"
    splits = {391895: "train", 522418: "restval", 184613: "test"}
    save_karpathy(path, REFS_INT, splits=splits, dataset="coco")
    assert caption_format(path) == "karpathy"
    assert load_karpathy(path) == REFS_INT == load_references(path)
    assert karpathy_splits(path) == splits
    assert load_karpathy(path, split="test") == {184613: REFS_INT[184613]}
    assert load_karpathy(path, split="train+restval") == {k: REFS_INT[k] for k in (391895, 522418)}
    assert load_karpathy(path, split=["train"]) == {391895: REFS_INT[391895]}
    doc = json.loads(path.read_text())
    first = doc["images"][0]
    assert first["cocoid"] == 391895 and first["split"] == "train" and doc["dataset"] == "coco"
    assert first["sentences"][1]["tokens"] == ["man", "riding", "a", "motor", "bike"]
    assert first["sentids"] == [0, 1] and doc["images"][1]["sentids"] == [2, 3, 4]
    # string ids (Flickr) are file names
    save_karpathy(tmp_path / "f.json", REFS_STR, splits="val")
    assert load_karpathy(tmp_path / "f.json", split="val") == REFS_STR
    hand = {"dataset": "flickr8k", "images": [
        {"filename": "a.jpg", "imgid": 0, "split": "train", "sentids": [0],
         "sentences": [{"tokens": ["a", "dog"], "raw": "A dog.", "imgid": 0, "sentid": 0}]}]}
    (tmp_path / "dataset_flickr8k.json").write_text(json.dumps(hand))
    assert load_karpathy(tmp_path / "dataset_flickr8k.json") == {"a.jpg": ["A dog."]}


def test_flickr8k_round_trip(tmp_path):
    path = tmp_path / "tokens.txt"
    save_flickr8k(path, REFS_STR)
    lines = path.read_text().splitlines()
    assert lines[0] == "1000268201_693b08cb0e.jpg#0\tA child in a pink dress ."
    assert lines[3] == "1001773457_577c3a7d70.jpg#1\tTwo dogs on pavement ."
    assert caption_format(path) == "flickr8k"
    assert load_flickr8k(path) == REFS_STR == load_references(path)
    (tmp_path / "split.txt").write_text("1001773457_577c3a7d70.jpg\n")
    assert load_flickr8k(path, tmp_path / "split.txt") == {"1001773457_577c3a7d70.jpg": REFS_STR[
        "1001773457_577c3a7d70.jpg"]}


def test_leave_one_out_hand_worked():
    refs, cands = leave_one_out({"a": ["x1", "x2", "x3"], "b": ["only"], 7: ["y1", "y2"]})
    assert cands == {"a": "x1", 7: "y1"} and refs == {"a": ["x2", "x3"], 7: ["y2"]}


def test_jsonl_round_trip_references_and_candidates(tmp_path):
    save_jsonl(tmp_path / "r.jsonl", REFS_INT)
    assert load_jsonl(tmp_path / "r.jsonl") == REFS_INT == load_references(tmp_path / "r.jsonl")
    save_jsonl(tmp_path / "c.jsonl", CANDS)
    assert load_jsonl(tmp_path / "c.jsonl", candidates=True) == CANDS == load_candidates(tmp_path / "c.jsonl")
    assert json.loads((tmp_path / "c.jsonl").read_text().splitlines()[1]) == {"image_id": 522418,
                                                                             "caption": "a woman cuts a cake"}
    # one caption a line, repeated ids gathered as references
    (tmp_path / "m.jsonl").write_text('{"image_id": "a", "caption": "x"}\n\n{"image_id": "a", "caption": "y"}\n')
    assert load_references(tmp_path / "m.jsonl") == {"a": ["x", "y"]}
    # JSONL content in a .json file is detected too
    (tmp_path / "m.json").write_text('{"image_id": 1, "caption": "x"}\n{"image_id": 2, "caption": "y"}\n')
    assert load_candidates(tmp_path / "m.json") == {1: "x", 2: "y"}


def test_json_mapping(tmp_path):
    (tmp_path / "g.json").write_text(json.dumps({"a": ["x", "y"], "b": ["z"]}))
    assert load_references(tmp_path / "g.json") == {"a": ["x", "y"], "b": ["z"]}
    (tmp_path / "c.json").write_text(json.dumps({"a": "x", "b": "z"}))
    assert load_candidates(tmp_path / "c.json") == {"a": "x", "b": "z"}


def test_check_pairing_accepts_matching_sets():
    check_pairing(REFS_INT, CANDS)  # no error: same ids
    assert set(REFS_INT) == set(CANDS)


def test_real_flickr8k_files(flickr8k_dir):
    token = flickr8k_dir / "Flickr8k.token.txt"
    # independent parse: split on the tab and the last '#'
    expected: dict[str, list[str]] = {}
    for line in token.read_text(encoding="utf-8").splitlines():
        key, caption = line.split("\t")
        expected.setdefault(key.rsplit("#", 1)[0], []).append(caption)
    refs = load_flickr8k(token)
    assert refs == expected and len(refs) == 8093
    assert refs["1000268201_693b08cb0e.jpg"][0] == "A child in a pink dress is climbing up a set of stairs in an entry way ."
    for split, n in (("train", 6000), ("dev", 1000), ("test", 1000)):
        part = load_flickr8k(token, flickr8k_dir / f"Flickr_8k.{split}Images.txt")
        assert len(part) == n and all(len(c) == 5 for c in part.values())
    # leave-one-out: 8,093 images, one of them with a single caption (left out); 40,460 captions in all
    loo_refs, loo_cands = leave_one_out(refs)
    assert len(loo_cands) == 8092 and sum(map(len, loo_refs.values())) == 40460 - 8092 - 1
    assert loo_cands["1000268201_693b08cb0e.jpg"] == expected["1000268201_693b08cb0e.jpg"][0]
    assert loo_refs["1000268201_693b08cb0e.jpg"] == expected["1000268201_693b08cb0e.jpg"][1:]
    test_ids = (flickr8k_dir / "Flickr_8k.testImages.txt").read_text().split()
    assert list(load_flickr8k(token, flickr8k_dir / "Flickr_8k.testImages.txt")) == test_ids  # split-file order
