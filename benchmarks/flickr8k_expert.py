"""Flickr8k-Expert meta-evaluation: vislang's Kendall tau-c x 100 beside Hessel et al. (2021), Table 1.

    python benchmarks/flickr8k_expert.py [--data ../shared/data/flickr8k]

Prints each metric's correlation, its difference from the published figure (acceptance: within 0.2),
and the wall time of scoring the 5,664 pairs with all caption metrics (anchor: the same pairs scored
with BLEU only, measured in the same run).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "flickr8k"))
    args = ap.parse_args(argv)

    from vislang.metrics.meta_readers import flickr8k_expert_pairs, flickr8k_expert_table
    from vislang.metrics.text import score_captions

    refs, cands, _ = flickr8k_expert_pairs(args.data)
    t = time.perf_counter()
    score_captions(refs, cands, metrics=["bleu"], per_item=True)
    anchor = time.perf_counter() - t
    t = time.perf_counter()
    rows = flickr8k_expert_table(args.data)
    wall = time.perf_counter() - t
    ok = True
    print(f"{'metric':<9} {'vislang':>8} {'published':>9} {'diff':>6}")
    for r in rows:
        v, p = r["vislang"], r["published"]
        diff = "" if v is None or p is None else f"{v - p:+.2f}"
        if v is not None and p is not None and abs(v - p) > 0.2:
            ok = False
        print(f"{r['metric']:<9} {'unavailable' if v is None else f'{v:.2f}':>8} {'' if p is None else p:>9} {diff:>6}")
    print(f"pairs={len(refs)} table wall={wall:.1f}s anchor (BLEU only)={anchor:.1f}s ratio={wall / anchor:.1f}x")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
