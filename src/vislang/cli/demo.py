"""``vislang demo``: train, generate, caption, evaluate and report on the built-in scenes (CPU)."""

from __future__ import annotations

import argparse

EPILOG = """\
examples:
  vislang demo                          # about 15 minutes on 2 CPU cores; writes runs/demo/report.html
  vislang demo --quick --out runs/q     # a small version (under 3 minutes), as CI runs it
  vislang demo --out runs/demo          # run again after an interruption: finished stages are skipped

Stages: data, dcgan, cgan, captioner, generate, caption, evaluate, report.  Each stage writes
RUN/stages/<stage>.json when done; delete that file to redo a stage.  See docs/demo.md.
"""


def register(commands) -> None:
    p = commands.add("demo", "train, generate, caption, evaluate and report on the built-in scenes", _demo, seed=True,
                     description="The whole vislang pipeline on the CPU: render scenes, train a DCGAN, a "
                                 "caption-conditioned GAN and a captioner, generate and caption images, evaluate "
                                 "them (quality, diversity, consistency, caption metrics, each beside a "
                                 "real-vs-real floor and a degenerate baseline) and write RUN/results.json and "
                                 "RUN/report.html.  Interrupted runs resume.", epilog=EPILOG)
    p.add_argument("--out", default="runs/demo", metavar="RUN", help="run folder (default runs/demo)")
    p.add_argument("--quick", action="store_true", help="small data and short training (CI; < 3 minutes)")


def _demo(args: argparse.Namespace) -> int:
    from vislang.demo import run_demo
    from vislang.progress import info

    res = run_demo(args.out, quick=args.quick, seed=args.seed)
    keys = ("unconditional.fid", "conditional.fid", "captions.CIDEr-D", "consistency_captions.CLIP-S",
            "consistency_images.CLIP-S")
    for k in keys:
        v = res.get(k)
        floor, base = res.get(f"{k}_real_floor"), res.get(f"{k}_baseline")
        if v is not None:
            info(f"{k:32s} {v:10.4f}   real floor {floor if floor is None else round(floor, 4)}   "
                 f"baseline {base if base is None else round(base, 4)}")
    info(f"wrote {args.out}/results.json and {args.out}/report.html")
    return 0
