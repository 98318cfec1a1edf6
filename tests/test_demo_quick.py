"""The quick demo end to end (one run, shared by the tests of this file), its resume and determinism."""

from __future__ import annotations

import json
import math

import pytest

from conftest import run_cli

KEYS = ("unconditional.fid", "unconditional.kid_mean", "conditional.fid", "captions.CIDEr-D",
        "consistency_captions.CLIP-S", "consistency_images.CLIP-S", "unconditional.vendi", "captions.distinct_1")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "run"
    assert run_cli("demo", "--quick", "--out", str(out), "--quiet") == 0
    return out


def test_demo_quick_results_and_report(quick_run):
    res = json.loads((quick_run / "results.json").read_text(encoding="utf-8"))
    for k in KEYS:
        assert isinstance(res[k], float) and math.isfinite(res[k]), k
    # floors and baselines beside the figures, and provenance naming the extractor
    assert res["unconditional.fid_real_floor"] < res["unconditional.fid_baseline"]
    assert res["captions.CIDEr-D_real_floor"] > res["captions.CIDEr-D_baseline"]
    assert res["captions.truth_share_real_floor"] == 1.0  # references describe their scenes exactly
    assert res["provenance"]["extractor"] == "mobilenet-v2" == res["unconditional.extractor"]
    page = (quick_run / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in page and "<script" not in page and "CIDEr-D" in page


def test_demo_quick_resume_skips_and_reevaluation_is_identical(quick_run):
    res1 = json.loads((quick_run / "results.json").read_text(encoding="utf-8"))
    marks = {p.name: p.read_text() for p in (quick_run / "stages").glob("*.json")}
    for stage in ("evaluate", "report"):
        (quick_run / "stages" / f"{stage}.json").unlink()
    assert run_cli("demo", "--quick", "--out", str(quick_run), "--quiet") == 0
    res2 = json.loads((quick_run / "results.json").read_text(encoding="utf-8"))
    for name, text in marks.items():  # finished stages were skipped: their markers are untouched
        if name not in ("evaluate.json", "report.json"):
            assert (quick_run / "stages" / name).read_text() == text
    num = {k: v for k, v in res1.items() if isinstance(v, float)}
    assert num and all(res2[k] == v for k, v in num.items())
    # a run folder made with other options is refused with a one-line error
    assert run_cli("demo", "--out", str(quick_run), "--quiet") == 2
