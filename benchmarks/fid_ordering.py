"""Ordering sanity of FID on Fashion-MNIST and on the built-in scenes:

    FID(real A, real B) < FID(real A, lightly noised B) < FID(real A, heavily noised B)
                        < FID(real A, one image of B repeated)

    python benchmarks/fid_ordering.py [--n 1024] [--extractor inception-tf] [--resize clean] [--threads 1]

The protocol, the same for both datasets:

* A and B are disjoint real sets of n images (n a multiple of 256), taken in chunks of 256: chunk k of
  A is images 512k .. 512k+255 of the dataset's order, chunk k of B the next 256 (Fashion-MNIST: the
  test set in a seed-0 permutation; scenes: ``generate(..., size=64, seed=0, split="train")``).
  Features are extracted and cached per chunk (``$VISLANG_HOME/features``), so a larger n reuses the
  chunks of a smaller run, and an interrupted run resumes.
* Light noise: Gaussian, standard deviation 8 grey levels; heavy noise: standard deviation 16 grey
  levels; added to B, rounded, clipped to 0..255 (seeded per level and chunk).
* One repeated image: n copies of one image x of B.  The copies have zero covariance, so
  FID(A, n copies of x) = |mu_A - f(x)|^2 + tr(Sigma_A) exactly; it is computed for every x in B (and
  checked against ``frechet_distance`` for the first).  The checked value is the **median over B** (a
  typical one-image collapse, independent of which image happens to come first); the minimum (the image
  most typical of A: the hardest case) and the first image are printed beside it.

With n < 2048 the 2048-d covariances are rank deficient and every FID that involves two sample
covariances carries a positive bias that shrinks as n grows; the repeated-image FID has no such bias
(tr(Sigma_A) is unbiased), so a larger n widens the margin of the last comparison.  Each comparison's
margin (ratio of consecutive values) is printed.  Inception on one CPU thread runs at a few images/s:
n = 1024 is 4,096 images per dataset.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

import vislang.features as F
from vislang.metrics.image import fid_from_features, frechet_distance, kid_from_features

CHUNK = 256
LIGHT, HEAVY = 8.0, 16.0
#: Noise seeds per level (chunk k adds 10 k); the sd 8 / 16 / 32 / 64 seeds of the earlier n = 256 runs.
LEVEL_SEEDS = {8.0: 1, 16.0: 4, 32.0: 2, 64.0: 3}


def noised(images: torch.Tensor, sigma: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(images.shape, generator=g) * sigma
    return (images.float() + noise).round().clamp(0, 255).to(torch.uint8)


def dataset_images(which: str, n_chunks: int) -> torch.Tensor:
    """The first 2 * CHUNK * n_chunks images of the dataset's order (uint8 N x 3 x H x W)."""
    m = 2 * CHUNK * n_chunks
    if which == "fashion-mnist":
        from vislang.data.mnist import load_fashion_mnist

        x = load_fashion_mnist("test")[0]
        x = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x))
        perm = torch.from_numpy(np.random.default_rng(0).permutation(len(x))[:m])
        return x[perm]
    from vislang.data.scenes import generate

    return generate(m, size=64, seed=0, split="train").images


NAMES = {"fashion-mnist": "Fashion-MNIST (test, 28 px)", "scenes": "built-in scenes (64 px, seed 0)"}


def features(ext, which: str, n_chunks: int, levels: list[float]) -> dict[str, np.ndarray]:
    x = dataset_images(which, n_chunks)
    parts: dict[str, list[np.ndarray]] = {"A": [], "B": [], **{f"sd{s:g}": [] for s in levels}}
    for k in range(n_chunks):
        t = time.perf_counter()
        a = x[2 * CHUNK * k: 2 * CHUNK * k + CHUNK]
        b = x[2 * CHUNK * k + CHUNK: 2 * CHUNK * (k + 1)]
        parts["A"].append(F.extract(ext, a))
        parts["B"].append(F.extract(ext, b))
        for s in levels:
            parts[f"sd{s:g}"].append(F.extract(ext, noised(b, s, LEVEL_SEEDS.get(s, int(s)) + 10 * k)))
        print(f"  {which} chunk {k + 1}/{n_chunks}: {time.perf_counter() - t:.0f} s "
              f"(load {os.getloadavg()[0]:.1f})", flush=True)
    return {k: np.concatenate(v) for k, v in parts.items()}


def repeated_fids(fa: np.ndarray, fb: np.ndarray) -> np.ndarray:
    """FID(A, n copies of x) for every row x of fb: |mu_A - x|^2 + tr(Sigma_A) (zero covariance)."""
    mu = fa.mean(0)
    tr = float(np.trace(np.cov(fa, rowvar=False)))
    return ((fb - mu) ** 2).sum(1) + tr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1024, help="images per set, a multiple of 256")
    ap.add_argument("--extractor", default="inception-tf")
    ap.add_argument("--resize", default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--datasets", default="fashion-mnist,scenes", help="comma-separated: fashion-mnist, scenes")
    ap.add_argument("--extra-levels", default="", help="noise sds printed outside the checked ordering, e.g. 32,64")
    args = ap.parse_args()
    if args.n < CHUNK or args.n % CHUNK:
        ap.error(f"--n must be a positive multiple of {CHUNK}")
    torch.set_num_threads(args.threads)
    ext = F.create(args.extractor, resize=args.resize, batch_size=32)
    extra = [float(s) for s in args.extra_levels.split(",") if s]
    print(f"extractor={ext.name} resize={ext.resize} weights={ext.weights_sha256[:12]} n={args.n} "
          f"threads={args.threads} light sd {LIGHT:g}, heavy sd {HEAVY:g}; load {os.getloadavg()[0]:.1f}")
    ok_all = True
    for which in args.datasets.split(","):
        t = time.perf_counter()
        f = features(ext, which, args.n // CHUNK, [LIGHT, HEAVY, *extra])
        fa, fb = f["A"], f["B"]
        rep = repeated_fids(fa, fb)
        check = frechet_distance(fa.mean(0), np.cov(fa, rowvar=False), fb[0], np.zeros((fa.shape[1],) * 2))
        sets = {"real B": fb, f"light noise (sd {LIGHT:g})": f[f"sd{LIGHT:g}"],
                f"heavy noise (sd {HEAVY:g})": f[f"sd{HEAVY:g}"]}
        fids = {k: fid_from_features(fa, v) for k, v in sets.items()}
        kids = {k: kid_from_features(fa, v, subset_size=100, subsets=50)["kid_mean"] for k, v in sets.items()}
        fids["one image repeated (median over B)"] = float(np.median(rep))
        values = list(fids.values())
        ok = all(x < y for x, y in zip(values, values[1:]))
        ok_all &= ok
        print(f"\n{NAMES[which]}, n = {args.n}: {time.perf_counter() - t:.0f} s")
        for i, (k, v) in enumerate(fids.items()):
            margin = f"  x{v / values[i - 1]:.3f} over the previous" if i else ""
            kid = f"   KID = {kids[k]:.5f}" if k in kids else ""
            print(f"  FID(real A, {k:36s}) = {v:9.3f}{margin}{kid}")
        print(f"  ordering {'PASS' if ok else 'FAIL'}")
        print(f"  repeated image: first of B {rep[0]:.3f} (frechet_distance {check:.3f}), min over B {rep.min():.3f} "
              f"(image {int(rep.argmin())}), max {rep.max():.3f}; tr(Sigma_A) = {np.trace(np.cov(fa, rowvar=False)):.3f}")
        for s in extra:
            print(f"  (not checked) FID(real A, noise sd {s:g}) = {fid_from_features(fa, f[f'sd{s:g}']):.3f}")
    print(f"\nall orderings: {'PASS' if ok_all else 'FAIL'}")


if __name__ == "__main__":
    main()
