"""Report page structure: escaping, embedded images, tables from `vislang eval` results."""

from __future__ import annotations

import base64
import re

import numpy as np
from PIL import Image

from conftest import run_cli
from vislang.fileio import write_json
from vislang.report import render
from vislang.report.html import metric_rows
from vislang.report.plots import bar_plot, line_plot


def test_report_escapes_all_text():
    page = render({"m<x>": 1.0, "provenance": {"a": "<script>x</script>"}},
                  {"captions": [{"caption": "<img src=x onerror=alert(1)>", "refs": ["<b>r</b>"], "errors": ["<i>"]}]})
    assert "<script>x" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<b>r</b>" not in page and "m&lt;x&gt;" in page
    assert "<script" not in page  # the report has no script at all


def test_report_embeds_png_as_data_uri(tmp_path):
    arr = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    Image.fromarray(arr).save(tmp_path / "a.png")
    page = render({}, {"grids": [{"title": "t", "png": "a.png"}]}, tmp_path)
    m = re.search(r'src="data:image/png;base64,([^"]+)"', page)
    assert m and base64.b64decode(m.group(1)) == (tmp_path / "a.png").read_bytes()
    assert "http://" not in page and "https://" not in page


def test_report_metric_rows_floor_baseline_ci():
    res = {"fid": 12.5, "fid_real_floor": 0.5, "fid_ci_low": 11.0, "fid_ci_high": 14.0, "n_real": 10,
           "cap.CIDEr-D": 0.3, "cap.CIDEr-D_baseline": 0.01, "provenance": {"extractor": "mobilenet-v2"}}
    rows = metric_rows(res)
    assert rows["results"] == [("fid", 12.5, 0.5, None, "[11, 14]")]
    assert rows["cap"] == [("CIDEr-D", 0.3, None, 0.01, "")]


def test_report_plots_escape_and_scale():
    svg = line_plot({"<d>": ([0, 10], [1.0, 3.0])}, title="<t>")
    assert "&lt;d&gt;" in svg and "&lt;t&gt;" in svg and "<d>" not in svg
    pts = re.search(r'points="([^"]+)"', svg).group(1).split()
    (x0, y0), (x1, y1) = [tuple(map(float, p.split(","))) for p in pts]
    assert x0 == 52 and x1 == 520 - 12 and y0 > y1  # larger value drawn higher
    bars = bar_plot({"a": 1.0, "b": 2.0, "nan": float("nan")})
    widths = [float(w) for w in re.findall(r'<rect x="[^"]+" y="[^"]+" width="([^"]+)"', bars)]
    assert len(widths) == 2 and abs(widths[1] / widths[0] - 2.0) < 1e-2


def test_report_cli_on_eval_json(tmp_path):
    res = {"fid": 30.0, "fid_real_floor": 2.0, "kid_mean": 0.01, "vendi": 3.5, "n_real": 100,
           "extractor": "mobilenet-v2", "provenance": {"vislang": "0.1"}}
    write_json(tmp_path / "fid.json", res)
    assert run_cli("report", str(tmp_path / "fid.json")) == 0
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "mobilenet-v2" in page and ">30<" in page and ">2<" in page and "Diversity" in page
    assert run_cli("report", str(tmp_path / "missing.json")) == 2
