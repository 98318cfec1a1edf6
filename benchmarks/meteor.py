"""METEOR 1.5: vislang's pure-Python scorer against meteor-1.5.jar (the anchor, run by pycocoevalcap)
on the Flickr8k leave-one-out set, parity and speed measured in the same run.

    python benchmarks/meteor.py [--rounds 3] [--workers 2,1] [--limit N] [--token-file PATH]

Set: candidate = caption #0 of each image with >= 2 captions, references = its other captions,
both tokenised by pycocoevalcap's PTBTokenizer (the input pycocoevalcap's METEOR receives).
Anchor time: ``Meteor()`` + ``compute_score`` (JVM start, resource loading, scoring), as a user
of pycocoevalcap pays it.  vislang time: a fresh Python process (interpreter start, imports,
loading the resources from the vislang cache on disk -- built before timing if missing -- and
scoring), timed from outside, end to end; its own split (imports + cache load, scoring) is printed
too.  vislang's modules are byte-compiled before timing, as pip does when it installs a package and
Python does on a first import unless ``PYTHONDONTWRITEBYTECODE`` is set (it is on the machine the
figures in docs/benchmarks.md come from); the jar's classes are shipped compiled too.  vislang runs
once per round for each ``--workers`` value (default ``2,1``: two scoring processes, the caller and
one forked copy, vislang's default on a 2-core machine, then one); its CPU time includes the forked
process, as the jar's includes all JVM threads.  The runs are interleaved (jar, vislang,
vislang, jar, ...) so a busy machine slows all alike; the ratios reported are those of the
medians over the rounds, next to the load averages.

Every vislang run is checked against the jar run of its round: corpus difference (acceptance
<= 5e-4), per-caption Pearson (>= 0.999), share of captions within 1e-4 (>= 95%) and identical.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import vislang

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TOKENS = REPO.parent / "shared" / "data" / "flickr8k" / "Flickr8k.token.txt"

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from vislang.metrics.text.meteor import meteor_score
from vislang.metrics.text.meteor_resources import load_resources
load_resources()
t1 = time.perf_counter()
data = json.load(open(sys.argv[1]))
t2 = time.perf_counter()
corpus, per = meteor_score(data["gts"], {k: v[0] for k, v in data["res"].items()}, workers=int(sys.argv[3]))
t3 = time.perf_counter()
with open(sys.argv[2], "w") as f:
    json.dump({"corpus": corpus, "per": per, "load_s": t1 - t0, "score_s": t3 - t2,
               "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               "max_rss_workers_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}, f)
"""


def leave_one_out(token_file: Path) -> tuple[dict, dict]:
    """The Flickr8k leave-one-out set: :func:`vislang.data.captions.leave_one_out` of the token file."""
    from vislang.data.captions import leave_one_out as split, load_flickr8k

    return split(load_flickr8k(token_file))


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_jar(gts: dict, res: dict) -> tuple[float, float, float, dict]:
    """(wall s, CPU s of the JVM, corpus, {id: score}) of one pycocoevalcap METEOR run."""
    from pycocoevalcap.meteor.meteor import Meteor

    c0 = _children_cpu()
    t = time.perf_counter()
    meteor = Meteor()
    corpus, scores = meteor.compute_score(gts, res)
    wall = time.perf_counter() - t
    del meteor  # pycocoevalcap's __del__ ends and reaps the JVM, so its CPU time is counted
    return wall, _children_cpu() - c0, corpus, dict(zip(gts.keys(), scores))


def run_vislang(data_path: str, workers: int) -> tuple[float, float, dict]:
    """(wall s, CPU s incl. its workers, child's report) of one fresh vislang process, end to end."""
    with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
        c0 = _children_cpu()
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", CHILD, data_path, out.name, str(workers)], check=True,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
        wall = time.perf_counter() - t
        cpu = _children_cpu() - c0
        return wall, cpu, json.load(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved jar/vislang rounds (default 3)")
    ap.add_argument("--workers", default="2,1",
                    help="comma-separated vislang worker counts, each timed every round (default 2,1)")
    ap.add_argument("--limit", type=int, default=0, help="first N images only (default: all)")
    ap.add_argument("--token-file", type=Path, default=DEFAULT_TOKENS)
    args = ap.parse_args()

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
    compileall.compile_dir(str(Path(vislang.__file__).parent), quiet=1)  # a one-off, as at install

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump({"gts": gts, "res": res}, fh)
        data_path = fh.name
    worker_counts = [int(w) for w in args.workers.split(",")]
    jar_w, jar_c, loads = [], [], []
    vis_w = {w: [] for w in worker_counts}
    vis_c = {w: [] for w in worker_counts}
    try:
        for k in range(args.rounds):
            load0 = os.getloadavg()
            jw, jc, jar_corpus, jar = run_jar(gts, res)
            jar_w.append(jw)
            jar_c.append(jc)
            print(f"round {k + 1}: load average {load0[0]:.2f} | jar {jw:.2f} s wall / {jc:.2f} s CPU", flush=True)
            b = np.array([jar[i] for i in gts])
            for w in worker_counts:
                vw, vc, ours = run_vislang(data_path, w)
                vis_w[w].append(vw)
                vis_c[w].append(vc)
                a = np.array([ours["per"][i] for i in gts])
                diff = np.abs(a - b)
                print(f"  vislang workers={w}: {vw:.2f} s wall / {vc:.2f} s CPU (imports + cache load "
                      f"{ours['load_s']:.2f} s, scoring {ours['score_s']:.2f} s, peak RSS {ours['max_rss_mb']:.0f} MB, "
                      f"largest worker's {ours['max_rss_workers_mb']:.0f} MB) | ratio {jw / vw:.2f}x wall, {jc / vc:.2f}x CPU", flush=True)
                print(f"    parity: corpus jar {jar_corpus:.10f} vislang {ours['corpus']:.10f} "
                      f"|diff| {abs(jar_corpus - ours['corpus']):.3g} (<= 5e-4); Pearson "
                      f"{np.corrcoef(a, b)[0, 1]:.9f} (>= 0.999); within 1e-4 {100 * (diff <= 1e-4).mean():.2f}% "
                      f"(>= 95%); identical {100 * (diff == 0).mean():.2f}%; max |diff| {diff.max():.3g}",
                      flush=True)
            loads.append(load0[0])
            loads.append(os.getloadavg()[0])
    finally:
        Path(data_path).unlink()
    med = statistics.median
    print(f"medians over {args.rounds} rounds (1-minute load average {min(loads):.2f}-{max(loads):.2f} on "
          f"{os.cpu_count()} CPUs): jar {med(jar_w):.2f} s wall / {med(jar_c):.2f} s CPU")
    for w in worker_counts:
        print(f"  vislang workers={w}: {med(vis_w[w]):.2f} s wall / {med(vis_c[w]):.2f} s CPU; speed ratio "
              f"jar/vislang {med(jar_w) / med(vis_w[w]):.2f}x wall, {med(jar_c) / med(vis_c[w]):.2f}x CPU "
              f"(goal >= 10x)")


if __name__ == "__main__":
    main()
