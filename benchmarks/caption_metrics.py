"""Caption metrics: vislang vs pycocoevalcap (coco-caption) on the Flickr8k leave-one-out set.

Both sides do the same four steps -- PTB tokenization of references and candidates, BLEU-1..4,
ROUGE-L, CIDEr-D -- on the same 8,092 images (candidate = caption #0, references = the other
captions).  Each side runs in its own fresh Python process per round, and the rounds alternate
(anchor, vislang, anchor, vislang, ...) so that a busy machine slows both alike; the ratios
reported are medians over the rounds, with the load average beside each round.  The scores of
both are compared too.  Peak memory of vislang is measured in one more process of its own (peak
RSS from getrusage, peak traced allocations from tracemalloc).

What is timed, on each side: Python imports are NOT timed for either (pycocoevalcap's modules are
imported before its clock starts; vislang's -- ``vislang.metrics.text``, which imports its scorer
modules and numpy, plus torch -- are timed apart and printed as "+ imports").  Everything a call
does is timed: for pycocoevalcap that includes starting the JVM (twice, one tokenizer call for
references and one for candidates); for vislang, "first call" is the first ``score_captions`` of a
fresh process, so it includes parsing and compiling the tokenizer's lexer rules that it needs and
every other first-use cost; "later calls" clear the tokenization cache and score again (best of 3).

    python benchmarks/caption_metrics.py [--rounds 5] [--token-file ../shared/data/flickr8k/Flickr8k.token.txt]

Goal (issue 3): at least 15x faster than pycocoevalcap, peak memory under 1 GB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TOKENS = REPO.parent / "shared" / "data" / "flickr8k" / "Flickr8k.token.txt"
KEYS = ["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "ROUGE_L", "CIDEr"]

CHILD = r"""
import json, resource, sys, time, tracemalloc
sys.path.insert(0, sys.argv[2])
from caption_metrics import leave_one_out
refs, cands = leave_one_out(sys.argv[1])
mode = sys.argv[3]
if mode == "memory":  # tracemalloc slows allocation-heavy code a lot: a separate run
    tracemalloc.start()
t0 = time.perf_counter()
from vislang.metrics.text import score_captions
from vislang.metrics.text import tokenizer
import numpy, torch  # provenance() records torch's version, importing it
imports = time.perf_counter() - t0
t0, c0 = time.perf_counter(), time.process_time()
cold_scores = score_captions(refs, cands)
cold, cold_cpu = time.perf_counter() - t0, time.process_time() - c0
out = {"imports": imports, "cold": cold, "cold_cpu": cold_cpu, "scores": {k: cold_scores[k] for k in %r}}
if mode == "memory":
    out["peak_traced"] = tracemalloc.get_traced_memory()[1]
else:
    warm, warm_cpu = [], []
    for _ in range(3):
        tokenizer.clear_cache()  # tokenize from scratch again; only the compiled rules are kept
        t, c = time.perf_counter(), time.process_time()
        score_captions(refs, cands)
        warm.append(time.perf_counter() - t)
        warm_cpu.append(time.process_time() - c)
    out["warm"], out["warm_cpu"] = min(warm), min(warm_cpu)
out["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(out))
""" % (KEYS,)


ANCHOR_CHILD = r"""
import json, sys
sys.path.insert(0, sys.argv[2])
from caption_metrics import leave_one_out, pycocoevalcap_four_steps
import pycocoevalcap.bleu.bleu, pycocoevalcap.cider.cider, pycocoevalcap.rouge.rouge
import pycocoevalcap.tokenizer.ptbtokenizer
refs, cands = leave_one_out(sys.argv[1])
total, t_tok, scores, cpu = pycocoevalcap_four_steps(refs, cands)
print(json.dumps({"total": total, "tok": t_tok, "cpu": cpu, "scores": scores}))
"""


def leave_one_out(token_file):
    """The Flickr8k leave-one-out set: :func:`vislang.data.captions.leave_one_out` of the token file."""
    from vislang.data.captions import leave_one_out as split, load_flickr8k

    return split(load_flickr8k(token_file))


def pycocoevalcap_four_steps(refs, cands):
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    gts = {i: [{"caption": r} for r in refs[i]] for i in refs}
    res = {i: [{"caption": cands[i]}] for i in refs}
    t0, c0, j0 = time.perf_counter(), time.process_time(), _children_cpu()
    tok = PTBTokenizer()
    gts, res = tok.tokenize(gts), tok.tokenize(res)
    t_tok = time.perf_counter() - t0
    b, _ = Bleu(4).compute_score(gts, res, verbose=0)
    r, _ = Rouge().compute_score(gts, res)
    c, _ = Cider().compute_score(gts, res)
    total = time.perf_counter() - t0
    cpu = time.process_time() - c0 + _children_cpu() - j0  # Python + the Java tokenizer processes
    scores = {f"Bleu_{k + 1}": b[k] for k in range(4)}
    scores.update(ROUGE_L=float(r), CIDEr=float(c))
    return total, t_tok, scores, cpu


def _children_cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _median(xs: list) -> float:
    xs = sorted(xs)
    k = len(xs) // 2
    return xs[k] if len(xs) % 2 else (xs[k - 1] + xs[k]) / 2


def main() -> int:
    import os

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--token-file", default=str(DEFAULT_TOKENS))
    ap.add_argument("--rounds", type=int, default=5, help="alternating anchor/vislang rounds (default 5)")
    args = ap.parse_args()
    refs, cands = leave_one_out(args.token_file)
    print(f"Flickr8k leave-one-out: {len(cands)} images, {sum(map(len, refs.values()))} references")
    here = str(Path(__file__).parent)

    def child(script, *extra):
        res = subprocess.run([sys.executable, "-c", script, args.token_file, here, *extra],
                             capture_output=True, text=True, check=True)
        return json.loads(res.stdout.strip().splitlines()[-1])

    load0 = os.getloadavg()[0]
    print(f"load average before: {load0:.1f} on {os.cpu_count()} CPUs; {args.rounds} rounds, each a fresh "
          "process for pycocoevalcap then one for vislang")
    print(f"{'round':>5} {'load':>5} | {'pycocoevalcap wall / CPU':>24} | {'vislang first wall / CPU':>24} | "
          f"{'later':>7} | {'ratio first (wall / CPU)':>24} | {'ratio later':>11}")
    rows = []
    for r in range(args.rounds):
        load = os.getloadavg()[0]
        a = child(ANCHOR_CHILD)
        v = child(CHILD, "time")
        row = {"load": load, "anchor": a["total"], "anchor_cpu": a["cpu"], "first": v["cold"],
               "first_cpu": v["cold_cpu"], "warm": v["warm"], "warm_cpu": v["warm_cpu"], "imports": v["imports"]}
        row.update(r_first=row["anchor"] / row["first"], r_first_cpu=row["anchor_cpu"] / row["first_cpu"],
                   r_warm=row["anchor"] / row["warm"], r_warm_cpu=row["anchor_cpu"] / row["warm_cpu"])
        rows.append(row)
        print(f"{r + 1:>5} {load:>5.1f} | {row['anchor']:>10.2f} s / {row['anchor_cpu']:>7.2f} s | "
              f"{row['first']:>10.3f} s / {row['first_cpu']:>7.3f} s | {row['warm']:>5.3f} s | "
              f"{row['r_first']:>10.1f}x / {row['r_first_cpu']:>9.1f}x | {row['r_warm']:>10.1f}x", flush=True)
        anchor_scores, our_scores = a["scores"], v["scores"]
    mem = child(CHILD, "memory")
    med = {k: _median([row[k] for row in rows]) for k in rows[0]}
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print(f"median over {len(rows)} rounds: pycocoevalcap {med['anchor']:.2f} s (CPU {med['anchor_cpu']:.2f} s); "
          f"vislang first call {med['first']:.3f} s (CPU {med['first_cpu']:.3f} s; + {med['imports']:.2f} s "
          f"importing vislang, numpy and torch), later calls {med['warm']:.3f} s")
    print(f"speed-up, median of the per-round ratios: first call {med['r_first']:.1f}x wall / "
          f"{med['r_first_cpu']:.1f}x CPU (lowest round {min(r['r_first'] for r in rows):.1f}x); later calls "
          f"{med['r_warm']:.1f}x wall / {med['r_warm_cpu']:.1f}x CPU; goal >= 15x")
    print(f"vislang peak memory: RSS {mem['peak_rss'] / 2**20:.0f} MiB (whole process: Python, numpy, torch, data), "
          f"traced allocations {mem['peak_traced'] / 2**20:.0f} MiB; goal < 1024 MiB")
    worst = max(abs(our_scores[k] - anchor_scores[k]) for k in KEYS)
    print(f"largest corpus-score difference to pycocoevalcap: {worst:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
