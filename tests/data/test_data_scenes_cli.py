"""`vislang data scenes`: byte-identical output for one seed, COCO layout, atomic writes, load_scenes_dir."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import run_cli
from vislang.data.scenes import HELD_OUT_PAIRS, generate, load_scenes_dir
from vislang.errors import InputError


def _all_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenes_cli")
    for name, workers in (("a", "1"), ("b", "2")):  # a process pool must not change a byte
        assert run_cli("data", "scenes", "--n", "60", "--size", "32", "--seed", "7", "--out", root / name,
                       "--workers", workers, "--quiet") == 0
    return root / "a", root / "b"


def test_two_runs_are_byte_identical(two_runs):
    a, b = two_runs
    files_a, files_b = _all_bytes(a), _all_bytes(b)
    assert len(files_a) == 62 and files_a == files_b


def test_output_layout_is_coco(two_runs):
    out = two_runs[0]
    coco = json.loads((out / "captions.json").read_text())
    assert [im["file_name"] for im in coco["images"]] == [f"{i:06d}.png" for i in range(60)]
    assert all(im["width"] == im["height"] == 32 for im in coco["images"])
    ids = [im["id"] for im in coco["images"]]
    assert ids == list(range(60))
    ann_ids = [a["id"] for a in coco["annotations"]]
    assert len(set(ann_ids)) == len(ann_ids) == 5 * 60
    per_image = {}
    for a in coco["annotations"]:
        per_image.setdefault(a["image_id"], []).append(a["caption"])
    assert set(per_image) == set(ids) and all(len(set(c)) == 5 for c in per_image.values())
    with Image.open(out / "images" / "000003.png") as im:
        assert im.mode == "RGB" and im.size == (32, 32)
        pixels = np.asarray(im)
    ref = generate(4, size=32, seed=7)
    assert np.array_equal(pixels, ref.images[3].permute(1, 2, 0).numpy())
    specs = json.loads((out / "specs.json").read_text())
    assert [r["id"] for r in specs["scenes"]] == ids
    assert {tuple(p) for p in specs["held_out_pairs"]} == set(HELD_OUT_PAIRS)


def test_load_scenes_dir_round_trip(two_runs):
    loaded = load_scenes_dir(two_runs[0])
    ref = generate(60, size=32, seed=7)
    assert torch.equal(loaded.images, ref.images)
    assert loaded.ids == ref.ids and loaded.captions == ref.captions and loaded.specs == ref.specs
    assert (loaded.size, loaded.seed, loaded.split) == (32, 7, "train")


def test_split_option(tmp_path):
    assert run_cli("data", "scenes", "--n", "5", "--size", "32", "--split", "test_unseen", "--out",
                   tmp_path / "u", "--workers", "1", "--quiet") == 0
    loaded = load_scenes_dir(tmp_path / "u")
    assert loaded.ids == [3_000_000 + i for i in range(5)] and loaded.split == "test_unseen"


def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "x"
    assert run_cli("data", "scenes", "--n", "5", "--size", "48", "--out", out) == 2
    assert run_cli("data", "scenes", "--n", "0", "--out", out) == 2
    assert not out.exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert err and all(line.startswith("vislang: error: ") for line in err)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    assert run_cli("data", "scenes", "--n", "3", "--size", "32", "--out", busy) == 2
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind
    assert run_cli("data", "scenes", "--n", "3", "--size", "32", "--out", busy, "--overwrite", "--workers", "1",
                   "--quiet") == 0
    assert sorted(p.name for p in busy.iterdir()) == ["captions.json", "images", "specs.json"]


def test_load_scenes_dir_errors(tmp_path, two_runs):
    with pytest.raises(InputError, match="not a folder"):
        load_scenes_dir(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="captions.json"):
        load_scenes_dir(tmp_path / "empty")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "images").mkdir()
    for name in ("captions.json", "specs.json"):
        (broken / name).write_bytes((two_runs[0] / name).read_bytes())
    with pytest.raises(InputError, match="missing image"):
        load_scenes_dir(broken)


def test_help_has_an_example(capsys):
    assert run_cli("data", "scenes", "--help") == 0
    assert "vislang data scenes --n 10000 --size 64 --seed 0 --out" in capsys.readouterr().out
