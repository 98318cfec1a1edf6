"""Image sources: every bad input gives a one-line InputError naming the file (or is skipped with skip_bad)."""

from __future__ import annotations

import struct
import zipfile
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from vislang.data.images import check_images, open_images
from vislang.errors import InputError


def rgb(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def save(path, arr, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, **kw)
    return path


def one_line(exc_info) -> str:
    msg = str(exc_info.value)
    assert "\n" not in msg
    return msg


def bomb_png(w: int, h: int) -> bytes:
    """A tiny PNG whose header claims w x h pixels (the pixel data is absent)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.fixture
def folder_with_bad(tmp_path):
    good = [save(tmp_path / f"{i}.png", rgb(32, 32, i)) for i in range(3)]
    trunc = tmp_path / "1b_truncated.jpg"
    save(trunc, rgb(32, 32), quality=90)
    trunc.write_bytes(trunc.read_bytes()[:300])
    (tmp_path / "2b_garbage.png").write_bytes(b"this is not a png at all")
    half = tmp_path / "2c_halfpng.png"
    save(half, rgb(32, 32, 5))
    half.write_bytes(half.read_bytes()[:200])
    return tmp_path, good


def test_truncated_and_unreadable_files_name_the_file(folder_with_bad):
    folder, _ = folder_with_bad
    with pytest.raises(InputError) as exc:
        open_images(folder).load()
    msg = one_line(exc)
    assert "1b_truncated.jpg" in msg and "--skip-bad" in msg
    (folder / "1b_truncated.jpg").unlink()
    with pytest.raises(InputError) as exc:
        open_images(folder)  # header scan at open time catches a file that is not an image at all
    assert "2b_garbage.png" in one_line(exc) and "not a readable image" in str(exc.value)
    (folder / "2b_garbage.png").unlink()
    with pytest.raises(InputError, match=r"2c_halfpng\.png: unreadable") as exc:
        list(open_images(folder).iter_batches(2))
    one_line(exc)


def test_skip_bad_skips_and_counts(folder_with_bad):
    folder, good = folder_with_bad
    src = open_images(folder, skip_bad=True)
    assert len(src) == 3 and src.names == ["0.png", "1.png", "2.png"]
    assert [n for n, _ in src.skipped] == ["1b_truncated.jpg", "2b_garbage.png", "2c_halfpng.png"]
    assert all(reason for _, reason in src.skipped)
    want = torch.from_numpy(np.stack([rgb(32, 32, i) for i in range(3)])).permute(0, 3, 1, 2)
    assert torch.equal(src.load(), want)
    d = src.describe()
    assert d["count"] == 3 and len(d["skipped"]) == 3 and d["ok"]


def test_check_images_collects_every_problem(folder_with_bad):
    folder, _ = folder_with_bad
    report = check_images(folder)
    assert not report["ok"] and report["count"] == 3
    assert len(report["problems"]) == 3
    for name in ("1b_truncated.jpg", "2b_garbage.png", "2c_halfpng.png"):
        assert sum(name in p for p in report["problems"]) == 1


def test_all_bad_with_skip_bad_is_an_error(tmp_path):
    (tmp_path / "a.png").write_bytes(b"junk")
    with pytest.raises(InputError, match=r"all 1 images are unreadable \(first: a.png"):
        open_images(tmp_path, skip_bad=True)


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    (tmp_path / "big.png").write_bytes(bomb_png(20000, 20000))  # 400 M pixels claimed, 100 bytes on disk
    save(tmp_path / "ok.png", rgb(4, 4))
    with pytest.raises(InputError) as exc:
        open_images(tmp_path)
    msg = one_line(exc)
    assert "big.png" in msg and "20000x20000 = 400000000 pixels exceeds the limit of 89478485" in msg
    src = open_images(tmp_path, skip_bad=True)
    assert src.names == ["ok.png"] and src.skipped[0][0] == "big.png"
    with pytest.raises(InputError, match=r"ok.png: 4x4 = 16 pixels exceeds the limit of 10"):
        open_images(tmp_path / "ok.png", max_pixels=10)


def test_empty_and_missing_sources(tmp_path):
    with pytest.raises(InputError, match=r"no such file or folder"):
        open_images(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    with pytest.raises(InputError, match=r"empty: no images found \(looked for .png"):
        open_images(tmp_path / "empty")
    with zipfile.ZipFile(tmp_path / "e.zip", "w") as zf:
        zf.writestr("a.txt", "x")
    with pytest.raises(InputError, match=r"e.zip: no images found"):
        open_images(tmp_path / "e.zip")
    with pytest.raises(InputError, match=r"contains no images"):
        open_images(np.zeros((0, 4, 4, 3), np.uint8))
    (tmp_path / "x.csv").write_text("1,2")
    with pytest.raises(InputError, match=r"x.csv: unsupported image source"):
        open_images(tmp_path / "x.csv")
    (tmp_path / "bad.zip").write_bytes(b"PK not really")
    with pytest.raises(InputError, match=r"bad.zip: not a readable zip file"):
        open_images(tmp_path / "bad.zip")
    (tmp_path / "bad.npz").write_bytes(b"nope")
    with pytest.raises(InputError, match=r"bad.npz: not a readable .npz file"):
        open_images(tmp_path / "bad.npz")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match=r"obj.npy: .*pickled"):
        open_images(tmp_path / "obj.npy")


def test_mixed_sizes_name_two_files_and_the_fix(tmp_path):
    save(tmp_path / "a.png", rgb(8, 8))
    save(tmp_path / "b.png", rgb(8, 8))
    save(tmp_path / "c.png", rgb(8, 6))
    with pytest.raises(InputError) as exc:
        open_images(tmp_path)
    msg = one_line(exc)
    assert "mixed image sizes: a.png is 8x8 but c.png is 8x6" in msg and "--resize" in msg and "--size" in msg
    with pytest.raises(InputError, match=r"c.png: image is 8x6 but size 8x8 was asked for; pass --resize"):
        open_images(tmp_path, size=8)
    assert open_images(tmp_path, size=8, resize="bicubic").load().shape == (3, 3, 8, 8)
    report = check_images(tmp_path)
    assert not report["ok"] and dict(report["sizes"]) == {"8x8": 2, "8x6": 1}
    assert any("mixed image sizes" in p for p in report["problems"])


def test_array_errors():
    x = np.zeros((2, 4, 4, 3), np.float32)
    with pytest.raises(InputError, match=r"float data .* needs its range: pass float_range"):
        open_images(x)
    with pytest.raises(InputError, match=r"values span \[-1, 1\], outside the stated float range \(0, 1\)"):
        open_images(np.linspace(-1, 1, 96, dtype=np.float32).reshape(2, 4, 4, 3), float_range=(0, 1))
    x[0, 0, 0, 0] = np.nan
    with pytest.raises(InputError, match=r"NaN"):
        open_images(x, float_range=(0, 1))
    with pytest.raises(InputError, match=r"dtype int64 are not supported"):
        open_images(np.zeros((2, 4, 4, 3), np.int64))
    with pytest.raises(InputError, match=r"no channel axis"):
        open_images(np.zeros((2, 5, 5, 5), np.uint8))
    with pytest.raises(InputError, match=r"expected N x H x W x C"):
        open_images(np.zeros((4, 4), np.uint8))
    with pytest.raises(InputError, match=r"images are 4x4 but size 8x8 was asked for"):
        open_images(np.zeros((2, 4, 4, 3), np.uint8), size=8)
    with pytest.raises(InputError, match=r"float_range"):
        open_images(np.zeros((1, 2, 2, 3), np.uint8), float_range=(1, 0))
    with pytest.raises(InputError, match=r"resize method 'cubic': choose one of bicubic"):
        open_images(np.zeros((1, 2, 2, 3), np.uint8), resize="cubic")
    with pytest.raises(InputError, match=r"size 'big'"):
        open_images(np.zeros((1, 2, 2, 3), np.uint8), size="big")
    with pytest.raises(InputError, match=r"image source of type list"):
        open_images([1, 2, 3])


def test_float_tiff_without_range_is_an_error_naming_the_file(tmp_path):
    Image.fromarray(np.zeros((3, 3), np.float32), "F").save(tmp_path / "f.tif")
    with pytest.raises(InputError, match=r"f.tif: 32-bit float image: float data .* needs its range"):
        open_images(tmp_path).load()


def test_writers_refuse_wrong_input(tmp_path):
    from vislang.data.images import write_npz, write_png_folder

    with pytest.raises(InputError, match=r"uint8 N x 3 x H x W"):
        write_png_folder(torch.zeros(2, 3, 4, 4), tmp_path / "o")
    with pytest.raises(InputError, match=r"collide"):
        write_png_folder(torch.zeros(2, 3, 4, 4, dtype=torch.uint8), tmp_path / "o", names=["a.jpg", "a.png"])
    with pytest.raises(InputError, match=r"relative path"):
        write_png_folder(torch.zeros(1, 3, 4, 4, dtype=torch.uint8), tmp_path / "o", names=["../x"])
    with pytest.raises(InputError, match=r"\.npz"):
        write_npz(torch.zeros(1, 3, 4, 4, dtype=torch.uint8), tmp_path / "o.npy")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written
