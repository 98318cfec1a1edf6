"""GAN quality on 32-px built-in scenes: FID before/after a CPU time budget, and caption faithfulness.

1. Unconditional DCGAN (32 px; defaults: ``--width`` 32, batch 16, 100,000 training scenes, and via
   ``--uncond-options`` hinge loss, a spectral-norm D, Adam betas (0, 0.9) and lr 4e-4, the best setting
   measured; ``--uncond-options '' --batch-size 64 --width 64`` gives the recipe's) trained until its steps have used
   ``--cpu-minutes`` of the training process's CPU time (``time.process_time``; ``--threads``, default 1),
   so load on a shared machine stretches the wall time but not the result.  FID of
   ``--n`` generated images against held-out real scenes (``val`` split) for the untrained generator
   and the trained one, beside the real-vs-real floor (``train`` images vs ``val`` images).
2. The caption-conditioned GAN (``--cond-options``, default: the frozen scenes dual-encoder text tower, the
   matching-aware D of GAN-CLS, the dual encoder's consistency term and the mode-seeking term for G) trained
   the same way; for
   held-out captions, the shipped attribute classifier's faithfulness and an attribute check from
   the scene tools' palette (saturated pixels labelled with the nearest palette colour): the share of
   images in which every colour the caption names covers at least ``MIN_PX`` pixels, in which the
   most frequent colour is a named one, and, for two-object captions with a relation between objects
   of different colours that are both found, in which the relation holds between the two colours'
   pixel centroids (chance 1/2).  Chance is the same check against shuffled captions; the ceiling is
   the check on the real held-out images.  Both judges are independent of the dual encoder that G's
   consistency term uses: the palette check reads pixels, the classifier is a separately trained model.

FID uses vislang's extractor (``--extractor``, default mobilenet-v2; inception-tf on a GPU) and
``vislang.metrics.image.fid``.  Usage::

    python benchmarks/gan_quality.py --cpu-minutes 20 --threads 1 --n 1000 --out .bench/gan_quality

``--keep 100`` keeps every 500-step checkpoint (for a FID curve); ``--sensitivity`` adds the FID of
slightly blurred and noisy real scenes (with ``--prep``: only the reference figures).

``--no-eval`` trains only; ``--prep`` computes only the reference figures (cached); a run stopped by its
budget and interrupted later is resumed for the rest of the budget (bitwise exact).
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


def _blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur (radius 2 px, edges replicated) of float N x C x H x W images."""
    k = torch.exp(-torch.arange(-2, 3, dtype=torch.float32) ** 2 / (2 * sigma ** 2))
    k = k / k.sum()
    c = images.shape[1]
    x = torch.nn.functional.pad(images, (2, 2, 2, 2), mode="replicate")
    x = torch.nn.functional.conv2d(x, k.view(1, 1, 1, 5).repeat(c, 1, 1, 1), groups=c)
    return torch.nn.functional.conv2d(x, k.view(1, 1, 5, 1).repeat(c, 1, 1, 1), groups=c)


def sensitivity(ext, real_feats: np.ndarray, images: torch.Tensor) -> dict[str, float]:
    """FID of slightly degraded real images (``images``: uint8, a draw disjoint from ``real_feats``'):
    how far from the floor a given extractor puts images that differ from real ones only in fine detail."""
    x = images.float()
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    variants = {"blur_sigma_0.5px": _blur(x, 0.5), "blur_sigma_1px": _blur(x, 1.0), "noise_std_8": x + 8 * noise}
    return {k: fid(ext, real_feats, v.round().clamp(0, 255).to(torch.uint8)) for k, v in variants.items()}


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


def train_for(cfg, out: Path, cpu_seconds: float, threads: int) -> dict:
    """Train on the CPU until the training steps have used ``cpu_seconds`` of this process's CPU time.

    CPU time (``time.process_time``, all threads of the process), not wall time: on a loaded shared
    machine the run takes longer but buys the same steps.  Set-up (rendering the scenes) is not counted.
    A run stopped early (its ``bench_progress.json`` says how much CPU time its steps used) is resumed
    for the rest of the budget; resume is bitwise exact, so the split run equals a straight one.
    """
    from vislang.train.gan import train

    progress_file = out / "bench_progress.json"
    done = json.loads(progress_file.read_text()) if progress_file.exists() else {"cpu_seconds": 0.0, "wall_seconds": 0.0,
                                                                                 "segments": 0}
    t = time.perf_counter()
    rec = train(cfg, out, resume=done["segments"] > 0, device="cpu", threads=threads,
                cpu_seconds=cpu_seconds - done["cpu_seconds"])
    info = {"steps": rec.get("stopped_at", cfg.steps), "cpu_seconds_training": done["cpu_seconds"] + rec["cpu_seconds"],
            "wall_seconds": done["wall_seconds"] + time.perf_counter() - t, "segments": done["segments"] + 1,
            "threads": threads, "loadavg_end": os.getloadavg(),
            "last_log": {k: rec.get(k) for k in ("loss_d", "loss_g", "d_x", "d_g_z1", "d_g_z2")}}
    (out / "bench_train.json").write_text(json.dumps(info, indent=1))
    return info


def parse_options(text: str) -> dict:
    """``"k=v,k=v"`` -> GANConfig fields, each value converted to the field's type."""
    from vislang.train.gan import GANConfig

    opts = {}
    for kv in filter(None, text.split(",")):
        k, v = kv.split("=")
        ftype = type(getattr(GANConfig, k))
        opts[k] = (v not in ("0", "false")) if ftype is bool else ftype(v)
    return opts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cpu-minutes", type=float, default=20.0, help="training CPU time per model (process time)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--n", type=int, default=2000, help="images per FID side / held-out captions")
    ap.add_argument("--n-train", type=int, default=100000,
                    help="training scenes rendered (default 100,000: the fourth session's best run)")
    ap.add_argument("--width", type=int, default=32, help="unconditional ngf = ndf (default 32; the recipe's is 64)")
    ap.add_argument("--batch-size", type=int, default=16, help="unconditional batch (default 16; the recipe's is 64)")
    ap.add_argument("--keep", type=int, default=3, help="checkpoints kept (every 500 steps); more for a FID curve")
    ap.add_argument("--ema", type=float, default=0.999, help="EMA of G kept beside G (does not change training)")
    ap.add_argument("--uncond-options", default="loss=hinge,spectral_norm=1,beta1=0.0,beta2=0.9,lr=0.0004",
                    help="GANConfig fields for the unconditional model, k=v comma-separated; default: hinge loss, "
                         "a spectral-norm D, Adam betas (0, 0.9) and lr 4e-4 (the best of the fifth session's "
                         "runs); '' for the recipe's")
    ap.add_argument("--cond-width", type=int, default=32)
    ap.add_argument("--cond-batch-size", type=int, default=64)
    ap.add_argument("--cond-text-dim", type=int, default=128)
    ap.add_argument("--cond-options", default="text_encoder=dual-encoder,mismatch=0.5,consistency=1,mode_seeking=1",
                    help="GANConfig fields for the conditional model, k=v comma-separated")
    ap.add_argument("--extractor", default="")
    ap.add_argument("--device", default="cpu", help="device for feature extraction and generation")
    ap.add_argument("--sensitivity", action="store_true",
                    help="also the FID of blurred / noisy real scenes (how much fine detail alone costs)")
    ap.add_argument("--only", choices=("uncond", "cond", "both"), default="both")
    ap.add_argument("--no-eval", action="store_true", help="train only")
    ap.add_argument("--prep", action="store_true",
                    help="only the reference figures (real features, real-vs-real floor, untrained FID), cached")
    ap.add_argument("--out", default=".bench/gan_quality")
    args = ap.parse_args()
    from vislang.data.scenes import generate as scenes
    from vislang.train.gan import GANConfig

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    budget = args.cpu_minutes * 60.0
    base = dict(data="scenes", size=32, n_train=args.n_train, sample_every=500, ckpt_every=500, log_every=50,
                steps=10 ** 7, ema=args.ema, keep=args.keep)
    ucfg = GANConfig(**base, ngf=args.width, ndf=args.width, batch_size=args.batch_size,
                     **parse_options(args.uncond_options))
    opts = parse_options(args.cond_options)
    ccfg = GANConfig(**base, conditional=True, ngf=args.cond_width, ndf=args.cond_width,
                     batch_size=args.cond_batch_size, text_dim=args.cond_text_dim, **opts)
    todo = [("uncond", ucfg)] * (args.only in ("uncond", "both")) + [("cond", ccfg)] * (args.only in ("cond", "both"))
    result: dict = {"threads": args.threads, "cpu_minutes": args.cpu_minutes, "n": args.n,
                    "loadavg_start": os.getloadavg()}
    for name, cfg in todo * (not args.prep):
        run = out / name
        if not (run / "bench_train.json").exists():
            if run.exists() and not (run / "bench_progress.json").exists():
                import shutil

                shutil.rmtree(run)  # an interrupted budgeted run: start it again
            result[f"{name}_train"] = train_for(cfg, run, budget, args.threads)
        else:
            result[f"{name}_train"] = json.loads((run / "bench_train.json").read_text())
        result[f"{name}_config"] = json.loads((run / "config.json").read_text())
        print(json.dumps({name: result[f"{name}_train"]}), flush=True)
    if args.no_eval:
        return
    if args.prep:
        result.update(evaluate_uncond(args, out, scenes(args.n, size=32, seed=0, split="val"), ucfg,
                                      torch.device(args.device)))
        print(json.dumps(result), flush=True)
        return
    val = scenes(args.n, size=32, seed=0, split="val")
    dev = torch.device(args.device)
    if args.only in ("uncond", "both"):
        result.update(evaluate_uncond(args, out, val, ucfg, dev))
        print(json.dumps(result), flush=True)
    if args.only in ("cond", "both"):
        result.update(evaluate_cond(out / "cond", val, dev, args.ema > 0))
    result["loadavg_end"] = os.getloadavg()
    print(json.dumps(result, indent=1))
    (out / f"result-{args.only}.json").write_text(json.dumps(result, indent=1))


def evaluate_uncond(args, out: Path, val, cfg, dev) -> dict:
    from vislang import features
    from vislang.data.scenes import generate as scenes
    from vislang.seeding import seed_everything
    from vislang.train import gan_eval
    from vislang.train.gan import build_models
    from vislang.train.gan_generate import generate

    ext_name = args.extractor or ("inception-tf" if dev.type == "cuda" else "mobilenet-v2")
    res: dict = {"extractor": ext_name}
    ext = features.create(ext_name, device=dev, batch_size=200)
    # the real features, the floor and the untrained generator's FID do not depend on training: kept
    cache = out / f"real_{ext_name}_{args.n}_w{cfg.ngf}.npz"
    train_real = None  # a real draw disjoint from val (other seed), rendered once if needed
    if cache.exists():
        real_val = np.load(cache)["val"]
        res["fid_real_vs_real"] = float(np.load(cache)["floor"])
        res["fid_untrained"] = float(np.load(cache)["untrained"])
    else:
        real_val = torch.cat([ext(val.images[i:i + 200]).cpu() for i in range(0, args.n, 200)]).double().numpy()
        train_real = scenes(args.n, size=32, seed=1, split="train").images
        res["fid_real_vs_real"] = fid(ext, real_val, train_real)
        seed_everything(cfg.seed)
        g0 = build_models(cfg)[0].eval()
        z = torch.randn(args.n, cfg.nz, generator=torch.Generator().manual_seed(0))
        res["fid_untrained"] = fid(ext, real_val, gan_eval.generate_images(g0, z))
        np.savez(cache, val=real_val, floor=res["fid_real_vs_real"], untrained=res["fid_untrained"])
    if args.sensitivity:
        if train_real is None:
            train_real = scenes(args.n, size=32, seed=1, split="train").images
        res["fid_degraded_real"] = sensitivity(ext, real_val, train_real)
    if not (out / "uncond" / "bench_train.json").exists():
        return res  # --prep: the reference figures only
    imgs, _ = generate(out / "uncond", args.n, seed=0, device=dev)
    res["fid_trained"] = fid(ext, real_val, imgs)
    if cfg.ema:
        imgs, _ = generate(out / "uncond", args.n, seed=0, device=dev, ema=True)
        res["fid_trained_ema"] = fid(ext, real_val, imgs)
    return res


def classifier_faithfulness(images: torch.Tensor, captions: list[str]) -> dict[str, float]:
    """The shipped attribute classifier's reading of each image (vislang.metrics.consistency.scene_image_faithfulness)."""
    from vislang.metrics.consistency.faithfulness import scene_image_faithfulness

    r = scene_image_faithfulness(images, captions)
    return {"faithfulness": r["faithfulness"], "faithful_exact": r["faithful_exact"]}


def evaluate_cond(run: Path, val, dev, ema: bool) -> dict:
    from vislang.train.gan_generate import generate

    caps = [val.captions[i][0] for i in val.ids]
    shuffled = caps[:]
    random.Random(0).shuffle(shuffled)
    res: dict = {"cond_real_ceiling": {**faithfulness(val.images, caps), **classifier_faithfulness(val.images, caps)}}
    for tag, use_ema in [("", False)] + [("_ema", True)] * ema:
        imgs, _ = generate(run, captions=caps, seed=0, device=dev, ema=use_ema)
        res[f"cond_generated{tag}"] = {**faithfulness(imgs, caps), **classifier_faithfulness(imgs, caps)}
        res[f"cond_shuffled_chance{tag}"] = {**faithfulness(imgs, shuffled), **classifier_faithfulness(imgs, shuffled)}
    return res


if __name__ == "__main__":
    main()
