"""METEOR 1.5: vislang's pure-Python scorer against meteor-1.5.jar (the anchor, run by pycocoevalcap)
on the Flickr8k leave-one-out set, parity and speed measured in the same run.

    python benchmarks/meteor.py [--limit N] [--token-file PATH]

Set: candidate = caption #0 of each image with >= 2 captions, references = its other captions,
both tokenised by pycocoevalcap's PTBTokenizer (the input pycocoevalcap's METEOR receives).
Anchor time: ``Meteor()`` + ``compute_score`` (JVM start, resource loading, scoring), as a user
of pycocoevalcap pays it.  vislang time: a fresh Python process that imports the module, loads
the resources from the vislang cache (built before timing if missing) and scores the set.

Prints corpus difference (acceptance <= 5e-4), per-caption Pearson (>= 0.999), share of
captions within 1e-4 (>= 95%), and the speed ratio (goal >= 10x).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TOKENS = REPO.parent / "shared" / "data" / "flickr8k" / "Flickr8k.token.txt"

CHILD = r"""
import json, resource, sys, time
c0 = time.process_time()
t0 = time.perf_counter()
from vislang.metrics.text.meteor import meteor_score
from vislang.metrics.text.meteor_resources import load_resources
load_resources()
t1 = time.perf_counter()
data = json.load(open(sys.argv[1]))
t2 = time.perf_counter()
corpus, per = meteor_score(data["gts"], {k: v[0] for k, v in data["res"].items()})
t3 = time.perf_counter()
cpu = time.process_time() - c0
print(json.dumps({"cpu_s": cpu, "corpus": corpus, "per": per, "load_s": t1 - t0, "score_s": t3 - t2,
                  "total_s": (t1 - t0) + (t3 - t2),
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def leave_one_out(token_file: Path) -> tuple[dict, dict]:
    caps: dict[str, list] = {}
    for line in token_file.read_text(encoding="utf-8").splitlines():
        if "\t" in line:
            key, cap = line.split("\t", 1)
            img, k = key.rsplit("#", 1)
            caps.setdefault(img, []).append((int(k), cap))
    refs, cands = {}, {}
    for img, lst in caps.items():
        lst.sort()
        if len(lst) >= 2:
            cands[img], refs[img] = lst[0][1], [c for _, c in lst[1:]]
    return refs, cands


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=0, help="first N images only (default: all)")
    ap.add_argument("--token-file", type=Path, default=DEFAULT_TOKENS)
    args = ap.parse_args()

    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    from vislang.metrics.text.meteor_resources import load_resources

    refs, cands = leave_one_out(args.token_file)
    ids = list(refs)[: args.limit or None]
    tok = PTBTokenizer()
    gts = tok.tokenize({i: [{"caption": c} for c in refs[i]] for i in ids})
    res = tok.tokenize({i: [{"caption": cands[i]}] for i in ids})
    print(f"images: {len(ids)}; references: {sum(len(v) for v in gts.values())}", flush=True)

    t = time.perf_counter()
    load_resources()  # builds the cache if missing (not timed; a one-off)
    print(f"vislang cache ready ({time.perf_counter() - t:.1f} s in this process)", flush=True)

    import resource

    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    meteor = Meteor()
    jar_corpus, jar_scores = meteor.compute_score(gts, res)
    jar_s = time.perf_counter() - t
    del meteor  # pycocoevalcap's __del__ ends and reaps the JVM, so its CPU time is counted below
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    jar_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    jar = dict(zip(gts.keys(), jar_scores))

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump({"gts": gts, "res": res}, fh)
        data_path = fh.name
    try:
        out = subprocess.run([sys.executable, "-c", CHILD, data_path], capture_output=True, text=True, check=True)
    finally:
        Path(data_path).unlink()
    ours = json.loads(out.stdout)

    a = np.array([ours["per"][i] for i in gts])
    b = np.array([jar[i] for i in gts])
    diff = np.abs(a - b)
    ratio = jar_s / ours["total_s"]
    print(f"corpus METEOR: jar {jar_corpus:.10f}  vislang {ours['corpus']:.10f}  "
          f"|diff| {abs(jar_corpus - ours['corpus']):.3g}  (acceptance <= 5e-4)")
    print(f"per caption: Pearson {np.corrcoef(a, b)[0, 1]:.9f} (>= 0.999); within 1e-4: "
          f"{100 * (diff <= 1e-4).mean():.2f}% (>= 95%); identical: {100 * (diff == 0).mean():.2f}%; "
          f"max |diff| {diff.max():.3g}")
    print(f"time: jar {jar_s:.2f} s (JVM start + resources + scoring); vislang {ours['total_s']:.2f} s "
          f"(import + cache load {ours['load_s']:.2f} s + scoring {ours['score_s']:.2f} s); "
          f"peak RSS {ours['max_rss_mb']:.0f} MB")
    print(f"CPU seconds: jar (JVM, all threads) {jar_cpu:.2f} s; vislang {ours['cpu_s']:.2f} s; "
          f"ratio {jar_cpu / ours['cpu_s']:.2f}x")
    print(f"speed ratio jar/vislang (wall): {ratio:.2f}x (goal >= 10x)")


if __name__ == "__main__":
    main()
