"""Ordering sanity of FID on Fashion-MNIST and on the built-in scenes:

    FID(real A, real B) < FID(real A, lightly noised B) < FID(real A, heavily noised B)
                        < FID(real A, one image of B repeated)

    python benchmarks/fid_ordering.py [--n 256] [--extractor inception-tf] [--resize clean] [--threads 2]

A and B are disjoint real sets of n images; the noise is Gaussian with standard deviation 8 (light)
and 32 (heavy) grey levels, added to B and clipped to 0..255 (sd 64 is printed too, outside the
checked ordering).  The repeated set is B's first image n
times (its features are extracted once and repeated: the extractor is deterministic).  With
n < 2048 the 2048-d covariances are rank deficient and every FID carries a large positive bias; the
ordering is what is checked.  Inception on CPU runs at about 9 images/s, so n = 256 takes minutes.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import vislang.features as F
from vislang.metrics.image import fid_from_features, kid_from_features


def noised(images: torch.Tensor, sigma: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(images.shape, generator=g) * sigma
    return (images.float() + noise).round().clamp(0, 255).to(torch.uint8)


def datasets(n: int, which: list[str]) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    from vislang.data.mnist import load_fashion_mnist
    from vislang.data.scenes import generate

    out = {}
    if "fashion-mnist" in which:
        x = load_fashion_mnist("test")[0]
        x = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x))
        perm = torch.from_numpy(np.random.default_rng(0).permutation(len(x))[: 2 * n])
        out["fashion-mnist (test, 28 px)"] = (x[perm[:n]], x[perm[n:]])
    if "scenes" in which:
        scenes = generate(2 * n, size=64, seed=0, split="train").images
        out["built-in scenes (64 px)"] = (scenes[:n], scenes[n:])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--extractor", default="inception-tf")
    ap.add_argument("--resize", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--datasets", default="fashion-mnist,scenes", help="comma-separated: fashion-mnist, scenes")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ext = F.create(args.extractor, resize=args.resize, batch_size=32)
    print(f"extractor={ext.name} resize={ext.resize} weights={ext.weights_sha256[:12]} n={args.n} "
          f"threads={args.threads}")
    ok_all = True
    for name, (a, b) in datasets(args.n, args.datasets.split(",")).items():
        t = time.perf_counter()
        fa = F.extract(ext, a)
        sets = {"real B": F.extract(ext, b),
                "light noise (sd 8)": F.extract(ext, noised(b, 8.0, 1)),
                "heavy noise (sd 32)": F.extract(ext, noised(b, 32.0, 2)),
                "one image repeated": np.repeat(F.extract(ext, b[:1]), len(b), axis=0)}
        extra = {"very heavy noise (sd 64)": F.extract(ext, noised(b, 64.0, 3))}
        fids = {k: fid_from_features(fa, v) for k, v in sets.items()}
        kids = {k: kid_from_features(fa, v, subset_size=min(100, args.n), subsets=20)["kid_mean"]
                for k, v in sets.items()}
        values = list(fids.values())
        ok = all(x < y for x, y in zip(values, values[1:]))
        ok_all &= ok
        print(f"\n{name}: {time.perf_counter() - t:.0f} s")
        for k in sets:
            print(f"  FID(real A, {k:24s}) = {fids[k]:10.3f}   KID = {kids[k]:.5f}")
        print(f"  ordering {'PASS' if ok else 'FAIL'}")
        for k, v in extra.items():
            print(f"  (not checked) FID(real A, {k}) = {fid_from_features(fa, v):.3f}")
    print(f"\nall orderings: {'PASS' if ok_all else 'FAIL'}")


if __name__ == "__main__":
    main()
