"""Peak memory of FID over many images: ``evaluate_images(..., metrics="fid")`` streams float64 sums
(n, sum x, sum x x^T), so memory does not grow with the number of images.

    python benchmarks/fid_memory.py [--n 100000] [--dim 2048] [--batch-size 500]

To keep the run short the images are synthetic (seeded random 32 x 32, generated batch by batch, never
all in memory) and the extractor is a cheap stand-in with the Inception pool3 width (2048-d: 4 x 4
average pool, fixed random projection, ReLU).  What is measured is therefore the metric state and the
streaming path of the real orchestrator (sharding, moments, real-vs-real floor sums, Fréchet
distance), not the Inception network's own activations (a constant per batch, independent of n).
Acceptance: peak RSS < 2 GB for 100,000 images on each side.  The anchor printed beside it is the
memory the rows alone would take if held (n x d float64).
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import time

import numpy as np
import torch

import vislang.features as F
from vislang.evaluate import evaluate_images


class SyntheticImages:
    """n seeded random uint8 3 x 32 x 32 images, produced batch by batch (an image-source lookalike)."""

    def __init__(self, n: int, seed: int, level: int = 255):
        self.n, self.seed, self.level = n, seed, level
        self.label = f"<synthetic n={n} seed={seed}>"

    def __len__(self) -> int:
        return self.n

    def iter_batches(self, batch_size: int, start: int = 0, stop: int | None = None):
        stop = self.n if stop is None else min(stop, self.n)
        for lo in range(start, stop, batch_size):
            hi = min(lo + batch_size, stop)
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + lo)
            yield torch.randint(0, self.level + 1, (hi - lo, 3, 32, 32), generator=g, dtype=torch.uint8)

    def content_hash(self) -> str:
        return hashlib.sha256(self.label.encode()).hexdigest()


def cheap_extractor(dim: int):
    class Cheap(F.Extractor):
        name = "cheap-2048"
        resizes = ("bilinear-224",)

        def __init__(self):
            super().__init__(None, "cpu", 500)
            self.dim = dim
            g = torch.Generator().manual_seed(0)
            self.proj = torch.randn(48, dim, generator=g) / 7
            self.weights_provenance = {"weights_sha256": "synthetic", "weights_source": "benchmark"}

        def prepare(self, chunk):
            return torch.nn.functional.adaptive_avg_pool2d(chunk.float() / 255, 4).reshape(len(chunk), -1)

        def embed(self, x):
            return torch.relu(x @ self.proj)

    return Cheap()


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000, help="images on each side")
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--batch-size", type=int, default=500)
    args = ap.parse_args()
    ext = cheap_extractor(args.dim)
    before = rss_mb()
    t = time.perf_counter()
    out = evaluate_images(SyntheticImages(args.n, 1), SyntheticImages(args.n, 2, level=230), extractor=ext,
                          metrics="fid", batch_size=args.batch_size, cache=False)
    took = time.perf_counter() - t
    peak = rss_mb()
    rows_gb = 2 * args.n * args.dim * 8 / 2**30
    print(f"n={args.n} per side, d={args.dim}: fid={out['fid']:.6f}, floor={out['fid_real_floor']:.6f} "
          f"({out['n_real_floor_a']}/{out['n_real_floor_b']}), {took:.1f} s")
    print(f"peak RSS {peak:.0f} MB (after imports {before:.0f} MB); holding the rows would take {rows_gb:.2f} GB")
    print(f"acceptance peak RSS < 2048 MB: {'PASS' if peak < 2048 else 'FAIL'}")


if __name__ == "__main__":
    main()
