"""``vislang train captioner`` and ``vislang caption``."""

from __future__ import annotations

import argparse

TRAIN_EPILOG = """\
examples:
  vislang train captioner --data scenes --out runs/cap --steps 4000
  vislang train captioner --data scenes --decoder lstm --out runs/cap-lstm --epochs 5
  vislang train captioner --data photos/ --captions captions.json --size 128 --out runs/mine
  vislang train captioner --resume runs/cap --steps 8000        # continue exactly where it stopped
  torchrun --nproc_per_node 2 -m vislang train captioner --data scenes --out runs/ddp

SOURCE is an image folder, zip or .npz; --captions is any caption file 'vislang eval captions'
reads (COCO annotations, Karpathy json, Flickr8k token file, JSONL); images are matched to
caption ids by file name (numeric and COCO_*_<id> names by number).  The run folder holds
config.json, vocab.json, log.jsonl, best.pt (best validation CIDEr-D) and ckpt-*.pt.
See docs/captioner.md.
"""

CAPTION_EPILOG = """\
examples:
  vislang caption --run runs/cap --images test/ --beam 3 --out results.json
  vislang caption --run runs/cap --images test/ --n-per-image 5 --temperature 0.8 --top-p 0.9 --out samples.json

The output is a COCO results file [{"image_id": ..., "caption": ...}, ...] (n entries per image
with --n-per-image n), readable by pycocoevalcap and 'vislang eval captions' (for n = 1).
Image ids: the number of numeric / COCO_*_<id> file names, else the file name.
"""

#: training options that may change on --resume; every other option comes from the run
_RESUMABLE = ("steps", "epochs", "patience", "time_limit", "threads", "device")


def register(commands) -> None:
    p = commands.add("captioner", "train an image captioner (CNN encoder + Transformer or attention-LSTM decoder)",
                     _train, group="train", seed=True,
                     description="Train a captioner with teacher forcing: label smoothing, warm-up + cosine "
                                 "learning rate, gradient clipping, validation CIDEr-D/BLEU-4 each epoch, "
                                 "early stopping, best checkpoint, exact resume, DDP through torchrun.",
                     epilog=TRAIN_EPILOG)
    p.add_argument("--data", metavar="SOURCE", help="'scenes' (built-in, default) or an image folder/zip/npz")
    p.add_argument("--captions", metavar="FILE", help="caption file for an image SOURCE")
    p.add_argument("--out", metavar="RUN", help="run folder to create")
    p.add_argument("--resume", metavar="RUN", help="continue the run in RUN from its newest checkpoint")
    p.add_argument("--decoder", choices=("transformer", "lstm"), help="decoder (default transformer)")
    p.add_argument("--encoder", choices=("cnn", "mobilenet-v2"),
                   help="cnn (small, from scratch; default) or mobilenet-v2 (pretrained, needs its weights)")
    p.add_argument("--fine-tune-encoder", action="store_true", default=None,
                   help="train the pretrained encoder too (default: frozen)")
    p.add_argument("--size", type=int, help="image size in pixels (default 64; use 224 with mobilenet-v2)")
    p.add_argument("--epochs", type=int, help="epochs (default 10)")
    p.add_argument("--steps", type=int, help="optimizer steps in total (overrides --epochs)")
    p.add_argument("--batch-size", type=int, help="images per step (default 64)")
    p.add_argument("--captions-per-step", type=int, help="captions per image and step (default 2)")
    p.add_argument("--lr", type=float, help="peak AdamW learning rate (default 1e-3)")
    p.add_argument("--warmup", type=int, help="linear warm-up steps (default 200)")
    p.add_argument("--label-smoothing", type=float, help="default 0.1")
    p.add_argument("--clip", type=float, help="gradient-norm clip (default 1.0; 0 = off)")
    p.add_argument("--d-model", type=int, help="feature/word width (default 192)")
    p.add_argument("--layers", type=int, help="Transformer decoder layers (default 2)")
    p.add_argument("--dropout", type=float, help="default 0.1")
    p.add_argument("--min-count", type=int, help="keep words seen at least this often (default 1)")
    p.add_argument("--max-len", type=int, help="longest caption in tokens, <start>/<end> included (default 32)")
    p.add_argument("--n-train", type=int, help="built-in scenes to render for training (default 20000)")
    p.add_argument("--n-val", type=int, help="built-in scenes for validation (default 500)")
    p.add_argument("--val-fraction", type=float, help="share of an image SOURCE held out for validation (default 0.05)")
    p.add_argument("--val-every", type=int, help="validate every K steps (default: once per epoch)")
    p.add_argument("--patience", type=int, help="stop after this many validations without a better CIDEr-D (default 5; 0 = never)")
    p.add_argument("--time-limit", type=float, help="stop after this many CPU seconds (default: none)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")

    c = commands.add("caption", "caption images with a trained captioner (COCO results JSON)", _caption, seed=True,
                     description="Caption every image of a folder/zip/npz with the best model of a training run, "
                                 "by beam search (default), greedy decoding or sampling.",
                     epilog=CAPTION_EPILOG)
    c.add_argument("--run", required=True, metavar="RUN", help="a 'vislang train captioner' run folder")
    c.add_argument("--images", required=True, metavar="SOURCE", help="image folder, zip or .npz")
    c.add_argument("--out", required=True, metavar="FILE", help="results JSON to write")
    c.add_argument("--beam", type=int, default=3, help="beam size (default 3; 1 = greedy)")
    c.add_argument("--length-penalty", type=float, default=0.0,
                   help="GNMT length-penalty exponent alpha (default 0 = rank by log-probability)")
    c.add_argument("--n-per-image", type=int, default=1, help="captions per image (<= --beam, or samples)")
    c.add_argument("--temperature", type=float, default=0.0, help="> 0 samples instead of beam search")
    c.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass (default 1 = off)")
    c.add_argument("--batch-size", type=int, default=64, help="images per decoding batch (default 64)")
    c.add_argument("--skip-bad", action="store_true", help="skip unreadable images instead of stopping")
    c.add_argument("--device", help="cpu or cuda (default: cuda when available)")


def _train(args: argparse.Namespace) -> int:
    import json

    from vislang.cli._runs import config_fields
    from vislang.train.captioner import CaptionTrainConfig, train

    given = config_fields(args, CaptionTrainConfig, _RESUMABLE,
                          **({"freeze_encoder": False} if args.fine_tune_encoder else {}))
    result = train(CaptionTrainConfig(**given), resume=bool(args.resume))
    if not args.quiet:
        print(json.dumps(result))
    return 0


def _caption(args: argparse.Namespace) -> int:
    import torch

    from vislang.data.images import open_images
    from vislang.errors import ConfigError
    from vislang.fileio import write_json
    from vislang.progress import info, progress
    from vislang.train.caption_data import image_id_for
    from vislang.train.captioner import caption_batch, load_captioner

    if args.beam < 1 or args.n_per_image < 1:
        raise ConfigError("--beam and --n-per-image must be >= 1")
    if args.temperature <= 0 and args.n_per_image > args.beam:
        raise ConfigError(f"--n-per-image {args.n_per_image} needs --beam >= {args.n_per_image} "
                          "(or --temperature > 0 to sample)")
    if not 0 < args.top_p <= 1:
        raise ConfigError(f"--top-p {args.top_p}: must lie in (0, 1]")
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model, vocab, meta = load_captioner(args.run, map_location=device)
    model.to(device)
    size = model.config.image_size
    src = open_images(args.images, size=size, resize="bicubic", skip_bad=args.skip_bad)
    ids = [image_id_for(n) for n in src.names]
    if len(set(map(str, ids))) != len(ids):
        raise ConfigError(f"{args.images}: two images map to the same image id; rename them")
    gen = torch.Generator(device=device).manual_seed(args.seed) if args.temperature > 0 else None
    kw = dict(beam=args.beam, n=args.n_per_image, alpha=args.length_penalty, temperature=args.temperature,
              top_p=args.top_p, generator=gen)
    records = []
    done = 0
    for batch in progress(src.iter_batches(args.batch_size), total=-(-len(src) // args.batch_size),
                          desc="captioning", unit="batch"):
        for caps in caption_batch(model, vocab, batch, batch_size=args.batch_size, **kw):
            records.extend({"image_id": ids[done], "caption": c} for c in caps)
            done += 1
    write_json(args.out, records)
    info(f"wrote {len(records)} captions for {done} images to {args.out} (model from {meta['file']}, step {meta['step']})")
    return 0
