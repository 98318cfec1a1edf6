"""Time and memory of reading image folders and zips with vislang.data.images against a bare Pillow loop.

Measures, in one run, on N PNG files of SIZE px (smooth images plus noise, so PNG sizes are realistic):
  * anchor  -- the least any reader does: sorted paths, Image.open(p).convert("RGB"), np.asarray into a
               preallocated array, one torch permute (no checks, no EXIF, no size validation)
  * open    -- open_images(folder): file listing + header scan (sizes, pixel limit) of every file
  * iterate -- consuming src.iter_batches(256) (decode, EXIF, conversion, size check, NCHW batches)
  * zip     -- the same set from a .zip (open + iterate)
  * threads -- iterate with iter_batches(256, workers=W) (decoding on W threads)
and prints images/s, the ratio (open + iterate) / anchor, and the resident-memory growth while
iterating (it must not grow with N: batches are decoded one at a time).

    python benchmarks/read_images.py                  # 10,000 images, 64 px
    python benchmarks/read_images.py --n 2000 --size 128
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vislang.data.images import open_images, write_png_folder


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def make_images(n: int, size: int, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        smooth = np.asarray(Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC), np.int16)
        out[i] = np.clip(smooth + rng.integers(-6, 7, smooth.shape), 0, 255)
    return torch.from_numpy(out).permute(0, 3, 1, 2)


def anchor(folder: Path, size: int) -> torch.Tensor:
    paths = sorted(folder.rglob("*.png"))
    out = np.empty((len(paths), size, size, 3), np.uint8)
    for i, p in enumerate(paths):
        out[i] = np.asarray(Image.open(p).convert("RGB"))
    return torch.from_numpy(out).permute(0, 3, 1, 2)


def consume(src, batch: int = 256, workers: int = 0) -> tuple[int, float]:
    """Iterate all batches; returns (images, peak RSS growth in MB over the iteration)."""
    base, peak, n = rss_mb(), 0.0, 0
    for b in src.iter_batches(batch, workers=workers):
        n += len(b)
        peak = max(peak, rss_mb() - base)
    return n, peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats; the best is reported")
    ap.add_argument("--workers", type=int, default=2, help="decoding threads for the threaded run (default 2)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "pngs"
        write_png_folder(make_images(args.n, args.size), folder)
        zpath = Path(tmp) / "pngs.zip"
        with zipfile.ZipFile(zpath, "w", zipfile.ZIP_STORED) as zf:
            for p in sorted(folder.iterdir()):
                zf.write(p, p.name)
        mb = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
        anchor(folder, args.size)  # warm the page cache for both readers

        def timed(fn):
            w, c = time.perf_counter(), time.process_time()
            out = fn()
            return out, time.perf_counter() - w, time.process_time() - c

        # interleaved repeats, best of each: a shared machine's noise only ever adds time
        runs: dict[str, list] = {"anchor": [], "open": [], "iter": []}
        for _ in range(args.repeats):
            ref, t, c = timed(lambda: anchor(folder, args.size))
            runs["anchor"].append((c, t))
            src, t, c = timed(lambda: open_images(folder))
            runs["open"].append((c, t))
            (n, grow), t, c = timed(lambda: consume(src))
            runs["iter"].append((c, t))
            assert n == len(ref) and torch.equal(src[len(src) - 1], ref[-1])
        (c_anchor, t_anchor), (c_open, t_open), (c_iter, t_iter) = (min(runs[k]) for k in ("anchor", "open", "iter"))
        (nz, zgrow), t_zip, c_zip = timed(lambda: consume(open_images(zpath)))
        assert nz == n
        (nt, _), t_thr, c_thr = timed(lambda: consume(src, workers=args.workers))
        assert nt == n

    total, c_total = t_open + t_iter, c_open + c_iter
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, torch {torch.__version__}")
    print(f"{args.n} PNGs of {args.size} px ({mb:.1f} MB on disk); best of {args.repeats}: wall s / CPU s of "
          f"this process (CPU time is steadier on a shared machine)")
    print(f"anchor (bare Pillow loop): {t_anchor:7.2f} / {c_anchor:6.2f} s  {args.n / c_anchor:7.0f} img/CPU-s")
    print(f"vislang open (headers):    {t_open:7.2f} / {c_open:6.2f} s  {args.n / c_open:7.0f} img/CPU-s")
    print(f"vislang iterate:           {t_iter:7.2f} / {c_iter:6.2f} s  {args.n / c_iter:7.0f} img/CPU-s")
    print(f"vislang open + iterate:    {total:7.2f} / {c_total:6.2f} s  ratio to anchor: wall {total / t_anchor:.2f}, "
          f"CPU {c_total / c_anchor:.2f}")
    print(f"vislang zip (open + iter): {t_zip:7.2f} / {c_zip:6.2f} s  ratio to anchor: wall {t_zip / t_anchor:.2f}, "
          f"CPU {c_zip / c_anchor:.2f}")
    print(f"vislang iterate, {args.workers} threads: {t_thr:7.2f} / {c_thr:6.2f} s  wall speed-up over one thread "
          f"{t_iter / t_thr:.2f}")
    print(f"RSS growth while iterating: folder {grow:.1f} MB, zip {zgrow:.1f} MB "
          f"(the full set is {args.n * 3 * args.size ** 2 / 2**20:.1f} MB as uint8)")


if __name__ == "__main__":
    main()
