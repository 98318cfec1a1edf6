"""Image sources: formats, 8-bit RGB conversion rules, order, streaming, hashing, writers.

Expected values are worked out here independently of vislang: by hand (the documented formulas in plain
Python integers), by Pillow decoding lossless files, or by hashlib following the documented recipe.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zipfile
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from vislang.data import image_io
from vislang.data.images import open_images, write_npz, write_png_folder

RNG = np.random.default_rng(1234)


def rgb(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def save(path, arr_or_im, fmt=None, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    im = arr_or_im if isinstance(arr_or_im, Image.Image) else Image.fromarray(arr_or_im)
    im.save(path, format=fmt, **kw)
    return path


def png16(arr: np.ndarray, color: bool) -> bytes:
    """A 16-bit PNG written by hand (gray: colour type 0, RGB: colour type 2), filter 0 on every row."""
    h, w = arr.shape[:2]
    rows = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2 if color else 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def hwc(t: torch.Tensor) -> np.ndarray:
    return t.permute(1, 2, 0).numpy()


# -- lossless formats, order, folders and zips ---------------------------------------------------------------------
def test_lossless_formats_decode_exactly_in_sorted_recursive_order(tmp_path):
    imgs = {"b/z.png": rgb(6, 5, 1), "a.bmp": rgb(6, 5, 2), "b/a.tif": rgb(6, 5, 3), "C.TIFF": rgb(6, 5, 4),
            "d.webp": rgb(6, 5, 5), "b/c/e.PNG": rgb(6, 5, 6)}
    for name, arr in imgs.items():
        kw = {"lossless": True} if name.endswith("webp") else {}
        save(tmp_path / name, arr, **kw)
    (tmp_path / "notes.txt").write_text("not an image")
    save(tmp_path / ".hidden.png", rgb(9, 9))           # hidden files and folders are not read
    save(tmp_path / ".cache" / "x.png", rgb(9, 9))
    src = open_images(tmp_path)
    expected_order = sorted(imgs)  # code-point order of the relative path: upper case first
    assert src.names == expected_order == ["C.TIFF", "a.bmp", "b/a.tif", "b/c/e.PNG", "b/z.png", "d.webp"]
    assert len(src) == 6 and src.size == (6, 5)
    got = src.load()
    assert got.dtype == torch.uint8 and got.shape == (6, 3, 6, 5)
    for i, name in enumerate(expected_order):
        np.testing.assert_array_equal(hwc(got[i]), imgs[name], err_msg=name)
    d = src.describe()
    assert d["count"] == 6 and dict(d["sizes"]) == {"6x5": 6} and d["ok"] and d["problems"] == []
    assert any("1 file(s) without an image suffix" in n for n in d["notes"])


def test_jpeg_decodes_like_pillow(tmp_path):
    arr = rgb(16, 12, 7)
    save(tmp_path / "x.jpg", arr, quality=90)
    save(tmp_path / "y.jpeg", arr, quality=50)
    got = open_images(tmp_path).load()
    for i, name in enumerate(["x.jpg", "y.jpeg"]):
        np.testing.assert_array_equal(hwc(got[i]), np.asarray(Image.open(tmp_path / name).convert("RGB")))


def test_zip_equals_folder_and_shares_its_content_hash(tmp_path):
    folder = tmp_path / "f"
    for i in range(5):
        save(folder / f"sub/{i}.png", rgb(8, 8, i))
    zpath = tmp_path / "set.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for i in reversed(range(5)):  # stored out of order; read sorted
            zf.write(folder / f"sub/{i}.png", f"sub/{i}.png")
        zf.writestr("__MACOSX/sub/._0.png", b"resource fork")
        zf.writestr("readme.txt", b"hi")
    a, b = open_images(folder), open_images(zpath)
    assert a.names == b.names == [f"sub/{i}.png" for i in range(5)]
    assert torch.equal(a.load(), b.load())
    assert a.content_hash() == b.content_hash()


def test_content_hash_follows_the_documented_recipe(tmp_path):
    for i in range(3):
        save(tmp_path / f"{i}.png", rgb(4, 4, i))
    h = hashlib.sha256()
    recipe = {"float_range": None, "resize": None, "rules": "vislang-images-v1", "size": None}
    h.update(json.dumps(recipe, sort_keys=True).encode() + b"\0")
    for i in range(3):
        name, data = f"{i}.png".encode(), (tmp_path / f"{i}.png").read_bytes()
        h.update(len(name).to_bytes(8, "big") + name + len(data).to_bytes(8, "big") + data)
    src = open_images(tmp_path)
    assert src.content_hash() == h.hexdigest()
    # a changed pixel, a renamed file and a resize recipe each change the key
    resized = open_images(tmp_path, size=2, resize="box")
    assert resized.content_hash() != h.hexdigest()
    save(tmp_path / "2.png", rgb(4, 4, 99))
    assert open_images(tmp_path).content_hash() != h.hexdigest()


def test_array_content_hash_is_dtype_layout_shape_and_bytes():
    x = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    h = hashlib.sha256()
    recipe = {"float_range": None, "resize": None, "rules": "vislang-images-v1", "size": None}
    h.update(json.dumps(recipe, sort_keys=True).encode() + b"\0")
    h.update(b"|u1|NHWC|(2, 4, 4, 3)")
    h.update(x.tobytes())
    assert open_images(x).content_hash() == h.hexdigest()


def test_single_image_file_is_a_source(tmp_path):
    arr = rgb(5, 7)
    save(tmp_path / "one.png", arr)
    src = open_images(tmp_path / "one.png")
    assert src.names == ["one.png"] and len(src) == 1
    np.testing.assert_array_equal(hwc(src[0]), arr)


# -- conversion rules ----------------------------------------------------------------------------------------------
def white_composite(c: int, a: int) -> int:
    """c * a/255 + 255 * (1 - a/255), rounded half up, in exact rationals."""
    from fractions import Fraction

    v = Fraction(c * a, 255) + 255 - Fraction(255 * a, 255)
    return int(v + Fraction(1, 2))


def test_rgba_and_la_are_composited_on_white(tmp_path):
    vals = np.array([0, 1, 37, 127, 128, 200, 254, 255], dtype=np.uint8)
    c, a = np.meshgrid(vals, vals, indexing="ij")
    rgba = np.stack([c, 255 - c, c // 2, a], axis=-1).astype(np.uint8)
    save(tmp_path / "rgba.png", rgba)
    save(tmp_path / "la.png", Image.fromarray(np.stack([c, a], -1).astype(np.uint8), "LA"))
    src = open_images(tmp_path)
    got_la, got_rgba = (hwc(t) for t in src.load())
    for i in range(len(vals)):
        for j in range(len(vals)):
            ci, aj = int(c[i, j]), int(a[i, j])
            assert got_rgba[i, j].tolist() == [white_composite(ci, aj), white_composite(255 - ci, aj),
                                               white_composite(ci // 2, aj)]
            assert got_la[i, j].tolist() == [white_composite(ci, aj)] * 3
    assert got_rgba[0, 0].tolist() == [255, 255, 255]          # fully transparent -> white
    assert got_rgba[3, 7].tolist() == [127, 128, 63]            # opaque -> unchanged
    d = src.describe()
    assert dict(d["modes"]) == {"LA": 1, "RGBA": 1}
    assert "converted to 8-bit RGB: LA (alpha composited on white), RGBA (alpha composited on white)" in d["notes"]


def test_palette_with_transparency_and_bilevel(tmp_path):
    pal = Image.new("P", (3, 2))
    pal.putpalette([10, 20, 30, 200, 100, 50, 0, 0, 0] + [0] * (256 * 3 - 9))
    pal.putdata([0, 1, 2, 1, 0, 2])
    save(tmp_path / "p.png", pal, transparency=2)
    save(tmp_path / "q.png", pal)  # no transparency: plain palette lookup
    bw = Image.new("1", (3, 2))
    bw.putdata([0, 1, 1, 0, 0, 1])
    save(tmp_path / "r.png", bw)
    p, q, r = (hwc(t) for t in open_images(tmp_path).load())
    lut = {0: [10, 20, 30], 1: [200, 100, 50], 2: [0, 0, 0]}
    idx = [[0, 1, 2], [1, 0, 2]]
    assert q.tolist() == [[lut[k] for k in row] for row in idx]
    assert p.tolist() == [[lut[k] if k != 2 else [255, 255, 255] for k in row] for row in idx]
    assert r[:, :, 0].tolist() == [[0, 255, 255], [0, 0, 255]] and (r[..., 0] == r[..., 2]).all()


def test_sixteen_bit_gray_uses_the_same_rule_as_pillows_16_bit_colour(tmp_path):
    v = np.array([[0, 255, 256, 257, 32767, 32768], [33023, 65279, 65280, 65535, 1000, 54321]], dtype=np.uint16)
    (tmp_path / "gray16.png").write_bytes(png16(v, color=False))
    (tmp_path / "rgb16.png").write_bytes(png16(np.stack([v, v, v], -1), color=True))
    save(tmp_path / "gray16.tif", Image.fromarray(v))  # Pillow writes I;16 TIFF
    gray_png, rgb_png, gray_tif = (hwc(t) for t in open_images(tmp_path).load())
    expected = [[x >> 8 for x in row] for row in v.tolist()]  # the documented rule, high byte
    assert gray_png[:, :, 0].tolist() == expected
    np.testing.assert_array_equal(gray_png, rgb_png)   # Pillow's own 16-bit colour decoding agrees
    np.testing.assert_array_equal(gray_png, gray_tif)
    eight = np.arange(256, dtype=np.uint16)            # 8-bit data stored as 16 bits comes back exactly
    (tmp_path / "gray16.png").write_bytes(png16((eight * 257).reshape(16, 16), color=False))
    assert open_images(tmp_path / "gray16.png")[0][0].flatten().tolist() == list(range(256))


def test_32_bit_int_and_float_images(tmp_path):
    i32 = np.array([[-5, 0, 300, 65535, 70000, 40000]], dtype=np.int32)
    save(tmp_path / "i.tif", Image.fromarray(i32, "I"))
    f32 = np.array([[-1.0, -0.5, 0.0, 0.25, 1.0, 1.001]], dtype=np.float32)
    save(tmp_path / "f.tif", Image.fromarray(f32, "F"))
    got = open_images(tmp_path / "i.tif")[0][0].flatten().tolist()
    assert got == [0, 0, 300 >> 8, 255, 255, 40000 >> 8]
    got = open_images(tmp_path / "f.tif", float_range=(-1, 1))[0][0].flatten().tolist()
    # floor((x + 1) / 2 * 255 + 0.5), clipped: -0.5 -> 64 (63.75 + .5), 0 -> 128 (127.5 + .5), .25 -> 159
    assert got == [0, 64, 128, 159, 255, 255]


def test_cmyk_goes_through_pillows_conversion(tmp_path):
    arr = rgb(6, 6, 3)
    cmyk = Image.fromarray(arr).convert("CMYK")
    save(tmp_path / "c.tif", cmyk)
    save(tmp_path / "c.jpg", cmyk, quality=95)
    got = open_images(tmp_path).load()
    assert Image.open(tmp_path / "c.jpg").mode == "CMYK"
    for i, name in enumerate(["c.jpg", "c.tif"]):
        np.testing.assert_array_equal(hwc(got[i]), np.asarray(Image.open(tmp_path / name).convert("RGB")))
    np.testing.assert_array_equal(hwc(got[1]), arr)  # naive CMYK <-> RGB is exact both ways


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "TIFF"])
def test_exif_orientation_is_applied(tmp_path, fmt):
    arr = np.zeros((40, 60, 3), np.uint8)
    arr[:10, :10] = 255  # a white block at the top-left of the stored pixels
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": stored top-left ends at the top-right
    kw = {"quality": 95} if fmt == "JPEG" else {"lossless": True} if fmt == "WEBP" else {}
    save(tmp_path / f"o.{fmt.lower()}", arr, fmt, exif=exif, **kw)
    save(tmp_path / "plain.png", np.zeros((60, 40, 3), np.uint8))  # already upright, same display size
    src = open_images(tmp_path)  # no mixed-size error: the header size accounts for the orientation
    assert src.size == (60, 40)
    img = hwc(src[src.names.index(f"o.{fmt.lower()}")])
    assert img.shape == (60, 40, 3)
    assert img[2:8, 32:38].min() > 200 and img[2:8, 2:8].max() < 50 and img[52:58, 32:38].max() < 50


def test_float_uint16_bool_and_channel_layouts_of_arrays(tmp_path):
    x = rgb(5, 4, 11)
    nhwc = np.stack([x, x[::-1]])
    nchw = torch.from_numpy(nhwc).permute(0, 3, 1, 2).contiguous()
    assert torch.equal(open_images(nhwc).load(), nchw)
    assert torch.equal(open_images(nchw).load(), nchw)
    assert torch.equal(open_images(nchw.float() / 127.5 - 1, float_range=(-1, 1)).load(), nchw)
    assert torch.equal(open_images(nchw.double() / 255, float_range=(0, 1)).load(), nchw)
    gray = np.arange(12, dtype=np.uint8).reshape(1, 3, 4) * 20
    assert open_images(gray).load()[0].tolist() == [gray[0].tolist()] * 3
    assert open_images(gray[:, :, :, None]).load()[0, 1].tolist() == gray[0].tolist()
    u16 = gray.astype(np.uint16) * 256 + 255  # high byte = gray
    assert open_images(u16).load()[0, 2].tolist() == gray[0].tolist()
    rgba = np.concatenate([nhwc, np.zeros((2, 5, 4, 1), np.uint8)], axis=-1)  # fully transparent
    assert (open_images(rgba).load() == 255).all()
    # ambiguous 4-d shapes: channels-first for torch tensors, channels-last for numpy arrays
    amb = np.arange(3 * 4 * 3, dtype=np.uint8).reshape(1, 3, 4, 3)
    assert open_images(amb).size == (3, 4)
    assert open_images(torch.from_numpy(amb)).size == (4, 3)
    bools = np.array([[[True, False]]])
    assert open_images(bools).load()[0, 0].tolist() == [[255, 0]]


def test_npz_and_npy_files(tmp_path):
    x = np.stack([rgb(6, 6, i) for i in range(4)])
    np.save(tmp_path / "a.npy", x)
    np.savez(tmp_path / "b.npz", labels=np.arange(4), images=x)
    np.savez(tmp_path / "c.npz", x)
    np.savez(tmp_path / "d.npz", first=x, second=x[:1])
    want = torch.from_numpy(x).permute(0, 3, 1, 2)
    for name in ("a.npy", "b.npz", "c.npz", "d.npz"):
        src = open_images(tmp_path / name)
        assert torch.equal(src.load(), want), name
        assert src.names == ["0", "1", "2", "3"]
    assert open_images(tmp_path / "a.npy").kind == "npy"
    assert isinstance(open_images(tmp_path / "a.npy")._backend.arr, np.memmap)  # streamed, not loaded


# -- batches, resizing, streaming ----------------------------------------------------------------------------------
def test_iter_batches_ranges_and_getitem(tmp_path):
    x = np.stack([rgb(3, 3, i) for i in range(10)])
    for i in range(10):
        save(tmp_path / f"{i:02d}.png", x[i])
    want = torch.from_numpy(x).permute(0, 3, 1, 2)
    for src in (open_images(tmp_path), open_images(x)):
        batches = list(src.iter_batches(4))
        assert [len(b) for b in batches] == [4, 4, 2]
        assert all(b.is_contiguous() and b.dtype == torch.uint8 for b in batches)
        assert torch.equal(torch.cat(batches), want)
        part = list(src.iter_batches(3, start=2, stop=7))
        assert [len(b) for b in part] == [3, 2] and torch.equal(torch.cat(part), want[2:7])
        assert torch.equal(src[-1], want[9]) and torch.equal(src[0], want[0])
        assert list(src.iter_batches(5, start=10)) == []


def test_folder_batches_decode_lazily(tmp_path, monkeypatch):
    for i in range(40):
        save(tmp_path / f"{i:02d}.png", rgb(4, 4, i))
    src = open_images(tmp_path)
    decoded = []
    real = image_io.FileBackend.decode
    monkeypatch.setattr(image_io.FileBackend, "decode", lambda self, name: decoded.append(name) or real(self, name))
    it = src.iter_batches(8)
    next(it)
    assert len(decoded) == 8  # one batch decoded, not the whole set
    next(it)
    assert len(decoded) == 16


@pytest.mark.parametrize("method", ["bicubic", "bilinear", "lanczos", "nearest", "box"])
def test_resize_uses_the_named_pillow_filter(tmp_path, method):
    a, b = rgb(20, 30, 1), rgb(10, 12, 2)
    save(tmp_path / "a.png", a)
    save(tmp_path / "b.png", b)
    src = open_images(tmp_path, size=(8, 6), resize=method)
    got = src.load()
    filt = getattr(Image.Resampling, method.upper())
    for i, arr in enumerate((a, b)):
        want = np.asarray(Image.fromarray(arr).resize((6, 8), resample=filt))  # PIL takes (W, H)
        np.testing.assert_array_equal(hwc(got[i]), want)
    assert src.provenance(with_hash=False)["resize"] == f"pil-{method}"
    # without size, everything goes to the first image's size
    assert open_images(tmp_path, resize=method).size == (20, 30)
    assert open_images(b[None], size=(8, 6), resize=method).load().shape == (1, 3, 8, 6)


def test_size_accepts_int_tuple_and_string(tmp_path):
    save(tmp_path / "a.png", rgb(7, 9))
    assert open_images(tmp_path, size=(7, 9)).size == (7, 9)
    assert open_images(tmp_path, size="7x9").size == (7, 9)
    assert open_images(tmp_path, size=4, resize="box").size == (4, 4)


def test_pixel_limit_can_be_raised_above_pillows(tmp_path, monkeypatch):
    save(tmp_path / "a.png", rgb(30, 40))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow alone would refuse this image
    assert len(open_images(tmp_path, max_pixels=5000).load()) == 1
    assert len(open_images(tmp_path, max_pixels=None).load()) == 1
    assert Image.MAX_IMAGE_PIXELS == 100  # restored


# -- writers -------------------------------------------------------------------------------------------------------
def test_write_png_folder_round_trip_names_and_atomicity(tmp_path):
    x = torch.from_numpy(np.stack([rgb(5, 6, i) for i in range(3)])).permute(0, 3, 1, 2)
    names = write_png_folder(x, tmp_path / "out")
    assert names == ["00000.png", "00001.png", "00002.png"]
    assert torch.equal(open_images(tmp_path / "out").load(), x)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temp folder left
    # a source streams straight through, keeping its names (suffix -> .png)
    for i in range(3):
        save(tmp_path / "src" / "s" / f"{i}.jpg", rgb(5, 6, i))
    src = open_images(tmp_path / "src")
    assert write_png_folder(src, tmp_path / "copy") == ["s/0.png", "s/1.png", "s/2.png"]
    assert torch.equal(open_images(tmp_path / "copy").load(), src.load())
    # an existing non-empty folder is refused and left alone, unless overwrite
    before = (tmp_path / "out" / "00000.png").read_bytes()
    with pytest.raises(Exception, match="not empty"):
        write_png_folder(x[:1].flip(0), tmp_path / "out")
    assert (tmp_path / "out" / "00000.png").read_bytes() == before
    write_png_folder(x[:1], tmp_path / "out", names=["only"], overwrite=True)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["only.png"]


def test_write_npz_round_trip(tmp_path):
    x = torch.from_numpy(np.stack([rgb(5, 6, i) for i in range(3)])).permute(0, 3, 1, 2)
    write_npz(x, tmp_path / "a.npz", labels=np.array([3, 1, 2]))
    with np.load(tmp_path / "a.npz") as f:
        assert f["images"].shape == (3, 5, 6, 3) and f["labels"].tolist() == [3, 1, 2]
        np.testing.assert_array_equal(f["images"], x.permute(0, 2, 3, 1).numpy())
    assert torch.equal(open_images(tmp_path / "a.npz").load(), x)
    write_npz(open_images(tmp_path / "a.npz"), tmp_path / "b.npz", compress=True)
    assert torch.equal(open_images(tmp_path / "b.npz").load(), x)


def test_sources_pickle_for_worker_processes(tmp_path):
    import pickle

    for i in range(3):
        save(tmp_path / "f" / f"{i}.png", rgb(4, 4, i))
    with zipfile.ZipFile(tmp_path / "z.zip", "w") as zf:
        for i in range(3):
            zf.write(tmp_path / "f" / f"{i}.png", f"{i}.png")
    for path in (tmp_path / "f", tmp_path / "z.zip"):
        src = open_images(path)
        want = src.load()  # opens the zip handle, which must not travel
        clone = pickle.loads(pickle.dumps(src))
        assert torch.equal(clone.load(), want) and clone.names == src.names
    prov = open_images(tmp_path / "z.zip").provenance()
    assert prov["kind"] == "zip" and prov["count"] == 3 and prov["size"] == [4, 4] and prov["resize"] is None
    assert prov["content_sha256"] == open_images(tmp_path / "f").content_hash()


def test_threaded_decoding_gives_the_same_batches_and_the_same_first_error(tmp_path):
    x = np.stack([rgb(8, 8, i) for i in range(23)])
    for i in range(23):
        save(tmp_path / f"{i:02d}.png", x[i])
    src = open_images(tmp_path)
    want = torch.from_numpy(x).permute(0, 3, 1, 2)
    assert torch.equal(torch.cat(list(src.iter_batches(5, workers=3))), want)
    assert torch.equal(src.load(workers=2), want)
    for name in ("05.png", "17.png"):  # two bad files: the first in order is reported, whatever the threads
        p = tmp_path / name
        p.write_bytes(p.read_bytes()[:80])
    for workers in (0, 4):
        with pytest.raises(Exception, match=r"05\.png: unreadable"):
            list(open_images(tmp_path).iter_batches(8, workers=workers))
