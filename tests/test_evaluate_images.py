"""evaluate_images and the 'vislang eval images' / 'vislang stats' commands, on a tiny deterministic
extractor (tests/metrics/image/image_oracles.py) so the whole pipeline runs in seconds: every figure
must equal the metric functions applied to the extractor's features directly."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent / "metrics" / "image"))
from image_oracles import register_tiny, tiny_extractor_class  # noqa: E402

from conftest import run_cli  # noqa: E402
from vislang.errors import InputError  # noqa: E402
from vislang.evaluate import evaluate_images  # noqa: E402
from vislang.metrics.image import (fid_from_features, inception_score, kid_from_features, msssim_diversity,  # noqa: E402
                                   prdc_from_features)
from vislang.metrics.image.sharding import halves  # noqa: E402
from vislang.metrics.vendi import vendi_from_features  # noqa: E402

OPTS = dict(kid_subset_size=20, kid_subsets=4, msssim_pairs=25)


@pytest.fixture(scope="module")
def sets():
    g = torch.Generator().manual_seed(0)
    real = torch.randint(0, 256, (64, 3, 32, 32), generator=g, dtype=torch.uint8)
    fake = (torch.randint(0, 256, (48, 3, 32, 32), generator=g, dtype=torch.uint8) // 2 + 40).to(torch.uint8)
    return real, fake


@pytest.fixture(scope="module")
def tiny():
    return tiny_extractor_class()()


def test_evaluate_equals_metrics_on_features(sets, tiny):
    real, fake = sets
    out = evaluate_images(real, fake, extractor=tiny, seed=3, **OPTS)
    fr = tiny(real).double().numpy()
    ff = tiny(fake).double().numpy()
    lg = tiny.logits(fake).double().numpy()
    assert out["fid"] == pytest.approx(fid_from_features(fr, ff), rel=1e-9)
    kid = kid_from_features(fr, ff, 20, 4, seed=3)
    assert (out["kid_mean"], out["kid_std"]) == pytest.approx((kid["kid_mean"], kid["kid_std"]), rel=1e-9)
    isc = inception_score(lg)
    assert (out["is_mean"], out["is_std"]) == pytest.approx((isc["is_mean"], isc["is_std"]), rel=1e-6)
    assert out["is_classifier"] == "IS-test_tiny"
    pr = prdc_from_features(fr, ff)
    assert {k: out[k] for k in pr} == pytest.approx(pr)
    assert out["vendi"] == pytest.approx(vendi_from_features(ff), rel=1e-6)
    assert out["msssim_diversity"] == pytest.approx(msssim_diversity(fake, 25, seed=3)["msssim_diversity"])
    # the real-vs-real floor: two seeded halves of the real set, sizes on both sides
    a, b = halves(64, 3)
    assert out["fid_real_floor"] == pytest.approx(fid_from_features(fr[a], fr[b]), rel=1e-9)
    assert out["n_real_floor_a"] == out["n_real_floor_b"] == 32
    assert out["precision_real_floor"] == pytest.approx(prdc_from_features(fr[a], fr[b])["precision"])
    assert (out["n_real"], out["n_fake"]) == (64, 48)
    for key in ("extractor", "weights_sha256", "resize", "seed", "vislang_version", "real_content_sha256"):
        assert key in out
    assert out["extractor"] == "test-tiny" and out["weights_sha256"] == "tiny-test-weights"
    # FID alone streams float64 sums (no rows held): same FID and floor as the rows path
    streamed = evaluate_images(real, fake, extractor=tiny, seed=3, metrics="fid", batch_size=7)
    assert streamed["fid"] == pytest.approx(out["fid"], rel=1e-9)
    # FID is a difference of traces: summation order moves it by ~1e-12 of tr(sigma), i.e. ~1e-8 of a small FID
    assert streamed["fid_real_floor"] == pytest.approx(out["fid_real_floor"], rel=1e-6)
    assert streamed["n_real_floor_a"] == 32
    # same seed -> same numbers; bootstrap intervals bracket the estimate for FID
    again = evaluate_images(real, fake, extractor=tiny, seed=3, metrics="fid", bootstrap=5, **OPTS)
    assert again["fid"] == out["fid"]
    assert again["fid_ci_low"] <= again["fid_ci_high"]


def test_stats_file_real_side_and_errors(sets, tiny, tmp_path):
    from vislang.evaluate import reference_stats
    from vislang.metrics.image import save_stats

    real, fake = sets
    ref = reference_stats(real, extractor=tiny, features=True)
    path = tmp_path / "ref.npz"
    save_stats(path, ref["mu"], ref["sigma"], ref["n"], ref["provenance"], ref["features"])
    direct = evaluate_images(real, fake, extractor=tiny, metrics="fid,kid", **OPTS)
    via = evaluate_images(str(path), fake, extractor=tiny, metrics="fid,kid", **OPTS)
    assert via["fid"] == pytest.approx(direct["fid"], rel=1e-9)
    assert via["kid_mean"] == pytest.approx(direct["kid_mean"], rel=1e-5)  # rows stored as float32
    assert via["n_real"] == 64 and "real_stats" in via
    # statistics without features: FID works, KID asks for --features
    save_stats(tmp_path / "mu_sigma.npz", ref["mu"], ref["sigma"], ref["n"], ref["provenance"])
    only = evaluate_images(str(tmp_path / "mu_sigma.npz"), fake, extractor=tiny, metrics="fid", **OPTS)
    assert only["fid"] == pytest.approx(direct["fid"], rel=1e-9)
    with pytest.raises(InputError, match="--features"):
        evaluate_images(str(tmp_path / "mu_sigma.npz"), fake, extractor=tiny, metrics="kid", **OPTS)
    # a stats file of another dimension
    save_stats(tmp_path / "d7.npz", np.zeros(7), np.eye(7), 10, {})
    with pytest.raises(InputError, match="7-d but extractor test-tiny gives 24-d"):
        evaluate_images(str(tmp_path / "d7.npz"), fake, extractor=tiny, metrics="fid")
    with pytest.raises(InputError, match="at least 2"):
        evaluate_images(real, fake[:1], extractor=tiny, metrics="fid")


def test_nan_features_are_refused(sets):
    class NaNTiny(tiny_extractor_class()):
        def embed(self, x):
            out = super().embed(x)
            out[0, 0] = float("nan")
            return out

    real, fake = sets
    with pytest.raises(InputError, match="NaN"):
        evaluate_images(real, fake, extractor=NaNTiny(), metrics="fid", cache=False)


def test_cli_stats_and_eval_images(sets, tmp_path, capsys):
    register_tiny()
    real, fake = sets
    np.save(tmp_path / "real.npy", real.numpy())
    np.save(tmp_path / "fake.npy", fake.numpy())
    assert run_cli("stats", tmp_path / "real.npy", "--out", tmp_path / "ref.npz", "--extractor", "test-tiny",
                   "--features", "--quiet") == 0
    out = tmp_path / "res.json"
    code = run_cli("eval", "images", "--real", tmp_path / "ref.npz", "--fake", tmp_path / "fake.npy",
                   "--extractor", "test-tiny", "--metrics", "fid,kid,vendi", "--kid-subset-size", "20",
                   "--kid-subsets", "3", "--out", out, "--seed", "1", "--quiet")
    assert code == 0
    res = json.loads(out.read_text())
    tiny = tiny_extractor_class()()
    assert res["fid"] == pytest.approx(fid_from_features(tiny(real).double().numpy(), tiny(fake).double().numpy()),
                                       rel=1e-9)
    assert {"kid_mean", "kid_std", "vendi", "fid_real_floor", "n_real", "n_fake", "seed"} <= set(res)
    printed = capsys.readouterr().out
    assert "fid" in printed and "real floor" in printed
    # bad input: one line, exit code 2
    assert run_cli("eval", "images", "--real", tmp_path / "ref.npz", "--fake", tmp_path / "fake.npy",
                   "--extractor", "test-tiny", "--metrics", "fid,bogus") == 2
    assert "unknown image metric" in capsys.readouterr().err
    assert run_cli("eval", "images", "--help") == 0


def test_is_falls_back_to_mobilenet_logits_and_is_named_after_it(sets):
    import vislang.features as F

    class NoLogits(tiny_extractor_class()):
        @property
        def has_logits(self):
            return False

    fake = sets[1][:10]
    out = evaluate_images(sets[0][:10], fake, extractor=NoLogits(), metrics="is", cache=False)
    assert out["is_classifier"] == "IS-mobilenet_v2"
    expected = inception_score(F.create("mobilenet-v2").logits(fake).double().numpy())
    assert out["is_mean"] == pytest.approx(expected["is_mean"], rel=1e-6)
