"""One entry point per evaluation, each returning a flat result dict that carries its own provenance.

* :func:`evaluate_images` -- perceptual quality and diversity of generated images against real ones
  (FID, KID, IS, precision/recall/density/coverage, Vendi, MS-SSIM diversity), with the
  real-vs-real floor beside every real-vs-fake figure and optional bootstrap intervals.
* :func:`image_metrics_from_features` -- the same figures from feature arrays already in hand.
* :func:`reference_stats` -- the reference statistics behind ``vislang stats``.

Under ``torchrun`` (``torch.distributed`` initialised) every process extracts the strided shard
``i % world_size == rank`` of each image set; FID's float64 sums are all-reduced, and the metrics
that need the samples (KID, IS, PRDC, Vendi) all-gather the rows back into the single-process
order, so every process returns the single-process result (FID to floating-point summation order).
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np
import torch

from vislang.errors import ConfigError, InputError
from vislang.metrics.base import provenance
from vislang.metrics.image import bootstrap as B
from vislang.metrics.image.fid import FeatureMoments, frechet_distance
from vislang.metrics.image.inception_score import inception_score, is_name
from vislang.metrics.image.kid import kid_from_features
from vislang.metrics.image.msssim import MSSSIMDiversity
from vislang.metrics.image.prdc import prdc_from_features
from vislang.metrics.image.sharding import all_reduce_moments, distributed, gather_strided, halves, stream_moments
from vislang.metrics.image.stats import ReferenceStats, is_stats_file, load_stats
from vislang.metrics.vendi import vendi_from_features

IMAGE_METRICS = ("fid", "kid", "is", "prdc", "vendi", "msssim")
#: Metrics comparing the fake set with the real one: these get a real-vs-real floor.
PAIRED = ("fid", "kid", "prdc")
#: Metrics that need feature rows of the real side (a stats file without features cannot serve them).
NEEDS_REAL_ROWS = ("kid", "prdc")


# ---------------------------------------------------------------------------------------- the figures
def _moments(rows: np.ndarray) -> FeatureMoments:
    m = FeatureMoments()
    m.update(rows)
    return m


def _fid_rows(real: np.ndarray | ReferenceStats, fake: np.ndarray) -> dict[str, float]:
    if isinstance(real, ReferenceStats):
        mu1, s1 = real.mu, real.sigma
    else:
        mu1, s1 = _moments(real).mean_cov()
    mu2, s2 = _moments(fake).mean_cov()
    return {"fid": frechet_distance(mu1, s1, mu2, s2)}


def _paired(name: str, real: Any, fake: np.ndarray, seed: int, opts: dict[str, Any]) -> dict[str, float]:
    if name == "fid":
        return _fid_rows(real, fake)
    if name == "kid":
        out = kid_from_features(real, fake, opts["kid_subset_size"], opts["kid_subsets"], seed)
        return {"kid_mean": out["kid_mean"], "kid_std": out["kid_std"]}
    if name == "prdc":
        return prdc_from_features(real, fake, opts["k_pr"], opts["k_dc"], opts["device"])
    raise ConfigError(f"unknown paired metric {name!r}")


def image_metrics_from_features(real: np.ndarray | ReferenceStats | None, fake: np.ndarray,
                                metrics: Sequence[str] = IMAGE_METRICS, fake_logits: np.ndarray | None = None,
                                is_classifier: str = "inception-tf", seed: int = 0, bootstrap: int = 0,
                                real_vs_real: bool = True, real_moments: FeatureMoments | None = None,
                                fake_moments: FeatureMoments | None = None, **options: Any) -> dict[str, Any]:
    """Every requested feature-based figure (all but MS-SSIM) from real rows (or stats) and fake rows.

    ``real_moments``/``fake_moments``: FID's streamed sums when already accumulated (the distributed
    path); otherwise FID is computed from the rows.  Options: ``kid_subset_size`` (1000),
    ``kid_subsets`` (100), ``k_pr`` (3), ``k_dc`` (5), ``is_splits`` (10), ``device``, ``alpha`` (0.05).
    """
    opts = {"kid_subset_size": 1000, "kid_subsets": 100, "k_pr": 3, "k_dc": 5, "is_splits": 10, "device": None,
            "alpha": 0.05}
    unknown = set(options) - set(opts)
    if unknown:
        raise ConfigError(f"unknown image-metric options: {', '.join(sorted(unknown))}")
    opts.update(options)
    stats = real if isinstance(real, ReferenceStats) else None
    real_rows = stats.features if stats is not None else real
    out: dict[str, Any] = {}
    for name in metrics:
        if name in ("msssim",):
            continue
        if name == "fid":
            if fake_moments is not None and (stats is not None or real_moments is not None):
                mu1, s1 = (stats.mu, stats.sigma) if stats is not None else real_moments.mean_cov()
                mu2, s2 = fake_moments.mean_cov()
                if mu1.shape != mu2.shape:
                    raise InputError(f"FID: real statistics are {mu1.shape[0]}-d, fake features {mu2.shape[0]}-d")
                out["fid"] = frechet_distance(mu1, s1, mu2, s2)
            else:
                out.update(_fid_rows(stats if stats is not None else real_rows, fake))
        elif name in ("kid", "prdc"):
            if real_rows is None:
                raise InputError(f"{name}: the real side is a statistics file without features; recreate it with "
                                 "'vislang stats SOURCE --out FILE --features' or pass the real images")
            out.update(_paired(name, real_rows, fake, seed, opts))
        elif name == "is":
            if fake_logits is None:
                raise ConfigError("IS needs classifier logits of the fake images")
            out.update(inception_score(fake_logits, opts["is_splits"]))
            out["is_classifier"] = is_name(is_classifier)
        elif name == "vendi":
            out["vendi"] = vendi_from_features(fake)
        else:
            raise ConfigError(f"unknown image metric {name!r}; choose from {', '.join(IMAGE_METRICS)}")

    if real_vs_real and real_rows is not None and any(m in PAIRED for m in metrics):
        a, b = halves(len(real_rows), seed)
        if len(a) >= 2:
            for name in (m for m in metrics if m in PAIRED):
                for k, v in _paired(name, real_rows[a], real_rows[b], seed, opts).items():
                    out[f"{k}_real_floor"] = v
            out["n_real_floor_a"], out["n_real_floor_b"] = int(len(a)), int(len(b))

    if bootstrap:
        fixed_real = stats if stats is not None and stats.features is None else None
        for name in metrics:
            if name in PAIRED and (real_rows is not None or name == "fid"):
                if fixed_real is not None:
                    fn = (lambda f, _n=name: _paired(_n, fixed_real, f, seed, opts))
                    out.update(B.bootstrap_ci(fn, [fake], bootstrap, seed, opts["alpha"]))
                else:
                    fn = (lambda r, f, _n=name: _paired(_n, r, f, seed, opts))
                    out.update(B.bootstrap_ci(fn, [real_rows, fake], bootstrap, seed, opts["alpha"]))
            elif name == "is":
                out.update(B.bootstrap_ci(lambda lg: inception_score(lg, opts["is_splits"]), [fake_logits],
                                          bootstrap, seed, opts["alpha"], keys=["is_mean"]))
            elif name == "vendi":
                out.update(B.bootstrap_ci(lambda f: {"vendi": vendi_from_features(f)}, [fake], bootstrap, seed,
                                          opts["alpha"]))
    return out


# ------------------------------------------------------------------------------------------ the sources
def _parse_metrics(metrics: Sequence[str] | str) -> list[str]:
    if isinstance(metrics, str):
        metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    names = []
    for m in metrics:
        m = m.lower()
        if m not in IMAGE_METRICS:
            raise ConfigError(f"unknown image metric {m!r}; choose from {', '.join(IMAGE_METRICS)}")
        if m not in names:
            names.append(m)
    if not names:
        raise ConfigError(f"no metrics requested; choose from {', '.join(IMAGE_METRICS)}")
    return names


def _device(device: str | None) -> str:
    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def _make_extractor(extractor: Any, resize: str | None, device: Any, batch_size: int):
    import vislang.features as F

    if isinstance(extractor, str):
        return F.create(extractor, resize=resize, device=_device(device), batch_size=batch_size)
    if resize is not None and resize != extractor.resize:
        raise ConfigError(f"resize={resize!r} given with a ready extractor whose resize is {extractor.resize!r}")
    return extractor


def _side_rows(ext, src, rank: int, world: int, want_logits: bool = False, cache: bool = True):
    """This process's shard of features (and logits), its FID moments, and the full rows when gathered."""
    import vislang.features as F

    got = F.extract(ext, src, rank=rank, world_size=world, want_logits=want_logits, cache=cache)
    feats, logits = got if want_logits else (got, None)
    return feats, logits


def _evaluate_from_rows(ext, clf, names, stats, real_src, fake_src, n_real, n_fake, rank, world, seed, bootstrap,
                        real_vs_real, device, cache, options) -> dict[str, Any]:
    """Every feature metric from extracted rows: cached, sharded, FID sums all-reduced, rows gathered into the
    single-process order."""
    fake_local, fake_logits_local = _side_rows(ext, fake_src, rank, world, want_logits=clf is ext, cache=cache)
    if clf is not None and clf is not ext:
        fake_logits_local = _side_rows(clf, fake_src, rank, world, want_logits=True, cache=cache)[1]
    fake_mom = all_reduce_moments(_moments(fake_local), world)
    real_rows = real_mom = None
    if real_src is not None:
        real_local, _ = _side_rows(ext, real_src, rank, world, cache=cache)
        real_mom = all_reduce_moments(_moments(real_local), world)
        real_rows = gather_strided(real_local, n_real, world)
    fake_rows = gather_strided(fake_local, n_fake, world)
    fake_logits = gather_strided(fake_logits_local, n_fake, world) if fake_logits_local is not None else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the < 2048 warning is raised once by the caller
        return image_metrics_from_features(
            stats if stats is not None else real_rows, fake_rows, names, fake_logits,
            is_classifier=clf.name if clf is not None else "", seed=seed, bootstrap=bootstrap,
            real_vs_real=real_vs_real, real_moments=real_mom, fake_moments=fake_mom, device=device, **options)


def _evaluate_fid_streaming(ext, stats: ReferenceStats | None, real_src, fake_src, n_real: int, n_fake: int,
                            rank: int, world: int, batch_size: int, seed: int, real_vs_real: bool) -> dict[str, Any]:
    """FID (and its floor from the halves' sums) without holding feature rows: the FID-only path."""
    fake_mom = stream_moments(ext, fake_src, rank, world, batch_size, n_fake)[0]
    out: dict[str, Any] = {}
    ha = hb = None
    if stats is not None:
        mu1, s1 = stats.mu, stats.sigma
    else:
        real_mom, ha, hb = stream_moments(ext, real_src, rank, world, batch_size, n_real,
                                           seed if real_vs_real and n_real >= 4 else None)
        mu1, s1 = real_mom.mean_cov()
    mu2, s2 = fake_mom.mean_cov()
    out["fid"] = frechet_distance(mu1, s1, mu2, s2)
    if ha is not None:
        (ma, sa), (mb, sb) = ha.mean_cov(), hb.mean_cov()
        out["fid_real_floor"] = frechet_distance(ma, sa, mb, sb)
        out["n_real_floor_a"], out["n_real_floor_b"] = ha.n, hb.n
    return out


def _count(src: Any, what: str) -> int:
    n = len(src)
    if n < 2:
        raise InputError(f"{what}: {n} image(s); image metrics need at least 2 on each side")
    return n


def evaluate_images(real: Any, fake: Any, extractor: Any = "inception-tf", resize: str | None = None,
                    metrics: Sequence[str] | str = IMAGE_METRICS, seed: int = 0, bootstrap: int = 0,
                    device: str | None = None, batch_size: int = 32, real_vs_real: bool = True, *,
                    is_classifier: str | None = None, msssim_pairs: int = 1000, cache: bool = True,
                    **options: Any) -> dict[str, Any]:
    """Evaluate ``fake`` images against ``real`` ones; see the module docstring and docs/image_metrics.md.

    ``real``: an image source (folder, zip, npz/npy of images, uint8 tensor, ImageSource) or a statistics
    file (``vislang stats``; clean-fid's ``mu``/``sigma`` .npz too).  ``fake``: an image source.
    ``extractor``: a registry name (``inception-tf``, ``mobilenet-v2``) or a ready extractor object.
    ``is_classifier``: which classifier's logits feed IS; default the extractor when it has logits,
    else ``mobilenet-v2`` (reported as ``IS-mobilenet_v2``).  Returns a flat dict of figures,
    sample counts and provenance.
    """
    import vislang.features as F

    names = _parse_metrics(metrics)
    if bootstrap < 0:
        raise ConfigError(f"bootstrap must be >= 0, got {bootstrap}")
    rank, world = distributed()
    ext = _make_extractor(extractor, resize, device, batch_size)

    # real side: statistics file or images
    stats: ReferenceStats | None = None
    if is_stats_file(real):
        stats = load_stats(real)
        stats.check_dim(ext.dim, ext.name)
        stats.check_recipe(ext.name, ext.resize, ext.weights_sha256)
        missing = [m for m in names if m in NEEDS_REAL_ROWS] if stats.features is None else []
        if missing:
            raise InputError(f"{real}: statistics hold no features, which {', '.join(missing)} need; recreate them "
                             "with 'vislang stats SOURCE --out FILE --features', pass the real images, or drop "
                             f"{', '.join(missing)} from --metrics")
        real_src, n_real = None, (stats.n if stats.n is not None else 0)
        real_prov: dict[str, Any] = {"real_stats": str(real), "real_stats_provenance": stats.provenance}
    else:
        real_src = F.as_source(real)
        n_real = _count(real_src, "real")
        real_prov = {"real_source": getattr(real_src, "label", type(real).__name__),
                     "real_content_sha256": real_src.content_hash()}
    fake_src = F.as_source(fake)
    n_fake = _count(fake_src, "fake")

    # IS classifier
    clf = None
    if "is" in names:
        if is_classifier is None or is_classifier == ext.name:
            if ext.has_logits:
                clf = ext
            else:
                from vislang.progress import info

                info(f"IS: {ext.name}'s weights have no classifier logits; using mobilenet-v2's logits, reported as "
                     "IS-mobilenet_v2 (not comparable with published Inception Scores)")
                clf = F.create("mobilenet-v2", device=_device(device), batch_size=batch_size)
        else:
            clf = F.create(is_classifier, device=_device(device), batch_size=batch_size)
        if not clf.has_logits:
            raise ConfigError(f"IS: extractor {clf.name} has no classifier logits; pass is_classifier=mobilenet-v2")

    if names == ["fid"] and bootstrap == 0:  # FID alone: stream the sums, hold no rows (memory O(d^2))
        figures = _evaluate_fid_streaming(ext, stats, real_src, fake_src, n_real, n_fake, rank, world, batch_size,
                                          seed, real_vs_real)
    else:
        figures = _evaluate_from_rows(ext, clf, names, stats, real_src, fake_src, n_real, n_fake, rank, world, seed,
                                      bootstrap, real_vs_real, device, cache, options)
    if "fid" in names and ext.dim >= 2048 and min(n_real or 2048, n_fake) < 2048:
        warnings.warn(f"FID with {min(n_real or 2048, n_fake)} images and {ext.dim}-d features is strongly biased; "
                      "use >= 10,000 images to compare models", RuntimeWarning, stacklevel=2)

    if "msssim" in names:
        ms = MSSSIMDiversity(n_fake, msssim_pairs, seed)
        start = 0
        for batch in fake_src.iter_batches(max(1, batch_size)):
            ms.update(batch, np.arange(start, start + len(batch)))
            start += len(batch)
        figures.update(ms.compute())
        if bootstrap:
            vals = ms.values
            figures.update(B.bootstrap_ci(lambda v: {"msssim_diversity": float(np.mean(v))}, [vals], bootstrap,
                                          seed, options.get("alpha", 0.05)))

    result: dict[str, Any] = {}
    order = ["fid", "fid_real_floor", "kid_mean", "kid_std", "kid_mean_real_floor", "kid_std_real_floor", "is_mean",
             "is_std", "is_classifier", "precision", "recall", "density", "coverage", "precision_real_floor",
             "recall_real_floor", "density_real_floor", "coverage_real_floor", "vendi", "msssim_diversity"]
    for k in order:
        if k in figures:
            result[k] = figures.pop(k)
    result.update(figures)
    result["n_real"] = int(n_real) if n_real else None
    result["n_fake"] = int(n_fake)
    ext_prov = ext.provenance()
    result.update(provenance(
        metrics=names, extractor=ext.name, extractor_dim=ext.dim, resize=ext.resize,
        weights_sha256=ext.weights_sha256, weights_source=ext_prov.get("weights_source"),
        is_classifier_weights_sha256=(clf.weights_sha256 if clf is not None else None),
        seed=seed, bootstrap=bootstrap, kid_subset_size=options.get("kid_subset_size", 1000),
        kid_subsets=options.get("kid_subsets", 100), msssim_pairs=msssim_pairs if "msssim" in names else None,
        world_size=world, fake_source=getattr(fake_src, "label", type(fake).__name__),
        fake_content_sha256=fake_src.content_hash(), **real_prov))
    return result


def reference_stats(source: Any, extractor: Any = "inception-tf", resize: str | None = None,
                    device: str | None = None, batch_size: int = 32, features: bool = False,
                    cache: bool = True) -> dict[str, Any]:
    """mu, sigma, n (and the rows when ``features``) of ``source``'s features, plus provenance."""
    import vislang.features as F

    rank, world = distributed()
    ext = _make_extractor(extractor, resize, device, batch_size)
    src = F.as_source(source)
    n = _count(src, "source")
    if features:  # rows wanted: extract through the feature cache and gather them
        local, _ = _side_rows(ext, src, rank, world, cache=cache)
        mom = all_reduce_moments(_moments(local), world)
        rows = gather_strided(local, n, world)
    else:  # sums only: stream, memory O(d^2)
        mom, rows = stream_moments(ext, src, rank, world, batch_size, n)[0], None
    mu, sigma = mom.mean_cov()
    prov = provenance(extractor=ext.name, dim=ext.dim, resize=ext.resize, weights_sha256=ext.weights_sha256,
                      weights_source=ext.provenance().get("weights_source"), n=n,
                      source=getattr(src, "label", type(source).__name__), content_sha256=src.content_hash())
    return {"mu": mu, "sigma": sigma, "n": n, "features": rows, "provenance": prov}
