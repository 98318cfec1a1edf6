"""Fréchet distance: vislang's eigendecomposition route against pytorch-fid's scipy.linalg.sqrtm
formula (the anchor), on random full-rank statistics, measured in the same run.

    python benchmarks/frechet_distance.py [--dim 2048] [--repeats 3] [--threads N]

Prints the relative difference of the two values (acceptance: <= 1e-6) and the speed ratio
(acceptance: >= 30x at d = 2048), by wall time and by process CPU time.  On a shared machine the
wall-time ratio suffers from other processes (the 1-load average is printed); with one thread
(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1) the CPU-time ratio is the ratio a quiet
machine would show.  The anchor is pytorch-fid's own function, taken from the installed
package's source (its module imports torchvision, which vislang does not install).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "metrics" / "image"))
from image_oracles import pytorch_fid_frechet  # noqa: E402

from vislang.metrics.image import frechet_distance  # noqa: E402


def random_stats(rng: np.random.Generator, n: int, d: int, scale: float, shift: float):
    x = np.abs(rng.normal(size=(n, d))) * scale + shift  # non-negative, like pool3 activations
    x[:, : d // 4] *= np.linspace(0.2, 3.0, d // 4)
    return x.mean(0), np.cov(x, rowvar=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--repeats", type=int, default=3, help="timed runs of vislang's route (best is reported)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    d = args.dim
    rng = np.random.default_rng(0)
    mu1, s1 = random_stats(rng, 2 * d + 100, d, 1.0, 0.0)
    mu2, s2 = random_stats(rng, 2 * d + 100, d, 1.1, 0.05)
    print(f"d={d}, full-rank covariances (rank {np.linalg.matrix_rank(s1)}), torch threads {torch.get_num_threads()}")

    print(f"load average before: {os.getloadavg()[0]:.2f}")
    ours_t, ours_c = [], []
    for _ in range(args.repeats):
        t, c = time.perf_counter(), time.process_time()
        ours = frechet_distance(mu1, s1, mu2, s2)
        ours_t.append(time.perf_counter() - t)
        ours_c.append(time.process_time() - c)
    ref_fn = pytorch_fid_frechet()
    t, c = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ref = float(ref_fn(mu1, s1, mu2, s2))
    ref_t, ref_c = time.perf_counter() - t, time.process_time() - c
    rel = abs(ours - ref) / abs(ref)
    best, best_c = min(ours_t), min(ours_c)
    print(f"pytorch-fid sqrtm : {ref:.10f}  wall {ref_t:8.3f} s  cpu {ref_c:8.3f} s")
    print(f"vislang eigh      : {ours:.10f}  wall {best:8.3f} s  cpu {best_c:8.3f} s (best of {args.repeats}; wall "
          f"{', '.join(f'{x:.3f}' for x in ours_t)})")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"relative difference {rel:.2e}  (acceptance <= 1e-6: {'PASS' if rel <= 1e-6 else 'FAIL'})")
    for what, r in (("wall", ref_t / best), ("cpu", ref_c / best_c)):
        print(f"speed ratio ({what} time) {r:.1f}x  (acceptance >= 30x: {'PASS' if r >= 30 else 'FAIL'})")


if __name__ == "__main__":
    main()
