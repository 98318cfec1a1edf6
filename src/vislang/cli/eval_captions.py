"""``vislang eval captions``: BLEU-1..4, METEOR, ROUGE-L, CIDEr-D and caption diversity from files."""

from __future__ import annotations

import argparse

EPILOG = """\
REFS may be COCO caption annotations, a Karpathy dataset_*.json, a Flickr8k token file or JSONL
(detected automatically); PREDS is a COCO results file [{"image_id": ..., "caption": ...}, ...]
(or JSONL).  Both must cover the same images.  Scores equal pycocoevalcap's (coco-caption) without
Java; see docs/caption_metrics.md.

example:
  vislang eval captions --refs captions_val2014.json --preds results.json \\
      --metrics bleu,rouge_l,cider_d,diversity --out scores.json --per-item per_image.json
"""


def register(commands) -> None:
    p = commands.add(
        "captions", "score generated captions against references (BLEU, METEOR, ROUGE-L, CIDEr-D, diversity)",
        run, group="eval",
        description="Score candidate captions against reference captions with the coco-caption metrics "
                    "(identical to pycocoevalcap, pure Python) and caption diversity measures.",
        epilog=EPILOG)
    p.add_argument("--refs", required=True, metavar="REFS", help="reference captions (any caption format)")
    p.add_argument("--preds", required=True, metavar="PREDS", help="candidate captions: a COCO results file")
    p.add_argument("--metrics", default="bleu,rouge_l,cider_d", metavar="LIST",
                   help="comma-separated: bleu, meteor, rouge_l, cider_d, diversity (default: bleu,rouge_l,cider_d)")
    p.add_argument("--per-item", metavar="FILE", help="also write per-image scores as JSON {metric: {image_id: score}}")
    p.add_argument("--out", metavar="FILE", help="write the scores with their provenance as JSON")
    p.add_argument("--train-captions", metavar="FILE",
                   help="training captions (any caption format) for the diversity measure 'novelty'")
    p.add_argument("--workers", type=int, metavar="N",
                   help="METEOR scoring processes (default: $VISLANG_METEOR_WORKERS, else min(2, CPU cores); one for "
                        "fewer than 400 captions); the scores are the same for any N")


def _table(result: dict) -> str:
    rows = [(k, v) for k, v in result.items() if k not in ("provenance", "per_item")]
    width = max(len(k) for k, _ in rows)
    lines = []
    for k, v in rows:
        if isinstance(v, float):
            lines.append(f"{k:<{width}}  {v:.4f}")
        else:
            lines.append(f"{k:<{width}}  {v}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from vislang.data.captions import check_pairing, load_candidates, load_references
    from vislang.errors import ConfigError
    from vislang.fileio import sha256_file, write_json
    from vislang.metrics.text.score import normalize_metrics, score_captions
    from vislang.progress import info

    metrics = normalize_metrics(args.metrics)
    refs = load_references(args.refs)
    cands = load_candidates(args.preds)
    check_pairing(refs, cands, refs_name=str(args.refs), cands_name=str(args.preds))
    train = None
    if args.train_captions:
        if "diversity" not in metrics:
            raise ConfigError("--train-captions is only used by the 'diversity' metric; add it to --metrics")
        train = [c for caps in load_references(args.train_captions).values() for c in caps]
    info(f"scoring {len(cands)} images with {', '.join(metrics)}")
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers {args.workers}: give 1 or more processes")
    result = score_captions(refs, cands, metrics=metrics, per_item=bool(args.per_item), train_captions=train,
                            meteor_workers=args.workers)
    per = result.pop("per_item", None)
    result["provenance"].update(refs=str(args.refs), refs_sha256=sha256_file(args.refs), preds=str(args.preds),
                                preds_sha256=sha256_file(args.preds))
    if args.train_captions:
        result["provenance"].update(train_captions=str(args.train_captions))
    print(_table(result))
    if args.out:
        write_json(args.out, _jsonable(result))
    if args.per_item:
        write_json(args.per_item, {"per_item": {m: {str(i): s for i, s in d.items()} for m, d in per.items()},
                                   "provenance": result["provenance"]})
    return 0


def _jsonable(result: dict) -> dict:
    """NaN (e.g. self-BLEU of a single caption) becomes null: JSON has no NaN."""
    import math

    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in result.items()}
