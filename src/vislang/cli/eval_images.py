"""``vislang eval images`` (FID, KID, IS, precision/recall/density/coverage, Vendi, MS-SSIM diversity)
and ``vislang stats`` (reference statistics of an image set)."""

from __future__ import annotations

import argparse

METRICS_HELP = "fid,kid,is,prdc,vendi,msssim"

EVAL_EPILOG = """\
examples:
  vislang eval images --real data/real --fake samples.npz --out results.json
  vislang eval images --real ref.npz --fake samples/ --metrics fid --extractor inception-tf --resize clean
  torchrun --nproc_per_node 4 -m vislang eval images --real real.zip --fake fake.zip --out r.json

--real and --fake take a folder, .zip, .npz/.npy of images or an image file; --real also takes a
statistics file from 'vislang stats' (or clean-fid's mu/sigma .npz), which serves FID (and KID/PRDC
when made with --features).  Beside every real-vs-fake figure the real-vs-real floor (two seeded
halves of the real set) is reported with the size of each half.  Keys: fid, kid_mean, kid_std,
is_mean, is_std, is_classifier, precision, recall, density, coverage, vendi, msssim_diversity
(lower = more diverse), *_real_floor, *_ci_low/_ci_high (with --bootstrap), n_real, n_fake and the
recipe (extractor, weights_sha256, resize, seed, version).  See docs/image_metrics.md.
"""

STATS_EPILOG = """\
example:
  vislang stats data/real --out ref.npz --extractor inception-tf --resize clean --features

The .npz holds mu, sigma (clean-fid's keys), n and provenance (extractor, weights sha256, resize,
content hash); --features also stores the feature rows (needed for KID and precision/recall with a
statistics file, and for the real-vs-real floor).  Under torchrun extraction is sharded.
"""


def register(commands) -> None:
    p = commands.add("images", "image quality and diversity: FID, KID, IS, precision/recall, Vendi, MS-SSIM",
                     eval_images, group="eval", seed=True, epilog=EVAL_EPILOG,
                     description="Evaluate generated images against real ones with FID, KID, Inception Score, "
                                 "improved precision/recall, density/coverage, Vendi and MS-SSIM diversity; every "
                                 "figure comes with its real-vs-real floor and its recipe.")
    p.add_argument("--real", required=True, help="real images (folder, zip, npz/npy, image) or a statistics .npz")
    p.add_argument("--fake", required=True, help="generated images (folder, zip, npz/npy, image)")
    _extractor_args(p)
    p.add_argument("--metrics", default=METRICS_HELP, help=f"comma-separated subset of {METRICS_HELP} (default all)")
    p.add_argument("--bootstrap", type=int, default=0, metavar="N",
                   help="N bootstrap replicates for 95%% confidence intervals (default 0: none)")
    p.add_argument("--no-real-floor", action="store_true", help="skip the real-vs-real floor")
    p.add_argument("--is-classifier", default=None,
                   help="classifier for IS (default the extractor if it has logits, else mobilenet-v2)")
    p.add_argument("--kid-subset-size", type=int, default=1000, help="KID subset size (default 1000)")
    p.add_argument("--kid-subsets", type=int, default=100, help="KID subsets (default 100)")
    p.add_argument("--msssim-pairs", type=int, default=1000, help="random pairs for MS-SSIM diversity (default 1000)")
    p.add_argument("--out", default=None, help="write the result JSON here (atomically)")

    s = commands.add("stats", "reference statistics (mu, sigma, n, provenance) of an image set's features",
                     stats, seed=False, epilog=STATS_EPILOG,
                     description="Extract features of an image set and store their mean and covariance (and "
                                 "optionally the rows) as a reusable reference .npz for 'vislang eval images'.")
    s.add_argument("source", help="images: folder, zip, npz/npy or image file")
    s.add_argument("--out", required=True, help="output .npz")
    _extractor_args(s)
    s.add_argument("--features", action="store_true", help="also store the feature rows (for KID/PRDC/floor)")


def _extractor_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--extractor", default="inception-tf", help="feature extractor (inception-tf, mobilenet-v2)")
    p.add_argument("--resize", default=None,
                   help="the extractor's named resize (inception-tf: clean (default) or tf1-bilinear)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--batch-size", type=int, default=32, help="extraction batch size (default 32)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the on-disk feature cache")


def _format_table(result: dict) -> str:
    rows = [("metric", "value", "real floor", "95% CI")]
    keys = ["fid", "kid_mean", "kid_std", "is_mean", "is_std", "precision", "recall", "density", "coverage",
            "vendi", "msssim_diversity"]
    for k in keys:
        if k not in result:
            continue
        v = result[k]
        floor = result.get(f"{k}_real_floor")
        ci = (f"[{result[f'{k}_ci_low']:.5g}, {result[f'{k}_ci_high']:.5g}]" if f"{k}_ci_low" in result else "")
        name = k if k not in ("is_mean", "is_std") else k.replace("is", result.get("is_classifier", "IS"), 1)
        rows.append((name, f"{v:.5g}", "" if floor is None else f"{floor:.5g}", ci))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    n = f"n_real={result.get('n_real')}  n_fake={result.get('n_fake')}"
    if "n_real_floor_a" in result:
        n += f"  floor halves={result['n_real_floor_a']}/{result['n_real_floor_b']}"
    lines.append(n)
    lines.append(f"extractor={result.get('extractor')}  resize={result.get('resize')}  "
                 f"weights={str(result.get('weights_sha256'))[:12]}  seed={result.get('seed')}")
    return "\n".join(lines)


def eval_images(args: argparse.Namespace) -> int:
    from vislang.evaluate import evaluate_images
    from vislang.fileio import write_json
    from vislang.train.loop import init_distributed

    dist = init_distributed(args.device)
    result = evaluate_images(
        args.real, args.fake, extractor=args.extractor, resize=args.resize, metrics=args.metrics, seed=args.seed,
        bootstrap=args.bootstrap, device=str(dist.device), batch_size=args.batch_size,
        real_vs_real=not args.no_real_floor, is_classifier=args.is_classifier, msssim_pairs=args.msssim_pairs,
        cache=not args.no_cache, kid_subset_size=args.kid_subset_size, kid_subsets=args.kid_subsets)
    if dist.is_main:
        print(_format_table(result))
        if args.out:
            write_json(args.out, result)
    return 0


def stats(args: argparse.Namespace) -> int:
    from vislang.evaluate import reference_stats
    from vislang.metrics.image.stats import save_stats
    from vislang.progress import info
    from vislang.train.loop import init_distributed

    dist = init_distributed(args.device)
    out = reference_stats(args.source, extractor=args.extractor, resize=args.resize, device=str(dist.device),
                          batch_size=args.batch_size, features=args.features, cache=not args.no_cache)
    if dist.is_main:
        save_stats(args.out, out["mu"], out["sigma"], out["n"], out["provenance"], out["features"])
        info(f"wrote {args.out}: n={out['n']}, dim={out['mu'].shape[0]}, extractor={out['provenance']['extractor']}, "
             f"resize={out['provenance']['resize']}")
    return 0
