"""Reference statistics files (vislang's and clean-fid's layouts), the Vendi metric wrapper and the
seeded bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from vislang.errors import ConfigError, InputError
from vislang.metrics.image import VendiImage, bootstrap_ci, is_stats_file, load_stats, save_stats
from vislang.metrics.vendi import vendi_from_similarity


def test_stats_round_trip_and_clean_fid_layout(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 6))
    mu, sigma = x.mean(0), np.cov(x, rowvar=False)
    path = tmp_path / "ref.npz"
    save_stats(path, mu, sigma, 50, {"extractor": "inception-tf", "resize": "clean"}, features=x)
    assert is_stats_file(path)
    st = load_stats(path)
    np.testing.assert_array_equal(st.mu, mu)
    np.testing.assert_array_equal(st.sigma, sigma)
    assert st.n == 50 and st.provenance["resize"] == "clean"
    np.testing.assert_allclose(st.features, x.astype(np.float32))
    # clean-fid writes np.savez(path, mu=mu, sigma=sigma)
    cf = tmp_path / "cleanfid_stats.npz"
    np.savez(cf, mu=mu.astype(np.float32), sigma=sigma)
    st2 = load_stats(cf)
    assert st2.n is None and st2.features is None and st2.dim == 6
    np.testing.assert_allclose(st2.mu, mu.astype(np.float32))
    # an image npz is not a stats file
    np.savez(tmp_path / "images.npz", x=np.zeros((2, 8, 8, 3), np.uint8))
    assert not is_stats_file(tmp_path / "images.npz")


def test_stats_errors(tmp_path):
    rng = np.random.default_rng(1)
    mu, sigma = rng.normal(size=4), np.eye(4)
    p = tmp_path / "s.npz"
    save_stats(p, mu, sigma, 10, {"extractor": "inception-tf", "resize": "clean", "weights_sha256": "aa"})
    st = load_stats(p)
    with pytest.raises(InputError, match="4-d but extractor mobilenet-v2 gives 1280-d"):
        st.check_dim(1280, "mobilenet-v2")
    with pytest.raises(InputError, match="resize=clean"):
        st.check_recipe("inception-tf", "tf1-bilinear", "aa")
    st.check_recipe("inception-tf", "clean", "aa")
    np.savez(tmp_path / "bad.npz", mu=mu, sigma=np.eye(3))
    with pytest.raises(InputError, match="sigma has shape"):
        load_stats(tmp_path / "bad.npz")
    np.savez(tmp_path / "nan.npz", mu=np.full(4, np.nan), sigma=sigma)
    with pytest.raises(InputError, match="NaN"):
        load_stats(tmp_path / "nan.npz")
    np.savez(tmp_path / "other.npz", a=mu)
    with pytest.raises(InputError, match="not a statistics file"):
        load_stats(tmp_path / "other.npz")
    with pytest.raises(InputError, match="no such"):
        load_stats(tmp_path / "missing.npz")


def test_vendi_metric_equals_similarity_route():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(40, 5))
    m, m2 = VendiImage(), VendiImage()
    m.update(x[20:], index=np.arange(20, 40))
    m2.update(x[:20], index=np.arange(20))
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    assert m.merge(m2).compute()["vendi"] == pytest.approx(vendi_from_similarity(xn @ xn.T), rel=1e-10)


def test_bootstrap_is_seeded_and_matches_hand_computed_percentiles():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 1))
    out = bootstrap_ci(lambda a: {"m": float(a.mean())}, [x], n_boot=50, seed=9)
    assert out == bootstrap_ci(lambda a: {"m": float(a.mean())}, [x], n_boot=50, seed=9)
    # the same replicates by hand
    g = np.random.default_rng(9)
    reps = np.array([x[g.integers(0, 200, 200)].mean() for _ in range(50)])
    assert out["m_ci_low"] == pytest.approx(np.percentile(reps, 2.5))
    assert out["m_ci_high"] == pytest.approx(np.percentile(reps, 97.5))
    assert out["m_boot_std"] == pytest.approx(reps.std(ddof=1))
    # the standard error of a mean of 200 N(0, 1) draws is about 0.07
    assert 0.04 < out["m_boot_std"] < 0.1
    with pytest.raises(ConfigError):
        bootstrap_ci(lambda a: {"m": 0.0}, [x], n_boot=1)
