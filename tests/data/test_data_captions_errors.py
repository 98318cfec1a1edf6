"""Caption files: each bad input gives a one-line InputError naming the file and the line or entry."""

from __future__ import annotations

import json

import pytest

from vislang.data.captions import (check_pairing, load_candidates, load_flickr8k, load_jsonl, load_karpathy,
                                   load_references, save_flickr8k, save_results)
from vislang.errors import InputError


def err(fn, *args, **kw) -> str:
    with pytest.raises(InputError) as exc:
        fn(*args, **kw)
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def write(path, obj):
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj), encoding="utf-8")
    return path


def test_duplicate_ids_in_a_results_file(tmp_path):
    p = write(tmp_path / "r.json", [{"image_id": 1, "caption": "a"}, {"image_id": 2, "caption": "b"},
                                    {"image_id": 1, "caption": "c"}])
    msg = err(load_candidates, p)
    assert "r.json: image_id 1 appears twice (entry 0 (image_id 1) and entry 2 (image_id 1))" in msg
    assert "one caption per image" in msg
    p = write(tmp_path / "c.jsonl", '{"image_id": "x", "caption": "a"}\n{"image_id": "x", "caption": "b"}\n')
    assert "image_id 'x' appears twice (line 1" in err(load_candidates, p)


def test_empty_and_non_string_captions(tmp_path):
    p = write(tmp_path / "r.json", [{"image_id": 1, "caption": "ok"}, {"image_id": 2, "caption": "   "}])
    assert "r.json: entry 1 (image_id 2): empty caption" in err(load_candidates, p)
    p = write(tmp_path / "r2.json", [{"image_id": 1, "caption": 7}])
    assert "r2.json: entry 0 (image_id 1): caption is int (7), not a string" in err(load_candidates, p)
    p = write(tmp_path / "a.json", {"images": [{"id": 1}], "annotations": [{"image_id": 1, "caption": ""}]})
    assert "a.json: annotations[0] (image_id 1): empty caption" in err(load_references, p)
    p = write(tmp_path / "t.txt", "a.jpg#0\tfine\na.jpg#1\t \n")
    assert "t.txt: line 2: empty caption" in err(load_references, p)
    p = write(tmp_path / "j.jsonl", '{"image_id": 1, "captions": ["x", null]}\n')
    assert "j.jsonl: line 1 (image_id 1): caption is NoneType" in err(load_references, p)
    p = write(tmp_path / "k.json", {"images": [{"filename": "a.jpg", "split": "test",
                                                "sentences": [{"raw": ["list"]}]}]})
    assert "k.json: images[0].sentences[0] (image_id 'a.jpg'): caption is list" in err(load_references, p)


def test_bad_ids_and_missing_fields(tmp_path):
    p = write(tmp_path / "r.json", [{"image_id": 1.5, "caption": "x"}])
    assert "r.json: entry 0: image_id 1.5 must be an integer or a string" in err(load_candidates, p)
    p = write(tmp_path / "r2.json", [{"caption": "x"}])
    assert "r2.json: entry 0: missing \"image_id\"" in err(load_candidates, p)
    p = write(tmp_path / "r3.json", [["1", "x"]])
    assert "r3.json: entry 0: expected an object with \"image_id\", got list" in err(load_candidates, p)
    p = write(tmp_path / "a.json", {"images": [{"id": 1}], "annotations": [{"image_id": 2, "caption": "x"}]})
    assert "a.json: annotations[0] (image_id 2): image_id is not in \"images\"" in err(load_references, p)
    p = write(tmp_path / "t.txt", "a.jpg 0 no tab here\n")
    assert "t.txt: line 1: expected '<image>#<k><TAB><caption>'" in err(load_references, p)


def test_invalid_utf8_names_the_byte_offset(tmp_path):
    (tmp_path / "r.json").write_bytes(b'[{"image_id": 1, "caption": "caf\xe9"}]')
    assert "r.json: not valid UTF-8 at byte 32 (line 1)" in err(load_candidates, tmp_path / "r.json")
    (tmp_path / "t.txt").write_bytes(b"a.jpg#0\tok\nb.jpg#0\tna\xefve\n")
    assert "t.txt: not valid UTF-8 at byte 21 (line 2)" in err(load_flickr8k, tmp_path / "t.txt")
    (tmp_path / "j.jsonl").write_bytes(b'{"image_id": 1, "caption": "\xff"}\n')
    assert "j.jsonl: not valid UTF-8 at byte 28 (line 1)" in err(load_jsonl, tmp_path / "j.jsonl")
    (tmp_path / "bom.json").write_bytes(b'\xef\xbb\xbf[{"image_id": 1, "caption": "ok"}]')
    assert load_candidates(tmp_path / "bom.json") == {1: "ok"}  # a UTF-8 BOM is fine


def test_malformed_json_names_line_and_column(tmp_path):
    p = write(tmp_path / "r.json", '[{"image_id": 1, "caption": "a"},\n {"image_id": 2 "caption": "b"}]')
    assert "r.json: malformed JSON at line 2, column 17" in err(load_candidates, p)
    p = write(tmp_path / "a.json", '{"images": [], "annotations": [\n\n  {"image_id": 1, "caption": "x",}]}')
    assert "a.json: malformed JSON at line 3, column 34" in err(load_references, p)
    p = write(tmp_path / "j.jsonl", '{"image_id": 1, "caption": "x"}\n{"image_id": 2, "caption": }\n')
    assert "j.jsonl: malformed JSON at line 2, column 28" in err(load_references, p)


def test_empty_files_and_wrong_kinds(tmp_path):
    assert "e.json: empty file" in err(load_references, write(tmp_path / "e.json", "  \n"))
    assert "e.jsonl: holds no captions" in err(load_references, write(tmp_path / "e.jsonl", "\n"))
    assert "no such file" in err(load_references, tmp_path / "missing.json")
    p = write(tmp_path / "a.json", {"images": [], "annotations": [{"image_id": 1, "caption": "x"}]})
    assert "looks like coco references, not candidates" in err(load_candidates, p)
    p = write(tmp_path / "n.json", 42)
    assert "n.json: JSON int is not a caption file" in err(load_references, p)
    p = write(tmp_path / "x.json", [{"image_id": 1, "caption": "x"}])
    assert "not a Karpathy dataset_*.json" in err(load_karpathy, p)


def test_karpathy_unknown_split(tmp_path):
    p = write(tmp_path / "d.json", {"images": [{"filename": "a.jpg", "split": "train", "sentences": [{"raw": "x"}]}]})
    assert "d.json: no images in split tset; splits present: train" in err(load_karpathy, p, split="tset")


def test_flickr8k_split_list_with_unknown_images(tmp_path):
    tok = write(tmp_path / "t.txt", "a.jpg#0\tx\n")
    split = write(tmp_path / "s.txt", "a.jpg\nb.jpg\nc.jpg\n")
    assert "s.txt: 2 listed images have no captions in t.txt (first: 'b.jpg', 'c.jpg')" in \
        err(load_flickr8k, tok, split)


def test_check_pairing_counts_and_names_the_first_few():
    refs = {i: ["x"] for i in range(10)}
    cands = {i: "y" for i in range(3, 20)}
    msg = err(check_pairing, refs, cands)
    assert "17 image ids only in candidates" not in msg
    assert "10 image ids only in candidates (first: 10, 11, 12, 13, 14, ...)" in msg
    assert "3 only in references (first: 0, 1, 2)" in msg
    msg = err(check_pairing, {1: ["x"], 2: ["y"]}, {"1": "x", "2": "y"})
    assert "integer vs string" in msg
    assert "empty or non-string caption" in err(check_pairing, {1: ["x", ""]}, {1: "y"})
    assert "expected a non-empty list" in err(check_pairing, {1: "x"}, {1: "y"})
    assert "image_id 1: empty or non-string caption" in err(check_pairing, {1: ["x"]}, {1: 3})


def test_savers_refuse_what_the_format_cannot_hold(tmp_path):
    assert "tab or line break" in err(save_flickr8k, tmp_path / "t.txt", {"a.jpg": ["two\nlines"]})
    assert "empty or non-string caption" in err(save_results, tmp_path / "r.json", {1: ""})
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written
