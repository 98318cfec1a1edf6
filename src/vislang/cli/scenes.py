"""``vislang data scenes``: render the built-in captioned scenes to a folder."""

from __future__ import annotations

import argparse

EPILOG = """\
output folder:
  images/000000.png ...   the scenes, in index order (RGB PNG, SIZE x SIZE)
  captions.json           COCO caption annotations: {"images": [{"id", "file_name", "width", "height"}],
                          "annotations": [{"id", "image_id", "caption"}]}, >= 5 distinct captions per image
  specs.json              every scene's spec: objects (shape, colour, size, centre), relations, background

The same --n, --size, --seed and --split give the same bytes. Ids: train 0.., val 1000000..,
test 2000000.., test_unseen 3000000.. (test_unseen scenes hold a held-out colour-shape pair).

examples:
  vislang data scenes --n 10000 --size 64 --seed 0 --out scenes/train
  vislang data scenes --n 1000 --split test_unseen --out scenes/test_unseen
"""


def register(commands) -> None:
    p = commands.add(
        "scenes", "render the built-in captioned scenes (PNG images, COCO captions, scene specs)", run,
        group="data", seed=True, epilog=EPILOG,
        description="Render N synthetic scenes of 1-3 coloured shapes with spatial relations, each with at "
                    "least five distinct captions and its scene spec: the offline default dataset of vislang.",
    )
    p.add_argument("--n", type=int, default=10000, help="number of scenes (default 10000)")
    p.add_argument("--size", type=int, default=64, help="image side in pixels: 32, 64 or 128 (default 64)")
    p.add_argument("--split", default="train", choices=["train", "val", "test", "test_unseen"],
                   help="which split to render (default train)")
    p.add_argument("--captions", type=int, default=5, help="captions per image, all distinct, 1 to 12 (default 5)")
    p.add_argument("--workers", type=int, default=2,
                   help="processes for rendering and PNG encoding (default 2); the output does not depend on it")
    p.add_argument("--out", required=True, help="output folder (must not exist or be empty, unless --overwrite)")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --out once the new one is complete")


def run(args: argparse.Namespace) -> int:
    import time

    from vislang.data.scenes import generate, write_scenes
    from vislang.errors import InputError
    from vislang.progress import info

    if args.size not in (32, 64, 128):
        raise InputError(f"--size {args.size}: choose 32, 64 or 128")
    start = time.perf_counter()
    scenes = generate(args.n, size=args.size, seed=args.seed, split=args.split,
                      captions_per_image=args.captions, workers=args.workers, progress=True)
    write_scenes(scenes, args.out, overwrite=args.overwrite, workers=args.workers, progress=True)
    info(f"wrote {len(scenes)} {args.split} scenes ({args.size} px, seed {args.seed}) to {args.out} "
         f"in {time.perf_counter() - start:.1f} s")
    return 0
