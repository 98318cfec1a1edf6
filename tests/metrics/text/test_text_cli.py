"""``vislang eval captions`` and the API surface of score_captions."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli

from vislang.errors import ConfigError
from vislang.metrics.text import score_captions
from vislang.metrics.text.bleu import bleu_scores
from vislang.metrics.text.cider import cider_scores
from vislang.metrics.text.rouge import rouge_l_scores
from vislang.metrics.text.tokenizer import ptb_tokenize

REFS = {"1.jpg": ["A dog runs on the grass.", "A brown dog is running."],
        "2.jpg": ["Two men talk outside.", "Men are talking."],
        "3.jpg": ["A red car parked.", "The car is red."]}
CANDS = {"1.jpg": "a dog running on grass", "2.jpg": "two men talking", "3.jpg": "a red car"}


def expected_scores():
    ids = list(REFS)
    refs_tok = [ptb_tokenize(REFS[i]) for i in ids]
    cands_tok = ptb_tokenize([CANDS[i] for i in ids])
    b, _ = bleu_scores(refs_tok, cands_tok)
    r, _ = rouge_l_scores(refs_tok, cands_tok)
    c, _ = cider_scores(refs_tok, cands_tok)
    return {"Bleu_1": b[0], "Bleu_4": b[3], "ROUGE_L": r, "CIDEr": c}


def write_inputs(tmp_path):
    refs = tmp_path / "refs.token.txt"
    refs.write_text("".join(f"{i}#{k}\t{c}\n" for i, caps in REFS.items() for k, c in enumerate(caps)),
                    encoding="utf-8")
    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps([{"image_id": i, "caption": c} for i, c in CANDS.items()]), encoding="utf-8")
    return refs, preds


def test_cli_writes_scores_and_per_item(tmp_path, capsys):
    refs, preds = write_inputs(tmp_path)
    out, per = tmp_path / "scores.json", tmp_path / "per.json"
    code = run_cli("eval", "captions", "--refs", refs, "--preds", preds, "--metrics", "bleu,rouge_l,cider_d,diversity",
                   "--out", out, "--per-item", per, "--train-captions", refs, "--quiet")
    assert code == 0
    table = capsys.readouterr().out
    assert "CIDEr" in table and "Bleu_4" in table and "distinct_1" in table
    result = json.loads(out.read_text())
    for k, v in expected_scores().items():
        assert result[k] == pytest.approx(v, abs=1e-12)
    assert result["novelty"] == 1.0  # no candidate is a training caption
    prov = result["provenance"]
    assert prov["refs"] == str(refs) and len(prov["preds_sha256"]) == 64 and "vislang_version" in prov
    per_item = json.loads(per.read_text())["per_item"]
    assert set(per_item["CIDEr"]) == set(REFS)


def test_cli_bad_input_one_line_error(tmp_path, capsys):
    refs, preds = write_inputs(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"image_id": "1.jpg", "caption": "a dog"},
                               {"image_id": "9.jpg", "caption": "x"}]), encoding="utf-8")
    assert run_cli("eval", "captions", "--refs", refs, "--preds", bad) == 2
    err = capsys.readouterr().err
    assert "9.jpg" in err and err.count("\n") == 1
    assert run_cli("eval", "captions", "--refs", refs, "--preds", preds, "--metrics", "bleu,spice") == 2
    assert "unknown caption metric" in capsys.readouterr().err
    assert run_cli("eval", "captions", "--refs", refs, "--preds", preds, "--metrics", "meteor", "--workers", "0") == 2
    err = capsys.readouterr().err
    assert "--workers 0" in err and err.count("\n") == 1
    assert run_cli("eval", "captions", "--help") == 0


def test_score_captions_api_shape():
    out = score_captions(REFS, CANDS, metrics=["bleu", "cider"], per_item=True)
    assert [k for k in out if k.startswith(("Bleu", "CIDEr"))] == ["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "CIDEr"]
    assert "ROUGE_L" not in out and out["provenance"]["metrics"] == ["bleu", "cider_d"]
    assert set(out["per_item"]["CIDEr"]) == set(REFS)
    assert out["CIDEr"] == pytest.approx(expected_scores()["CIDEr"], abs=1e-12)
    with pytest.raises(ConfigError):
        score_captions(REFS, CANDS, metrics=["spice"])
