"""The report in headless Chromium: non-blank screenshot, no broken image, no console error, and a
caption holding ``<script>`` shown as text.  Method: see chromium_check.py (pure chromium CLI)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
import chromium_check as C  # noqa: E402

from conftest import run_cli  # noqa: E402
from vislang.fileio import write_json  # noqa: E402

EVIL = '<script>document.title="pwned"</script> a red circle'


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    rng = np.random.default_rng(0)
    (d / "img").mkdir()
    for i in range(3):
        arr = np.zeros((32, 32, 3), np.uint8)
        arr[8:24, 8:24, i] = 200 + 20 * i
        Image.fromarray(arr).save(d / "img" / f"{i}.png")
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(d / "img" / "grid.png")
    data = {"grids": [{"title": "real", "png": "img/grid.png"}, {"title": "generated <b>", "png": "img/0.png"}],
            "losses": {"dcgan": {"step": [0, 10, 20], "loss_d": [1.3, 0.9, 0.7], "loss_g": [0.7, 1.2, 1.9]}},
            "captions": [{"image": f"img/{i}.png", "caption": EVIL if i == 0 else f"caption {i}",
                          "refs": ["a red circle", "a circle"], "scores": {"CIDEr-D": 0.5 * i},
                          "errors": ["colour of object 1"] if i else []} for i in range(3)],
            "consistency": {"best": [{"image": "img/1.png", "caption": "a green square", "score": 0.9}],
                            "worst": [{"image": "img/2.png", "caption": EVIL, "score": 0.1}]},
            "diversity": {"captions": {"distinct-1": 0.4, "self-BLEU-4": 0.8}}}
    write_json(d / "report_data.json", data)
    write_json(d / "results.json", {"kind": "demo", "report_data": "report_data.json", "uncond.fid": 42.0,
                                    "uncond.fid_real_floor": 1.5, "uncond.fid_baseline": 300.0,
                                    "captions.CIDEr-D": 0.7, "provenance": {"note": EVIL}})
    assert run_cli("report", str(d / "results.json"), "--out", str(d / "report.html")) == 0
    return d / "report.html"


def test_report_chromium_screenshot_nonblank(report, tmp_path):
    png = tmp_path / "shot.png"
    proc = C.screenshot(report, png)
    assert proc.returncode == 0, proc.stderr[-2000:]
    a = np.asarray(Image.open(png).convert("L"), dtype=np.float64)
    assert a.shape == (2000, 1280)
    # text, tables and images: a good share of pixels differ from the white page
    assert (a < 200).mean() > 0.005 and a.std() > 10
    assert C.console_errors(proc.stderr) == []


def test_report_chromium_images_load_no_errors_script_as_text(report, tmp_path):
    check, dom, stderr = C.dom_check(report, tmp_path)
    assert check["images"] == 2 + 3 + 2
    assert check["broken"] == 0
    assert check["errors"] == []
    assert check["scripts"] == 1  # only the test's own check script: the caption's <script> is text
    assert C.console_errors(stderr) == []
    assert "&lt;script&gt;document.title=" in dom
    assert "pwned" not in dom.split("<title>")[1].split("</title>")[0]


def test_report_chromium_check_detects_broken_and_network(tmp_path):
    """The checker itself fails on a page with a broken image and a blocked network request."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" "
                    "content=\"default-src 'none'; img-src data:\"></head><body>"
                    "<img src=\"data:image/png;base64,AAAA\"><img src=\"http://127.0.0.1:9/x.png\"></body></html>",
                    encoding="utf-8")
    check, _, stderr = C.dom_check(page, tmp_path)
    assert check["images"] == 2 and check["broken"] == 2
    assert any("Content Security Policy" in ln or "Refused" in ln for ln in C.console_errors(stderr))
