"""Fréchet distance: vislang's eigendecomposition route against pytorch-fid's scipy.linalg.sqrtm
formula (the anchor), on random full-rank statistics, measured in the same run, interleaved.

    python benchmarks/frechet_distance.py [--dim 2048] [--rounds 3] [--threads N]

Each round times, in this order, the anchor (pytorch-fid's ``calculate_frechet_distance``), vislang's
``frechet_distance`` and the previous vislang route (SciPy/OpenBLAS ``dpotrf`` + ``dsygst``, then
``torch.linalg.eigvalsh``), so load on a shared machine falls on all of them alike.  Prints the
relative difference to the anchor (acceptance: <= 1e-6), and the speed ratio (acceptance: >= 30x at
d = 2048) as the median over rounds of the per-round ratio, by wall time and by process CPU time,
with the 1-minute load average before each round.  With one thread
(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 ... --threads 1) the CPU-time ratio is
the ratio a quiet single core would show.  The anchor is pytorch-fid's own function, taken from the
installed package's source (its module imports torchvision, which vislang does not install).
"""

from __future__ import annotations

import argparse
import os
import statistics
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


def previous_route(mu1, s1, mu2, s2) -> float:
    """vislang's route before 2026-11-27 21:30: SciPy (OpenBLAS) dpotrf + dsygst, torch eigvalsh."""
    from scipy.linalg import lapack

    L, info = lapack.dpotrf(s1.T, lower=1, clean=1)
    C, info2 = lapack.dsygst(s2.T, L, itype=2, lower=1)
    assert info == 0 and info2 == 0
    lam = torch.linalg.eigvalsh(torch.from_numpy(C), UPLO="L")
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * float(lam.clamp_min(0).sqrt().sum()))


def timed(fn, *args):
    t, c = time.perf_counter(), time.process_time()
    value = float(fn(*args))
    return value, time.perf_counter() - t, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (anchor, vislang, previous)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    d = args.dim
    rng = np.random.default_rng(0)
    mu1, s1 = random_stats(rng, 2 * d + 100, d, 1.0, 0.0)
    mu2, s2 = random_stats(rng, 2 * d + 100, d, 1.1, 0.05)
    print(f"d={d}, full-rank covariances (rank {np.linalg.matrix_rank(s1)}), torch threads {torch.get_num_threads()}, "
          f"OMP/OPENBLAS/MKL_NUM_THREADS={[os.environ.get(k) for k in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS')]}")
    ref_fn = pytorch_fid_frechet()
    frechet_distance(mu1, s1, mu2, s2)  # warm-up (thread pools, first-call allocations)
    rows = {"anchor": [], "vislang": [], "previous": []}
    for r in range(args.rounds):
        load = os.getloadavg()[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            rows["anchor"].append(timed(ref_fn, mu1, s1, mu2, s2))
        rows["vislang"].append(timed(frechet_distance, mu1, s1, mu2, s2))
        rows["previous"].append(timed(previous_route, mu1, s1, mu2, s2))
        a, v, p = rows["anchor"][-1], rows["vislang"][-1], rows["previous"][-1]
        print(f"round {r + 1}: load {load:5.2f}  anchor wall {a[1]:7.3f} cpu {a[2]:7.3f} | vislang wall {v[1]:6.3f} "
              f"cpu {v[2]:6.3f} | previous wall {p[1]:6.3f} cpu {p[2]:6.3f} | ratio wall {a[1] / v[1]:5.1f}x "
              f"cpu {a[2] / v[2]:5.1f}x", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    ref = rows["anchor"][0][0]
    for name, rs in rows.items():
        rel = abs(rs[0][0] - ref) / abs(ref)
        print(f"{name:9s}: {rs[0][0]:.10f} (rel. diff. to anchor {rel:.1e})  median wall "
              f"{statistics.median(x[1] for x in rs):8.3f} s  cpu {statistics.median(x[2] for x in rs):8.3f} s")
    rel = abs(rows["vislang"][0][0] - ref) / abs(ref)
    print(f"relative difference {rel:.2e}  (acceptance <= 1e-6: {'PASS' if rel <= 1e-6 else 'FAIL'})")
    for what, k in (("wall", 1), ("cpu", 2)):
        ratio = statistics.median(a[k] / v[k] for a, v in zip(rows["anchor"], rows["vislang"]))
        prev = statistics.median(p[k] / v[k] for p, v in zip(rows["previous"], rows["vislang"]))
        print(f"speed ratio ({what} time, median of per-round ratios) {ratio:.1f}x  (acceptance >= 30x: "
              f"{'PASS' if ratio >= 30 else 'FAIL'}); previous route / vislang {prev:.2f}")


if __name__ == "__main__":
    main()
