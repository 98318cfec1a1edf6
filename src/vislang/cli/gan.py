"""``vislang train gan`` and ``vislang generate``."""

from __future__ import annotations

import argparse

TRAIN_EPILOG = """\
examples:
  vislang train gan --data scenes --size 64 --steps 20000 --out runs/dcgan
  vislang train gan --data scenes --size 32 --conditional --steps 20000 --out runs/cgan
  vislang train gan --data scenes --size 32 --conditional --text-encoder dual-encoder --mismatch 0.5 \
      --ngf 32 --ndf 32 --steps 5000 --out runs/cgan-de
  vislang train gan --resume runs/dcgan --steps 40000        # continue exactly where it stopped
  torchrun --nproc_per_node 2 -m vislang train gan --data scenes --out runs/ddp

The run folder holds config.json, log.jsonl (losses, D(x), D(G(z)), images/s), loss.svg,
samples/step-*.png (fixed-noise 8x8 grids) and ckpt-*.pt (the last --keep).  See docs/gan.md.
"""

GENERATE_EPILOG = """\
examples:
  vislang generate --run runs/dcgan --n 10000 --out fakes.npz
  vislang generate --run runs/cgan --captions captions.txt --out fakes/ --ema
"""

#: options fixed by the architecture / data: on --resume they come from the run and may not be changed
_MODEL_FLAGS = ("data", "size", "conditional", "n_train", "nz", "ngf", "ndf", "lr", "beta1", "beta2", "loss",
                "spectral_norm", "ema", "diffaugment", "r1", "text_encoder", "text_model", "mismatch",
                "consistency", "mode_seeking", "batch_size", "seed", "channels_last",
                "deterministic")
_RUN_FLAGS = ("steps", "sample_every", "ckpt_every", "keep", "eval_every", "eval_n", "eval_extractor", "log_every")


def register(commands) -> None:
    p = commands.add("gan", "train a DCGAN or a caption-conditioned GAN (exact resume, DDP)", _train, group="train",
                     description="Train the pytorch/examples DCGAN (or its caption-conditioned variant with a "
                                 "projection discriminator) with checkpoints that resume bitwise exactly.",
                     epilog=TRAIN_EPILOG)
    p.add_argument("--data", help="scenes (built-in), fashion-mnist, or an image folder/zip/npz (default scenes)")
    p.add_argument("--out", help="run folder to create")
    p.add_argument("--resume", metavar="RUN", help="continue the run in RUN from its newest checkpoint")
    p.add_argument("--size", type=int, help="image size: 32, 64 (default) or 128")
    p.add_argument("--steps", type=int, help="train until this many steps in total (default 10000)")
    p.add_argument("--batch-size", type=int, help="global batch size (default 64)")
    p.add_argument("--conditional", action="store_true", default=None, help="condition G and D on captions")
    p.add_argument("--n-train", type=int, help="number of built-in scenes to render (default 20000)")
    p.add_argument("--nz", type=int, help="noise dimension (default 100)")
    p.add_argument("--ngf", type=int, help="generator width (default 64)")
    p.add_argument("--ndf", type=int, help="discriminator width (default 64)")
    p.add_argument("--lr", type=float, help="Adam learning rate (default 2e-4)")
    p.add_argument("--loss", choices=("bce", "hinge"), help="bce (the recipe's, default) or hinge")
    p.add_argument("--spectral-norm", action="store_true", default=None, help="spectral norm in D (drops D's BatchNorm)")
    p.add_argument("--ema", type=float, help="keep an EMA of G with this decay, e.g. 0.999 (default off)")
    p.add_argument("--diffaugment", help="DiffAugment policy, e.g. color,translation,cutout (default off)")
    p.add_argument("--r1", type=float, help="R1 penalty gamma (default 0 = off)")
    p.add_argument("--text-encoder", choices=("gru", "mean", "dual-encoder"),
                   help="conditional text encoder: gru (default), mean, or dual-encoder (the frozen text tower of "
                        "--text-model, shared by G and D)")
    p.add_argument("--text-model", help="dual-encoder text tower: 'scenes' (the shipped model, default), a dual-encoder "
                                        "run folder or model file")
    p.add_argument("--mismatch", type=float,
                   help="matching-aware D (GAN-CLS): weight of real images with mismatched captions among D's fakes, "
                        "e.g. 0.5 (default 0 = off)")
    p.add_argument("--consistency", type=float,
                   help="with --text-encoder dual-encoder: add W * (1 - cosine of G's image and its caption under the "
                        "frozen dual encoder) to G's loss (default 0 = off)")
    p.add_argument("--mode-seeking", type=float,
                   help="mode-seeking term for G (MSGAN): W / (image distance / noise distance) for two noise draws "
                        "per image, e.g. 1 (default 0 = off)")
    p.add_argument("--sample-every", type=int, help="write a sample grid every K steps (default 500; 0 = only at the end)")
    p.add_argument("--ckpt-every", type=int, help="checkpoint every K steps (default 1000; always at the end)")
    p.add_argument("--keep", type=int, help="checkpoints to keep (default 3)")
    p.add_argument("--eval-every", type=int, help="FID/KID every K steps (default 0 = off)")
    p.add_argument("--eval-n", type=int, help="images per FID/KID evaluation (default 1000)")
    p.add_argument("--eval-extractor", help="feature extractor for FID/KID (default inception-tf on GPU, mobilenet-v2 on CPU)")
    p.add_argument("--log-every", type=int, help="log averaged losses every K steps (default 10)")
    p.add_argument("--no-channels-last", dest="channels_last", action="store_false", default=None,
                   help="keep contiguous memory format (channels_last is faster on CPU)")
    p.add_argument("--no-deterministic", dest="deterministic", action="store_false", default=None,
                   help="allow non-deterministic kernels (faster on GPU; resume is then not bitwise)")
    p.add_argument("--threads", type=int, help="torch CPU threads (fix it for bitwise-reproducible runs)")
    p.add_argument("--device", help="cpu, cuda or cuda:N (default cuda when present)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")

    g = commands.add("generate", "write images from a trained GAN run", _generate, seed=True,
                     description="Sample images from a GAN run's newest checkpoint; for a conditional run, one "
                                 "image per caption.", epilog=GENERATE_EPILOG)
    g.add_argument("--run", required=True, help="run folder written by 'vislang train gan'")
    g.add_argument("--n", type=int, help="number of images (default 10000; conditional runs: one per caption)")
    g.add_argument("--out", required=True, help="a folder of PNGs, or a .npz file")
    g.add_argument("--captions", help="conditional runs: a .txt (one caption a line) or .json list of captions")
    g.add_argument("--ema", action="store_true", help="use the EMA generator")
    g.add_argument("--batch-size", type=int, default=250)
    g.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    g.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")


def _train(args: argparse.Namespace) -> int:
    import dataclasses

    from vislang.errors import ConfigError
    from vislang.train.gan import GANConfig, train
    from vislang.train.loop import RunDir

    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(GANConfig)
             if getattr(args, f.name, None) is not None}
    if args.resume:
        if args.out and args.out != args.resume:
            raise ConfigError("--resume RUN continues RUN in place; drop --out (or give the same folder)")
        fixed = [k for k in given if k in _MODEL_FLAGS]
        base = RunDir(args.resume).load_config()
        names = {f.name for f in dataclasses.fields(GANConfig)}
        clash = [k for k in fixed if base.get(k) != given[k]]
        if clash:
            raise ConfigError(f"--{clash[0].replace('_', '-')} differs from the run's config.json; "
                              "a resumed run keeps its model and data options")
        cfg = GANConfig(**{k: v for k, v in base.items() if k in names})
        for k in _RUN_FLAGS:
            if k in given:
                setattr(cfg, k, given[k])
        out = args.resume
    else:
        if not args.out:
            raise ConfigError("give --out RUN (a new run folder) or --resume RUN")
        cfg = GANConfig(**given)
        out = args.out
    record = train(cfg, out, resume=bool(args.resume), device=args.device, threads=args.threads)
    if record and not args.quiet:
        from vislang.progress import info

        info(f"step {record.get('step')}: loss_d {record.get('loss_d', float('nan')):.4f} "
             f"loss_g {record.get('loss_g', float('nan')):.4f}; run in {out}")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vislang.data.images import write_npz, write_png_folder
    from vislang.fileio import write_json
    from vislang.train.gan_generate import generate, read_captions

    caps = read_captions(args.captions) if args.captions else None
    n = args.n if args.n is not None else (None if caps else 10000)
    images, captions = generate(args.run, n, seed=args.seed, captions=caps, ema=args.ema,
                                batch_size=args.batch_size, device=args.device)
    out = Path(args.out)
    if out.suffix.lower() == ".npz":
        extra = {"captions": captions} if captions else {}
        write_npz(images, out, **extra)
    else:
        names = [f"{i:05d}.png" for i in range(images.shape[0])]
        write_png_folder(images, out, names=names, overwrite=args.overwrite)
        if captions:
            write_json(out / "captions.json", {name: c for name, c in zip(names, captions)})
    if not args.quiet:
        from vislang.progress import info

        info(f"wrote {images.shape[0]} images to {out}")
    return 0
