"""The Flickr8k-Expert table against the published figures of Hessel et al. (2021), Table 1."""

import pytest

from conftest import run_cli
from vislang.metrics.meta_readers import PUBLISHED_FLICKR8K_EXPERT, flickr8k_expert_pairs, flickr8k_expert_table


@pytest.fixture(scope="session")
def rows(flickr8k_dir):
    return flickr8k_expert_table(flickr8k_dir)


@pytest.fixture(scope="session")
def table(rows):
    return {r["metric"]: r["vislang"] for r in rows}


def test_protocol_pairs(flickr8k_dir):
    refs, cands, human = flickr8k_expert_pairs(flickr8k_dir)
    # 5,822 rated pairs; the 158 whose candidate is one of the image's own captions are left out
    assert len(refs) == 5664
    assert all(len(r) == 5 for r in refs.values()) and all(len(v) == 3 for v in human.values())
    assert all(k.split("|")[1].split("#")[0] != k.split("|")[0] for k in refs)


@pytest.mark.parametrize("metric", sorted(PUBLISHED_FLICKR8K_EXPERT))
def test_reproduces_published_tau_c(table, metric):
    assert table[metric] == pytest.approx(PUBLISHED_FLICKR8K_EXPERT[metric], abs=0.2)


def test_cli_prints_table(flickr8k_dir, rows, tmp_path, capsys, monkeypatch):
    import vislang.metrics.meta_readers as mr

    monkeypatch.setattr(mr, "flickr8k_expert_table", lambda data: rows)  # scored once, by the fixture
    assert run_cli("meta-eval", "flickr8k-expert", "--data", flickr8k_dir) == 0
    out = capsys.readouterr().out
    assert "CIDEr" in out and "43.9" in out
    monkeypatch.undo()
    assert run_cli("meta-eval", "flickr8k-expert", "--data", tmp_path) == 2
