"""Time rendering the built-in captioned scenes (goal: 10,000 scenes at 64 px in under 30 s on 2 cores).

Measures, in one run:
  * generate   -- vislang.data.scenes.generate(n, size): specs + >= 5 captions + anti-aliased rendering
  * write      -- write_scenes(...) to a temporary folder: PNG encoding + COCO/spec JSON (what the CLI adds)
  * anchor     -- the least any renderer does: one PIL ellipse per image at the final size, no
                  anti-aliasing, no captions, converted to a uint8 tensor
and prints scenes/s, the ratio of generate to the anchor, and generate + write against the 30 s goal.

    python benchmarks/render_scenes.py              # 10,000 scenes, 64 px
    python benchmarks/render_scenes.py --n 2000 --size 128
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time

import numpy as np
import torch
from PIL import Image, ImageDraw

from vislang.data.scenes import generate, write_scenes

GOAL_S_PER_10K = 30.0


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the pool workers): less sensitive than
    wall time to other jobs on a shared machine."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def anchor(n: int, size: int) -> torch.Tensor:
    out = np.empty((n, size, size, 3), dtype=np.uint8)
    for i in range(n):
        im = Image.new("RGB", (size, size), (240, 240, 240))
        ImageDraw.Draw(im).ellipse([size * 0.3, size * 0.3, size * 0.6, size * 0.6], fill=(215, 35, 35))
        out[i] = np.asarray(im)
    return torch.from_numpy(out).permute(0, 3, 1, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2, help="processes (the CLI's default is 2)")
    args = ap.parse_args()
    torch.set_num_threads(1)

    t0 = time.perf_counter()
    ref = anchor(args.n, args.size)
    t_anchor = time.perf_counter() - t0

    t0, c0 = time.perf_counter(), cpu_seconds()
    scenes = generate(args.n, size=args.size, seed=args.seed, workers=args.workers)
    t_gen, c_gen = time.perf_counter() - t0, cpu_seconds() - c0

    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), cpu_seconds()
        write_scenes(scenes, os.path.join(tmp, "out"), workers=args.workers)
        t_write, c_write = time.perf_counter() - t0, cpu_seconds() - c0

    assert ref.shape == scenes.images.shape
    goal = GOAL_S_PER_10K * args.n / 10000
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {load:.2f}, torch {torch.__version__}")
    print(f"scenes: n={args.n} size={args.size} seed={args.seed} workers={args.workers}")
    print(f"anchor (1 PIL ellipse/image): {t_anchor:7.2f} s  {args.n / t_anchor:9.0f} scenes/s")
    print(f"generate (spec+captions+AA): {t_gen:7.2f} s  {args.n / t_gen:9.0f} scenes/s  "
          f"ratio to anchor {t_gen / t_anchor:.1f}x  (cpu {c_gen:.2f} s)")
    print(f"write (PNG + JSON):          {t_write:7.2f} s  {args.n / t_write:9.0f} scenes/s  (cpu {c_write:.2f} s)")
    total = t_gen + t_write
    print(f"generate + write:            {total:7.2f} s  = {total / goal:.2f} of the {goal:.0f} s goal "
          f"({'met' if total < goal else 'MISSED'}); cpu {c_gen + c_write:.2f} s, "
          f"{(c_gen + c_write) / total:.2f} cores busy on average")


if __name__ == "__main__":
    main()
