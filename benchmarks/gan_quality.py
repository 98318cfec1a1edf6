"""GAN quality on 32-px built-in scenes: FID before/after a CPU time budget, and caption faithfulness.

1. Unconditional DCGAN (32 px, recipe widths) trained for ``--seconds`` on ``--threads`` CPU threads
   (the step count is set from a timed 20-step start, then the run is resumed to it).  FID of
   ``--n`` generated images against held-out real scenes (``val`` split) for the untrained generator
   and the trained one, beside the real-vs-real floor (``train`` images vs ``val`` images).
2. The caption-conditioned GAN (spectral norm + hinge, as docs/gan.md recommends) trained the same way; for held-out captions, an attribute check from
   the scene tools' palette (saturated pixels labelled with the nearest palette colour): the share of
   images in which every colour the caption names covers at least ``MIN_PX`` pixels, in which the
   most frequent colour is a named one, and, for two-object captions with a relation between objects
   of different colours that are both found, in which the relation holds between the two colours'
   pixel centroids (chance 1/2).  Chance is the same check against shuffled captions; the ceiling is
   the check on the real held-out images.

FID uses vislang's extractor (``--extractor``, default mobilenet-v2; inception-tf on a GPU) and
``vislang.metrics.image.fid``.  Usage::

    python benchmarks/gan_quality.py --seconds 600 --threads 2 --out .bench/gan_quality
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch

MIN_PX = 6
MIN_SATURATION = 60.0


def fid(ext, real_feats: np.ndarray, images: torch.Tensor) -> float:
    from vislang.metrics.image.fid import fid_from_features

    feats = torch.cat([ext(images[i:i + 200]).cpu() for i in range(0, len(images), 200)]).double().numpy()
    return float(fid_from_features(real_feats, feats))


def colour_masks(images: torch.Tensor):
    """Per pixel: the nearest palette colour (scene tools' COLOR_RGB) where the pixel is saturated, else -1."""
    from vislang.data.scene_spec import COLOR_RGB

    names = list(COLOR_RGB)
    pal = torch.tensor([COLOR_RGB[c] for c in names], dtype=torch.float32)  # K x 3
    x = images.permute(0, 2, 3, 1).float()  # N x H x W x 3
    idx = torch.cdist(x.reshape(-1, 3), pal).argmin(-1).reshape(x.shape[:3])
    saturation = x.max(-1).values - x.min(-1).values  # the pale background is unsaturated
    idx[saturation < MIN_SATURATION] = -1
    return names, idx  # N x H x W palette index or -1


def caption_matches(caption: str, idx: torch.Tensor, names: list[str]) -> tuple[bool, bool, bool | None]:
    """(every named colour present, the dominant colour is a named one, relation holds or None) for one image."""
    from vislang.data.scene_text import parse_caption

    spec = parse_caption(caption)
    if spec is None:
        return False, False, None
    colours = [o.color for o in spec.objects]
    counts = torch.bincount(idx[idx >= 0].reshape(-1), minlength=len(names))
    present = all(int(counts[names.index(c)]) >= MIN_PX for c in colours)
    dominant = bool(counts.sum() > 0) and names[int(counts.argmax())] in colours
    rel_ok = None
    if len(spec.objects) == 2 and spec.relations and colours[0] != colours[1]:
        a, rel, b = spec.relations[0]
        pts = []
        for k in (a, b):
            ys, xs = torch.nonzero(idx == names.index(colours[k]), as_tuple=True)
            pts.append((ys.float().mean().item(), xs.float().mean().item()) if len(ys) else None)
        if pts[0] is not None and pts[1] is not None:
            (ya, xa), (yb, xb) = pts
            rel_ok = {"left of": xa < xb, "right of": xa > xb, "above": ya < yb, "below": ya > yb}[rel]
    return present, dominant, rel_ok


def faithfulness(images: torch.Tensor, captions: list[str]) -> dict[str, float]:
    names, idx = colour_masks(images)
    res = [caption_matches(c, idx[i], names) for i, c in enumerate(captions)]
    rel = [r for _, _, r in res if r is not None]
    return {"colours_present": float(np.mean([p for p, _, _ in res])),
            "dominant_colour_named": float(np.mean([d for _, d, _ in res])),
            "relation_correct": float(np.mean(rel)) if rel else float("nan"), "n_relation": len(rel)}


def train_for(cfg, out: Path, seconds: float, threads: int) -> dict:
    """Train on the CPU for about ``seconds``: 20 timed steps, then resume to the step count that fits."""
    from vislang.train.gan import train

    warm = 20
    t = time.perf_counter()
    rec = train(cfg.__class__(**{**cfg.__dict__, "steps": warm, "log_every": 10}), out, device="cpu", threads=threads)
    per_step = cfg.batch_size / rec["img_per_s"]  # the last 10 steps, without set-up
    total = max(warm, int(seconds / per_step))
    t2 = time.perf_counter()
    train(cfg.__class__(**{**cfg.__dict__, "steps": total}), out, resume=True, device="cpu", threads=threads)
    return {"steps": total, "wall_seconds": time.perf_counter() - t, "s_per_step_warm": per_step,
            "s_per_step": (time.perf_counter() - t2) / max(1, total - warm), "threads": threads}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=600.0, help="training wall seconds per model")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n", type=int, default=2000, help="images per FID side")
    ap.add_argument("--n-train", type=int, default=10000)
    ap.add_argument("--width", type=int, default=64, help="ngf = ndf (the recipe's 64 by default)")
    ap.add_argument("--extractor", default="")
    ap.add_argument("--device", default="cpu", help="device for feature extraction and generation")
    ap.add_argument("--only", choices=("uncond", "cond", "both"), default="both")
    ap.add_argument("--out", default=".bench/gan_quality")
    args = ap.parse_args()
    from vislang import features
    from vislang.data.scenes import generate as scenes
    from vislang.seeding import seed_everything
    from vislang.train import gan_eval
    from vislang.train.gan import GANConfig, build_models
    from vislang.train.gan_generate import generate

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dev = torch.device(args.device)
    ext_name = args.extractor or ("inception-tf" if dev.type == "cuda" else "mobilenet-v2")
    result: dict = {"threads": args.threads, "seconds": args.seconds, "extractor": ext_name, "n": args.n,
                    "width": args.width,
                    "loadavg_start": os.getloadavg()}
    base = dict(data="scenes", size=32, batch_size=64, n_train=args.n_train, sample_every=500, ckpt_every=500,
                log_every=10, ngf=args.width, ndf=args.width)
    val = scenes(args.n, size=32, seed=0, split="val")
    if args.only in ("uncond", "both"):
        ext = features.create(ext_name, device=dev, batch_size=200)
        cache = out / f"real_{ext_name}_{args.n}.npz"  # real features are the slow part on a CPU: keep them
        if cache.exists():
            real_val = np.load(cache)["val"]
            result["fid_real_vs_real"] = float(np.load(cache)["floor"])
        else:
            real_val = torch.cat([ext(val.images[i:i + 200]).cpu() for i in range(0, args.n, 200)]).double().numpy()
            train_real = scenes(args.n, size=32, seed=1, split="train").images  # a disjoint draw (other seed)
            result["fid_real_vs_real"] = fid(ext, real_val, train_real)
            np.savez(cache, val=real_val, floor=result["fid_real_vs_real"])
        cfg = GANConfig(**base)
        seed_everything(cfg.seed)
        g0 = build_models(cfg)[0].eval()
        z = torch.randn(args.n, cfg.nz, generator=torch.Generator().manual_seed(0))
        result["fid_untrained"] = fid(ext, real_val, gan_eval.generate_images(g0, z))
        run = out / "uncond"
        if not (run / "config.json").exists():
            result["uncond_train"] = train_for(cfg, run, args.seconds, args.threads)
        imgs, _ = generate(run, args.n, seed=0, device=dev)
        result["fid_trained"] = fid(ext, real_val, imgs)
        print(json.dumps(result), flush=True)
    if args.only in ("cond", "both"):
        cfg = GANConfig(**base, conditional=True, spectral_norm=True, loss="hinge")  # see docs/gan.md
        run = out / "cond"
        if not (run / "config.json").exists():
            result["cond_train"] = train_for(cfg, run, args.seconds, args.threads)
        caps = [val.captions[i][0] for i in val.ids]
        imgs, _ = generate(run, captions=caps, seed=0, device=dev)
        result["cond_generated"] = faithfulness(imgs, caps)
        shuffled = caps[:]
        random.Random(0).shuffle(shuffled)
        result["cond_shuffled_chance"] = faithfulness(imgs, shuffled)
        result["cond_real_ceiling"] = faithfulness(val.images, caps)
    result["loadavg_end"] = os.getloadavg()
    print(json.dumps(result, indent=1))
    (out / "result.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
