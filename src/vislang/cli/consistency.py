"""``vislang train dual-encoder`` and ``vislang eval consistency``."""

from __future__ import annotations

import argparse

TRAIN_EPILOG = """\
examples:
  vislang train dual-encoder --data scenes --hard-negatives --seed 0 --threads 1 --out runs/de   # shipped recipe
  vislang train dual-encoder --resume runs/de --steps 1200                              # continue exactly
  vislang train dual-encoder --export runs/de --out my_model.pt                         # compact float16 file
  vislang train dual-encoder --data photos/ --captions captions.json --out runs/mine

The run folder holds config.json, log.jsonl, ckpt-*.pt and model.pt (the final model), usable as
'vislang eval consistency --model RUN'. See docs/consistency.md.
"""

EVAL_EPILOG = """\
examples:
  vislang eval consistency --images gen/ --captions prompts.json --model scenes --out scores.json
  vislang eval consistency --images test/ --captions cands.json --refs refs.json --per-item items.jsonl
  vislang eval consistency --images test/ --captions cands.json --model clip-vit-b32 --clip-bpe bpe_simple_vocab_16e6.txt.gz

--captions: one caption per image (COCO results [{"image_id", "caption"}], JSON {id: caption} or any
format 'vislang eval captions' reads; the first caption of an id is used). --refs: references for
RefCLIP-S. Images are matched to caption ids by file name. Scores: CLIP-S = 2.5 * max(cos, 0)
(Hessel et al. 2021) and CLIP-S x100 = 100 * max(cos, 0) (torchmetrics' clip_score); RefCLIP-S;
text->image and image->text R-precision (1 of 100) and recall@1/5/10. See docs/consistency.md.
"""

_RESUMABLE = ("steps", "threads", "device")


def register(commands) -> None:
    p = commands.add("dual-encoder", "train an image-text dual encoder (symmetric InfoNCE, CLIP-style)", _train,
                     group="train", seed=True,
                     description="Train a dual encoder (small CNN image tower + Transformer text tower) with the "
                                 "symmetric InfoNCE loss and a learnable temperature; optional hard negatives "
                                 "from one-word caption perturbations; checkpoints and exact resume.",
                     epilog=TRAIN_EPILOG)
    p.add_argument("--data", metavar="SOURCE", help="'scenes' (built-in, default) or an image folder/zip/npz")
    p.add_argument("--captions", metavar="FILE", help="caption file for an image SOURCE")
    p.add_argument("--out", metavar="RUN", help="run folder to create (with --export: the file to write)")
    p.add_argument("--resume", metavar="RUN", help="continue the run in RUN from its newest checkpoint")
    p.add_argument("--export", metavar="RUN", help="write RUN's final model as a compact float16 file to --out")
    p.add_argument("--hard-negatives", action="store_true", default=None,
                   help="add a one-word-perturbed foil of each caption to the negatives (scene-grammar captions)")
    p.add_argument("--hard-relation", type=float, metavar="P",
                   help="with --hard-negatives: probability that a multi-object caption's foil states a relation "
                        "backwards (left of -> right of; default 0)")
    p.add_argument("--mirror", type=float, metavar="P",
                   help="scenes: each multi-object image's mirrored scene (a relation turned round) joins the batch "
                        "with probability P, as its own image-caption pair (default 0; an experiment, docs/consistency.md)")
    p.add_argument("--pair-weight", type=float, metavar="W",
                   help="weight of the two-way loss on foils and mirrored pairs, added to InfoNCE (default 0)")
    p.add_argument("--aux-weight", type=float, metavar="W",
                   help="scenes: weight of training-only heads that read relation facts (which colour / shape is "
                        "left of / above which) from both towers' embeddings (default 0)")
    p.add_argument("--aux-shared", action="store_true", default=None,
                   help="with --aux-weight: one head for both towers, so the two put the relation facts in the "
                        "same directions of the common space (the shipped recipe)")
    p.add_argument("--image-pool", choices=["flatten", "attention", "keypoints"],
                   help="image tower: 'flatten' (4x4 grid -> MLP, default), 'attention' (8x8 tokens -> Transformer) "
                        "or 'keypoints' (flatten + spatial soft-argmax keypoints)")
    p.add_argument("--image-layers", type=int, help="Transformer layers of the attention image tower (default 2)")
    p.add_argument("--text-pool", choices=["mean", "first", "gru", "keypoints"],
                   help="text tower readout: 'mean' over tokens (default), the 'first' token's output, a bi-GRU's "
                        "final states ('gru'), or mean + soft-argmax 'keypoints' over tokens")
    p.add_argument("--size", type=int, help="image size in pixels (default 64)")
    p.add_argument("--steps", type=int, help="optimizer steps (default 1000)")
    p.add_argument("--batch-size", type=int, help="image-caption pairs per step (default 128)")
    p.add_argument("--lr", type=float, help="peak AdamW learning rate (default 3e-3)")
    p.add_argument("--embed-dim", type=int, help="embedding size (default 128)")
    p.add_argument("--n-train", type=int, help="built-in scenes to render for training (default 10000)")
    p.add_argument("--n-val", type=int, help="built-in scenes for validation (default 500)")
    p.add_argument("--ckpt-every", type=int, help="checkpoint every K steps (default 200)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")

    e = commands.add("consistency", "image-text consistency: CLIP-S, RefCLIP-S, R-precision, recall@k", _eval,
                     group="eval", seed=True,
                     description="Score how well captions match images with a dual encoder: the shipped scenes "
                                 "model (default), a 'vislang train dual-encoder' run, or CLIP ViT-B/32 weights.",
                     epilog=EVAL_EPILOG)
    e.add_argument("--images", required=True, metavar="SOURCE", help="image folder, zip or .npz")
    e.add_argument("--captions", required=True, metavar="FILE", help="one caption per image (candidates)")
    e.add_argument("--refs", metavar="FILE", help="reference captions, for RefCLIP-S")
    e.add_argument("--model", default="scenes", metavar="RUN|scenes|clip-vit-b32",
                   help="dual encoder: 'scenes' (shipped, default), a run folder or model file, or clip-vit-b32")
    e.add_argument("--clip-weights", metavar="FILE", help="OpenAI ViT-B-32.pt (else the weight registry)")
    e.add_argument("--clip-bpe", metavar="FILE", help="CLIP's bpe_simple_vocab_16e6.txt.gz (needed for clip-vit-b32)")
    e.add_argument("--prefix", default=None,
                   help="text prefix for CLIP-S (default 'A photo depicts' for clip-vit-b32, none for vislang models)")
    e.add_argument("--per-item", metavar="FILE", help="write per-image scores as JSON lines")
    e.add_argument("--out", metavar="FILE", help="write the result JSON here (default: print it)")
    e.add_argument("--distractors", type=int, default=99, help="R-precision distractors (default 99)")
    e.add_argument("--device", help="cpu or cuda (default: cuda when available)")


def _train(args: argparse.Namespace) -> int:
    import json

    from vislang.cli._runs import config_fields
    from vislang.errors import ConfigError
    from vislang.train.dual_encoder import DualTrainConfig, export, train

    if args.export:
        if not args.out:
            raise ConfigError("--export RUN needs --out FILE (the model file to write)")
        path = export(args.export, args.out)
        if not args.quiet:
            print(json.dumps({"exported": str(path)}))
        return 0
    given = config_fields(args, DualTrainConfig, _RESUMABLE)
    result = train(DualTrainConfig(**given), resume=bool(args.resume))
    if not args.quiet:
        print(json.dumps(result))
    return 0


def _encoder(args, device):
    """``(embed_images(uint8) -> N x D, embed_texts(list[str]) -> N x D, image size, default prefix, provenance)``."""
    import torch

    if args.model == "clip-vit-b32":
        from vislang.models import clip

        model, meta = clip.load_clip("ViT-B/32", path=args.clip_weights, device=device)
        tok = clip.tokenizer_from_file(args.clip_bpe)

        def images(x):
            return model.encode_image(clip.preprocess(x.to(device))).float().cpu()

        def texts(caps):
            return model.encode_text(tok(caps).to(device)).float().cpu()

        # images are read at 224 x 224 (bicubic) so a folder of mixed sizes stacks; preprocess then normalises
        return images, texts, model.config.image_resolution, clip.PREFIX, {"model": "clip-vit-b32", **meta}
    from vislang.train.dual_encoder import embed, load_dual_encoder

    model, vocab, meta = load_dual_encoder(args.model, device=device)
    return (lambda x: embed(model, vocab, images=x)[0], lambda c: embed(model, vocab, captions=c)[1],
            model.config.image_size, None,
            {"model": "scenes" if args.model == "scenes" else str(args.model), "model_sha256": meta["sha256"]})


def _eval(args: argparse.Namespace) -> int:
    import json

    import torch

    from vislang.data.captions import load_candidates, load_references
    from vislang.data.images import open_images
    from vislang.errors import ConfigError, InputError
    from vislang.fileio import atomic_write, write_json
    from vislang.metrics.base import provenance
    from vislang.metrics.consistency import CLIPScore, retrieval_scores, with_prefix
    from vislang.progress import info
    from vislang.train.caption_data import image_id_for

    if args.distractors < 1:
        raise ConfigError(f"--distractors {args.distractors}: use 1 or more")
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    embed_images, embed_texts, size, default_prefix, prov = _encoder(args, device)
    prefix = default_prefix if args.prefix is None else args.prefix
    cands = load_candidates(args.captions)
    refs = load_references(args.refs) if args.refs else None
    src = open_images(args.images, size=size, resize="bicubic" if size else None)
    ids = [image_id_for(n) for n in src.names]
    keyed = {str(k): k for k in cands}
    matched = [j for j, i in enumerate(ids) if str(i) in keyed]
    if not matched:
        raise InputError(f"{args.captions}: no caption id matches an image of {args.images} "
                         f"(first image id {ids[0]!r}, first caption id {next(iter(cands), None)!r})")
    images = src.load()[torch.tensor(matched)]
    mids = [keyed[str(ids[j])] for j in matched]
    captions = [cands[k] for k in mids]
    img = embed_images(images)
    txt = embed_texts(with_prefix(captions, prefix))
    ref_embs = None
    if refs is not None:
        rkeyed = {str(k): k for k in refs}
        lacking = [k for k in mids if str(k) not in rkeyed or not refs[rkeyed[str(k)]]]
        if lacking:
            raise InputError(f"{args.refs}: no references for image id {lacking[0]!r} ({len(lacking)} such ids)")
        ref_embs = [embed_texts(with_prefix(list(refs[rkeyed[str(k)]]), prefix)) for k in mids]
    metric = CLIPScore(keep_items=bool(args.per_item))
    metric.update(img, txt, ref_embs)
    res = metric.compute()
    per_item = res.pop("per_item", None)
    if len(mids) >= 2:
        res.update(retrieval_scores(img, txt, distractors=args.distractors, seed=args.seed))
    res["provenance"] = provenance(**prov, prefix=prefix or "", images=str(args.images), captions=str(args.captions),
                                   refs=str(args.refs) if args.refs else None, n_images=len(mids),
                                   unmatched_images=len(ids) - len(mids), seed=args.seed,
                                   scales="CLIP-S: 2.5*max(cos,0) (Hessel et al. 2021); CLIP-S_x100: "
                                          "max(100*cos,0) (torchmetrics)")
    if args.per_item:
        with atomic_write(args.per_item, "w") as fh:
            for n, k in enumerate(mids):
                rec = {"image_id": k, "caption": captions[n], "CLIP-S": per_item["CLIP-S"][n],
                       "CLIP-S_x100": per_item["CLIP-S"][n] * 40.0}
                if "RefCLIP-S" in per_item:
                    rec["RefCLIP-S"] = per_item["RefCLIP-S"][n]
                fh.write(json.dumps(rec) + "\n")
    if args.out:
        write_json(args.out, res)
        info(f"wrote {args.out}: CLIP-S {res['CLIP-S']:.4f} over {len(mids)} images")
    else:
        print(json.dumps(res, indent=2))
    return 0
