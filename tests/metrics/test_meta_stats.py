"""Meta-evaluation statistics against scipy.stats and Krippendorff's published example."""

import json

import numpy as np
import pytest
import scipy.stats as st

from conftest import run_cli
from vislang.errors import InputError
from vislang.metrics import meta


def _data():
    rng = np.random.default_rng(7)
    x = rng.normal(size=2000)
    x[:150] = 0.25  # ties in the metric
    human = rng.integers(1, 5, size=2000).astype(float)  # few levels, many ties
    cont = np.round(x + rng.normal(size=2000), 2)  # many levels on both sides (Fenwick path)
    return x, human, cont


@pytest.mark.parametrize("pair", ["levels", "fenwick", "reversed"])
def test_correlations_match_scipy(pair):
    x, human, cont = _data()
    a, b = {"levels": (x, human), "fenwick": (x, cont), "reversed": (human, -x)}[pair]
    assert meta.kendall_tau(a, b, "b") == pytest.approx(st.kendalltau(a, b).statistic, abs=1e-12)
    assert meta.kendall_tau(a, b, "c") == pytest.approx(st.kendalltau(a, b, variant="c").statistic, abs=1e-12)
    assert meta.spearman(a, b) == pytest.approx(st.spearmanr(a, b).statistic, abs=1e-12)
    assert meta.pearson(a, b) == pytest.approx(st.pearsonr(a, b).statistic, abs=1e-12)


def test_pairwise_accuracy_brute_force():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 6, size=60).astype(float)
    y = rng.integers(1, 4, size=60).astype(float)
    ordered = agree = 0
    for i in range(60):
        for j in range(i + 1, 60):
            if y[i] != y[j]:
                ordered += 1
                agree += (x[i] - x[j]) * (y[i] - y[j]) > 0
    assert meta.pairwise_accuracy(x, y) == pytest.approx(agree / ordered)


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    x, human, _ = _data()
    y = human + x  # correlated
    f = meta.STATISTICS["spearman"]
    a = meta.bootstrap_ci(f, x, y, n_boot=200, seed=1)
    assert a == meta.bootstrap_ci(f, x, y, n_boot=200, seed=1)
    assert a != meta.bootstrap_ci(f, x, y, n_boot=200, seed=2)
    # scipy's percentile bootstrap on the same problem lands within sampling error of ours
    ref = st.bootstrap((x, y), lambda a_, b_: st.spearmanr(a_, b_).statistic, paired=True, vectorized=False,
                       n_resamples=200, method="percentile", random_state=0).confidence_interval
    assert a[0] == pytest.approx(ref.low, abs=0.02) and a[1] == pytest.approx(ref.high, abs=0.02)
    assert a[0] < f(x, y) < a[1]


def test_krippendorff_alpha_textbook_example():
    # Krippendorff (2011) "Computing Krippendorff's Alpha-Reliability", worked example: 4 observers x 12 units
    # with missing values; published alpha: nominal .743, ordinal .815, interval .849, ratio .797.
    n = None
    data = [[1, 2, 3, 3, 2, 1, 4, 1, 2, n, n, n],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, n, 3],
            [n, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, n],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, n]]
    expected = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}
    for level, value in expected.items():
        assert meta.krippendorff_alpha(data, level) == pytest.approx(value, abs=5e-4), level


def test_bad_input_is_a_one_line_error():
    with pytest.raises(InputError):
        meta.kendall_tau([1, 2, 3], [1, 2])
    with pytest.raises(InputError):
        meta.pearson([1.0, float("nan")], [1, 2])


def test_cli_meta_eval_files(tmp_path, capsys):
    rng = np.random.default_rng(0)
    items = [f"i{k}" for k in range(40)]
    truth = rng.normal(size=40)
    scores = {"good": {i: float(t + 0.1 * rng.normal()) for i, t in zip(items, truth)},
              "noise": {i: float(rng.normal()) for i in items}}
    (tmp_path / "scores.json").write_text(json.dumps(scores))
    rows = ["rater,item_id,value,is_check"]
    for r in ("a", "b", "c"):
        rows += [f"{r},{i},{int(np.clip(round(2.5 + t + 0.3 * rng.normal()), 1, 4))},0" for i, t in zip(items, truth)]
    rows.append("a,check1,4,1")
    (tmp_path / "ratings.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "res.json"
    assert run_cli("meta-eval", "--metric-scores", tmp_path / "scores.json", "--human", tmp_path / "ratings.csv",
                   "--n-boot", "50", "--out", out) == 0
    res = json.loads(out.read_text())
    human = {i: np.mean([float(ln.split(",")[2]) for ln in rows[1:] if ln.split(",")[1] == i]) for i in items}
    x = [scores["good"][i] for i in items]
    y = [human[i] for i in items]
    assert res["metrics"]["good"]["kendall_tau_b"]["value"] == pytest.approx(st.kendalltau(x, y).statistic)
    assert res["metrics"]["good"]["n_items"] == 40
    assert res["metrics"]["good"]["spearman"]["value"] > res["metrics"]["noise"]["spearman"]["value"]
    assert 0 < res["krippendorff_alpha"]["interval"] <= 1
    assert run_cli("meta-eval", "--metric-scores", tmp_path / "scores.json") == 2


def test_crowdflower_and_expert_readers(flickr8k_dir):
    from vislang.metrics.meta_readers import read_crowdflower, read_flickr8k_expert

    cf = read_crowdflower(flickr8k_dir / "CrowdFlowerAnnotations.txt")
    lines = [ln.split("\t") for ln in (flickr8k_dir / "CrowdFlowerAnnotations.txt").read_text().splitlines() if ln]
    assert len(cf) == len({(f[0], f[1]) for f in lines})
    # the file's first row: 3 yes, 0 no
    assert cf["1056338697_4f7d7ce270.jpg|1056338697_4f7d7ce270.jpg#2"] == [1.0]
    ex = read_flickr8k_expert(flickr8k_dir / "ExpertAnnotations.txt")
    assert len(ex) == 5822 and ex["1056338697_4f7d7ce270.jpg|2718495608_d8533e3ac5.jpg#2"] == [1.0, 1.0, 2.0]
