"""``vislang meta-eval``: metrics held against human judgments; ``vislang meta-eval flickr8k-expert``."""

from __future__ import annotations

import argparse
import sys

EPILOG = """examples:
  vislang meta-eval --metric-scores scores.json --human ratings.csv --n-boot 1000 --seed 0
  vislang meta-eval --metric-scores scores.csv --human ExpertAnnotations.txt --per-rating
  vislang meta-eval flickr8k-expert --data ../shared/data/flickr8k

metric scores: JSON {metric: {item_id: score}} (score_captions' per_item) or CSV item_id,<metric>,...
human: ExpertAnnotations.txt, CrowdFlowerAnnotations.txt, the app export (ratings.csv/.json) or a
CSV item_id,score.  See docs/meta_eval.md."""


def register(commands) -> None:
    p = commands.add("meta-eval", "correlate metric scores with human judgments (Kendall, Spearman, Pearson, "
                     "bootstrap CIs, Krippendorff's alpha)", _run, seed=True,
                     description="Correlate metric scores with human judgments: Kendall tau-b/tau-c, Spearman, "
                                 "Pearson with seeded bootstrap confidence intervals, pairwise accuracy, and "
                                 "inter-rater agreement (Krippendorff's alpha).  'vislang meta-eval "
                                 "flickr8k-expert --data DIR' prints the Flickr8k-Expert table.",
                     epilog=EPILOG)
    p.add_argument("target", nargs="?", choices=["flickr8k-expert"],
                   help="flickr8k-expert: the CLIPScore-protocol table (needs --data)")
    p.add_argument("--data", help="folder holding ExpertAnnotations.txt and Flickr8k.token.txt (flickr8k-expert)")
    p.add_argument("--metric-scores", help="metric scores file (JSON or CSV)")
    p.add_argument("--human", help="human judgments file")
    p.add_argument("--human-format", default="auto",
                   choices=["auto", "flickr8k-expert", "crowdflower", "app", "generic"])
    p.add_argument("--per-rating", action="store_true",
                   help="each rating is its own sample (the Flickr8k-Expert protocol); default: mean per item")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (0: no intervals; default 1000)")
    p.add_argument("--confidence", type=float, default=0.95, help="confidence level (default 0.95)")
    p.add_argument("--out", help="also write the results as JSON here")


def _fmt(v) -> str:
    return "unavailable" if v is None else f"{v:.1f}"


def _run(args: argparse.Namespace) -> int:
    from vislang.errors import InputError

    if args.target == "flickr8k-expert":
        if not args.data:
            raise InputError("meta-eval flickr8k-expert: give --data DIR (the folder with ExpertAnnotations.txt)")
        from vislang.metrics.meta_readers import flickr8k_expert_table

        rows = flickr8k_expert_table(args.data)
        print("Flickr8k-Expert, Kendall tau-c x 100 (Hessel et al. 2021, Table 1 protocol)")
        print(f"{'metric':<10} {'vislang':>11} {'published':>10}")
        for r in rows:
            print(f"{r['metric']:<10} {_fmt(r['vislang']):>11} {'' if r['published'] is None else _fmt(r['published']):>10}")
        if args.out:
            from vislang.fileio import write_json

            write_json(args.out, {"flickr8k_expert_tau_c_x100": rows})
        return 0
    if not args.metric_scores or not args.human:
        raise InputError("meta-eval: give --metric-scores FILE and --human FILE (or 'flickr8k-expert --data DIR')")
    return _correlate(args)


def _correlate(args) -> int:
    import numpy as np

    from vislang.errors import InputError
    from vislang.metrics import meta
    from vislang.metrics.meta_readers import read_human, read_metric_scores

    scores = read_metric_scores(args.metric_scores)
    human, records = read_human(args.human, args.human_format)
    results = {"metrics": {}, "n_boot": args.n_boot, "seed": args.seed, "confidence": args.confidence}
    for name, per in scores.items():
        keys = [k for k in per if k in human]
        if len(keys) < 2:
            raise InputError(f"meta-eval: metric {name!r} shares {len(keys)} item ids with {args.human}; "
                             "the item ids of the two files must match")
        if args.per_rating:
            x = np.array([per[k] for k in keys for _ in human[k]])
            y = np.array([v for k in keys for v in human[k]])
            groups = [k for k in keys for _ in human[k]]
        else:
            x = np.array([per[k] for k in keys])
            y = np.array([float(np.mean(human[k])) for k in keys])
            groups = None
        res = meta.correlate(x, y, n_boot=args.n_boot, confidence=args.confidence, seed=args.seed, groups=groups)
        results["metrics"][name] = {"n_items": len(keys), "n_samples": int(x.size), **res}
    if records:
        table = meta.units_table(records)
        results["krippendorff_alpha"] = {lvl: meta.krippendorff_alpha(table, lvl) for lvl in ("interval", "ordinal")}
    ci = f"{int(args.confidence * 100)}% CI" if args.n_boot else ""
    print(f"{'metric':<14} {'statistic':<18} {'value':>8}  {ci}")
    for name, res in results["metrics"].items():
        for stat in meta.STATISTICS:
            r = res[stat]
            band = f"[{r['ci_low']:.4f}, {r['ci_high']:.4f}]" if "ci_low" in r else ""
            print(f"{name:<14} {stat:<18} {r['value']:>8.4f}  {band}")
    if "krippendorff_alpha" in results:
        a = results["krippendorff_alpha"]
        print(f"Krippendorff's alpha: interval {a['interval']:.4f}, ordinal {a['ordinal']:.4f}")
    if args.out:
        from vislang.fileio import write_json

        write_json(args.out, results)
    sys.stdout.flush()
    return 0
